package conn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gafferhq/gaffer/client"
)

func TestDialExclusive(t *testing.T) {
	_, err := Flags{Host: "http://127.0.0.1:1", Unix: "/x"}.Dial(client.TLSFiles{})
	if err == nil || err.Error() != "--host and --unix are exclusive" {
		t.Fatalf("err = %v", err)
	}
}

func TestClientCached(t *testing.T) {
	t.Setenv("GAFFER_API_KEY", "")
	t.Setenv("GAFFER_CONFIG", t.TempDir()+"/none.ini")
	var c *client.Client
	f := Flags{Unix: "/nonexistent.sock"}
	usage := func(err error) error { return fmt.Errorf("usage: %w", err) }
	c1, err := f.Client(&c, client.TLSFiles{}, usage)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c || c1.Address() != "unix:///nonexistent.sock" {
		t.Fatalf("client %p (%s), cached %p", c1, c1.Address(), c)
	}
	c2, err := Flags{Host: "a", Unix: "b"}.Client(&c, client.TLSFiles{}, usage)
	if err != nil || c2 != c1 {
		t.Fatalf("second call: %p, %v; want the cached client", c2, err)
	}
	var none *client.Client
	if _, err := (Flags{Host: "a", Unix: "b"}).Client(&none, client.TLSFiles{}, usage); err == nil || err.Error() != "usage: --host and --unix are exclusive" {
		t.Fatalf("err = %v", err)
	}
}

func TestExplain(t *testing.T) {
	err := Explain(fmt.Errorf("x: %w", client.ErrUnauthorized), nil, "--api-key")
	if want := "unauthorized: gafferd wants an API key (--api-key)"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	err = Explain(client.ErrForbidden, nil, "")
	if want := "forbidden: this API key may not do that"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	other := errors.New("other")
	if got := Explain(other, nil, ""); got != other {
		t.Errorf("got %v, want the error itself", got)
	}
}
