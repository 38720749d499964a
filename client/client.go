package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Client talks to one gafferd. Immutable after New.
type Client struct {
	address string       // as given to New
	base    string       // URL prefix of every request, without a trailing slash
	hc      *http.Client // never nil
	apiKey  string
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key in the X-Api-Key header of every request, for a
// gafferd that requires keys.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient sends requests with hc (for TLS settings, timeouts or
// tracing). For a unix:// address a copy of hc is used whose Transport dials
// the socket.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client of the gafferd at address ("" = DefaultAddress()).
// It does not connect; use Ping to check the server is there.
func New(address string, opts ...Option) (*Client, error) {
	if address == "" {
		address = DefaultAddress()
	}
	c := &Client{address: address}
	for _, o := range opts {
		o(c)
	}
	raw := address
	if !strings.Contains(raw, "://") && !strings.HasPrefix(raw, "unix:") {
		raw = "http://" + raw // "127.0.0.1:5000"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("gafferd address %q: %w", address, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("gafferd address %q: no host", address)
		}
		if c.hc == nil {
			c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		}
		c.base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
	case "unix":
		sock := u.Path
		if sock == "" {
			sock = u.Opaque // unix:relative.sock
		}
		if sock == "" {
			return nil, fmt.Errorf("gafferd address %q: no socket path", address)
		}
		hc := &http.Client{}
		if c.hc != nil {
			*hc = *c.hc
		}
		hc.Transport = &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}
		c.hc = hc
		// The host is a placeholder: the socket is the address. "localhost"
		// passes servers that check Host against DNS rebinding.
		c.base = "http://localhost"
	default:
		return nil, fmt.Errorf("gafferd address %q: scheme must be http, https or unix", address)
	}
	return c, nil
}

// Address is the address the client was made with.
func (c *Client) Address() string { return c.address }

// DefaultSocketPath is gafferd's default unix socket:
// $XDG_RUNTIME_DIR/gafferd/gafferd.sock when XDG_RUNTIME_DIR is set, else
// /run/gafferd/gafferd.sock for root, else gafferd-<uid>/gafferd.sock in
// $TMPDIR (or /tmp).
func DefaultSocketPath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "gafferd", "gafferd.sock")
	}
	uid := os.Geteuid()
	if uid == 0 {
		return "/run/gafferd/gafferd.sock"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("gafferd-%d", uid), "gafferd.sock")
}

// DefaultAddress is $GAFFERD_ADDRESS when set, else the default socket when
// it exists, else http://127.0.0.1:5000.
func DefaultAddress() string {
	if a := os.Getenv("GAFFERD_ADDRESS"); a != "" {
		return a
	}
	sock := DefaultSocketPath()
	if fi, err := os.Stat(sock); err == nil && fi.Mode().Type() == fs.ModeSocket {
		return "unix://" + sock
	}
	return "http://127.0.0.1:5000"
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// do sends one request. body is nil, a string sent as text, or a value sent
// as JSON. out is nil, a *string receiving the raw answer, or a value the
// JSON answer is decoded into.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentType = strings.NewReader(b), "text/plain; charset=UTF-8"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gaffer-client")
	if c.apiKey != "" {
		req.Header.Set("X-Api-Key", c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return errorOf(resp.StatusCode, data)
	}
	switch o := out.(type) {
	case nil:
		_, err = io.Copy(io.Discard, resp.Body) // lets the connection be reused
		return err
	case *string:
		data, err := io.ReadAll(resp.Body)
		*o = string(data)
		return err
	default:
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
		return nil
	}
}
