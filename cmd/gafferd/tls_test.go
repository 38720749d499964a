package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/client"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newTestCA(t *testing.T, dir string) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gaffer test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, cert: cert, key: key, dir: dir}
	ca.write("ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(name, typ string, der []byte) string {
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

// issue makes a certificate signed by the CA: for the server (127.0.0.1)
// or a client; it returns the certificate and key files.
func (ca *testCA) issue(name string, serial int64, server bool) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return ca.write(name+".pem", "CERTIFICATE", der), ca.write(name+".key", "EC PRIVATE KEY", kder)
}

func TestTLSWithClientCertificates(t *testing.T) {
	pki := t.TempDir()
	ca := newTestCA(t, pki)
	srvCert, srvKey := ca.issue("server", 2, true)
	cliCert, cliKey := ca.issue("client", 3, false)
	ini := "[gaffer]\nrequire_key = false\n[ssl]\ncertfile = " + srvCert + "\nkeyfile = " + srvKey +
		"\nca_certs = " + filepath.Join(pki, "ca.pem") + "\ncert_reqs = required\n"
	d := startKeyed(t, configDirWith(t, ini))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	withCert, err := client.TLSFiles{CAFile: filepath.Join(pki, "ca.pem"), CertFile: cliCert, KeyFile: cliKey}.Config()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New("https://"+d.tcp, client.WithTLS(withCert))
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("https with a client certificate: %v", err)
	}
	ch, err := c.Channel(ctx) // wss over the same TLS settings
	if err != nil {
		t.Fatalf("channel over TLS: %v", err)
	}
	if _, err := ch.Command(ctx, "sessions", nil, nil); err != nil {
		t.Errorf("channel command over TLS: %v", err)
	}
	ch.Close()

	// No client certificate: the handshake fails.
	noCert, _ := client.TLSFiles{CAFile: filepath.Join(pki, "ca.pem")}.Config()
	c, _ = client.New("https://"+d.tcp, client.WithTLS(noCert))
	if err := c.Ping(ctx); err == nil {
		t.Error("https without a client certificate: accepted")
	}
	// A client that does not trust the CA refuses the server.
	c, _ = client.New("https://" + d.tcp)
	if err := c.Ping(ctx); err == nil {
		t.Error("https with the system roots: accepted a test CA's certificate")
	}
	// Plain HTTP gets no answer from a TLS listener.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + d.tcp + "/ping")
	if err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP answered on a TLS listener")
	}
	if err == nil {
		resp.Body.Close()
	}
	// TLS 1.1 is refused.
	conn, err := tls.Dial("tcp", d.tcp, &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Error("TLS 1.1 accepted")
	}
	// The unix socket stays plain.
	uc, _ := client.New("unix://" + d.sock)
	if err := uc.Ping(ctx); err != nil {
		t.Errorf("unix socket: %v", err)
	}
}

func TestSSLConfigErrorsAreClear(t *testing.T) {
	dir := configDirWith(t, "[ssl]\ncertfile = missing.pem\n")
	out, err := runGafferd(dir)
	if err == nil || !contains(out, "[ssl] certfile") {
		t.Errorf("missing certificate: %v\n%s", err, out)
	}
	dir = configDirWith(t, "[ssl]\ncertfile = a.pem\ncert_reqs = 2\n")
	out, err = runGafferd(dir)
	if err == nil || !contains(out, "ca_certs") {
		t.Errorf("cert_reqs without ca_certs: %v\n%s", err, out)
	}
}

func runGafferd(dir string) (string, error) {
	cmd := exec.Command(gafferdBin, "-c", dir, "--bind", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
