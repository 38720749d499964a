package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/gafferhq/gaffer/internal/config"
)

// FromConfig turns gafferd's [cluster] section, with the --cluster URL and
// --cluster-embedded flags applied over it (a flag replaces the file's url
// or embedded), into Options. ok is false when neither asks for a cluster.
// The TLS files are read here, so a bad one is reported before starting.
func FromConfig(c *config.Cluster, flagURL string, flagEmbedded bool) (opts Options, ok bool, err error) {
	var cc config.Cluster
	if c != nil {
		cc = *c
	}
	switch {
	case flagURL != "" && flagEmbedded:
		return opts, false, errors.New("--cluster and --cluster-embedded: give one, not both")
	case flagURL != "":
		cc.URL, cc.Embedded, cc.Listen = flagURL, false, ""
	case flagEmbedded:
		cc.URL, cc.Embedded = "", true
	case c == nil:
		return opts, false, nil
	}
	if errs := cc.Validate(); len(errs) > 0 {
		return opts, false, fmt.Errorf("[cluster]: %w", errors.Join(errs...))
	}
	opts = Options{URL: cc.URL, Embedded: cc.Embedded, Listen: cc.Listen, Name: cc.Name,
		CredsFile: cc.Credentials, NKeySeedFile: cc.NKey}
	if cc.CACerts != "" || cc.CertFile != "" {
		if opts.TLS, err = clientTLS(cc.CACerts, cc.CertFile, cc.KeyFile); err != nil {
			return opts, false, err
		}
	}
	return opts, true, nil
}

// clientTLS is the TLS configuration to join a NATS server: its CAs, and a
// client certificate when the server asks for one.
func clientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("[cluster] ca_certs: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("[cluster] ca_certs %s: no PEM certificate in it", caFile)
		}
	}
	if certFile != "" {
		if keyFile == "" {
			keyFile = certFile
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("[cluster] certfile %s, keyfile %s: %w", certFile, keyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Ref stands for a Node that is started after the handlers that use it
// (the REST API is this node's control handler, and serves /cluster): Set
// it once the node runs. Before that it lists no node and reaches none.
type Ref struct {
	mu   sync.Mutex
	node *Node
}

// Set makes r stand for n.
func (r *Ref) Set(n *Node) {
	r.mu.Lock()
	r.node = n
	r.mu.Unlock()
}

func (r *Ref) get() *Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.node
}

// Nodes is Node.Nodes, or nothing before Set.
func (r *Ref) Nodes() []NodeInfo {
	if n := r.get(); n != nil {
		return n.Nodes()
	}
	return []NodeInfo{}
}

// Do is Node.Do, or ErrUnknownNode before Set.
func (r *Ref) Do(ctx context.Context, node string, req *http.Request) (*http.Response, error) {
	if n := r.get(); n != nil {
		return n.Do(ctx, node, req)
	}
	return nil, fmt.Errorf("%w: %q (not connected to the cluster yet)", ErrUnknownNode, node)
}
