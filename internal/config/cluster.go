package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Cluster is [cluster]: this gafferd as a node of a NATS cluster. nil in
// Config when the section is absent. Relative paths are relative to the
// directory of the file that names them.
type Cluster struct {
	URL         string // url: NATS server(s) to join, comma-separated nats:// or tls:// URLs
	Embedded    bool   // embedded: run a NATS server in gafferd (other nodes join it)
	Listen      string // listen: the embedded server's host:port; "" = 127.0.0.1:4222
	Name        string // name: node name; "" = the host name
	Credentials string // credentials: NATS user credentials file (JWT + seed)
	NKey        string // nkey: file holding an NKey user seed
	CACerts     string // ca_certs: CAs that sign the NATS server's certificate (PEM)
	CertFile    string // certfile: client certificate (PEM), when the server asks for one
	KeyFile     string // keyfile: its private key; default: in CertFile
}

// cluster decodes [cluster].
func (b *builder) cluster(sec *section) {
	c := &Cluster{}
	b.eachValue(sec, func(k string, e *entry, v string) {
		if p := tlsFile(k, &c.CertFile, &c.KeyFile, &c.CACerts); p != nil {
			*p = relPath(e, v)
			return
		}
		switch k {
		case "url":
			c.URL = v
		case "embedded":
			on, err := parseBool(v)
			if err != nil {
				b.fail(e.pos, sec.name, e.name, err)
			}
			c.Embedded = on
		case "listen":
			c.Listen = v
		case "name":
			c.Name = v
		case "credentials":
			c.Credentials = relPath(e, v)
		case "nkey":
			c.NKey = relPath(e, v)
		default:
			b.warn(e.pos, sec.name, e.name, "unknown key, ignored")
		}
	})
	for _, err := range c.Validate() {
		var ce *ClusterError
		key := ""
		if errors.As(err, &ce) {
			key = ce.Key
		}
		if errors.Is(err, ErrMissing) && key == "url" {
			continue // --cluster or --cluster-embedded may give it: checked at start
		}
		b.fail(sec.pos, sec.name, key, err)
	}
	b.cfg.Cluster = c
}

// ClusterError is a problem of one key of [cluster].
type ClusterError struct {
	Key string
	Err error
}

func (e *ClusterError) Error() string { return e.Err.Error() }
func (e *ClusterError) Unwrap() error { return e.Err }

// Validate returns every problem of c, each a *ClusterError naming the key.
// It is also what gafferd checks after applying --cluster and
// --cluster-embedded.
func (c *Cluster) Validate() []error {
	var errs []error
	bad := func(key string, sentinel error, format string, a ...any) {
		errs = append(errs, &ClusterError{Key: key, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, a...)...)})
	}
	switch {
	case c.URL == "" && !c.Embedded:
		bad("url", ErrMissing, "[cluster] needs url (a NATS server to join) or embedded = true")
	case c.URL != "" && c.Embedded:
		bad("url", ErrInvalidValue, "give url (join a NATS server) or embedded = true (run one), not both")
	}
	for _, u := range strings.Split(c.URL, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			bad("url", ErrInvalidValue, "%q is not a URL such as nats://host:4222", u)
			continue
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			bad("url", ErrInvalidValue, "%q: scheme %q, want nats, tls, ws or wss", u, p.Scheme)
		}
	}
	if c.Listen != "" {
		if !c.Embedded {
			bad("listen", ErrInvalidValue, "listen is the embedded server's address: set embedded = true, or leave it out")
		}
		_, port, err := net.SplitHostPort(c.Listen)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			bad("listen", ErrInvalidValue, "%q is not host:port", c.Listen)
		}
	}
	if c.Name != "" && strings.ContainsFunc(c.Name, func(r rune) bool { return r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f }) {
		bad("name", ErrInvalidValue, "%q: a node name may not contain '.', '*', '>' or white space", c.Name)
	}
	if c.Credentials != "" && c.NKey != "" {
		bad("nkey", ErrInvalidValue, "give credentials or nkey, not both")
	}
	if c.KeyFile != "" && c.CertFile == "" {
		bad("certfile", ErrMissing, "keyfile is set: certfile must name the client certificate")
	}
	return errs
}
