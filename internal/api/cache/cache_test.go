package cache

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
)

// call makes one XML-RPC call over HTTP, as a client would.
func call(t *testing.T, url, method string, params ...any) (any, error) {
	t.Helper()
	var body bytes.Buffer
	if err := xmlrpc.EncodeRequest(&body, method, params...); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "text/xml", &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %s", method, resp.Status)
	}
	return xmlrpc.DecodeResponse(resp.Body)
}

func serve(t *testing.T, c *Cache) string {
	srv := xmlrpc.NewServer()
	c.Register(srv)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL + "/RPC2"
}

func TestCache(t *testing.T) {
	url := serve(t, &Cache{})
	mustCall := func(method string, want any, params ...any) {
		t.Helper()
		got, err := call(t, url, method, params...)
		if err != nil {
			t.Fatalf("%s%v: %v", method, params, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s%v = %#v, want %#v", method, params, got, want)
		}
	}
	mustCall("cache.getAPIVersion", "0.1")
	mustCall("cache.getCount", 0)
	mustCall("cache.getKeys", []any{})
	mustCall("cache.store", true, "b", "two")
	mustCall("cache.store", true, "a", "one")
	mustCall("cache.store", true, "a", "uno") // replaces
	mustCall("cache.getKeys", []any{"a", "b"})
	mustCall("cache.getCount", 2)
	mustCall("cache.fetch", "uno", "a")
	mustCall("cache.delete", true, "a")
	mustCall("cache.delete", true, "a") // deleting a missing key is fine
	mustCall("cache.getKeys", []any{"b"})
	mustCall("cache.clear", true)
	mustCall("cache.getCount", 0)
}

func TestCacheFaults(t *testing.T) {
	running := atomic.Bool{}
	running.Store(true)
	url := serve(t, &Cache{Running: running.Load})
	tests := []struct {
		method string
		params []any
		code   int
		text   string
	}{
		{"cache.fetch", []any{"nope"}, xmlrpc.BadName, "BAD_NAME: nope"},
		{"cache.fetch", []any{""}, xmlrpc.BadArguments, "BAD_ARGUMENTS: Key must not be empty"},
		{"cache.fetch", []any{7}, xmlrpc.BadArguments, "BAD_ARGUMENTS: Key must be a string"},
		{"cache.store", []any{"k", 7}, xmlrpc.BadArguments, "BAD_ARGUMENTS: Data must be a string"},
		{"cache.store", []any{"k"}, xmlrpc.IncorrectParameters, "INCORRECT_PARAMETERS"},
		{"cache.getKeys", []any{"x"}, xmlrpc.IncorrectParameters, "INCORRECT_PARAMETERS"},
		{"cache.delete", []any{[]any{"a"}}, xmlrpc.BadArguments, "BAD_ARGUMENTS: Key must be a string"},
	}
	for _, tt := range tests {
		_, err := call(t, url, tt.method, tt.params...)
		f, ok := errors.AsType[*xmlrpc.Fault](err)
		if !ok || f.Code != tt.code || f.String != tt.text {
			t.Errorf("%s%v: got %v, want fault %d %q", tt.method, tt.params, err, tt.code, tt.text)
		}
	}
	running.Store(false)
	if _, err := call(t, url, "cache.store", "k", "v"); !errors.Is(err, xmlrpc.NewFault(xmlrpc.ShutdownState)) {
		t.Errorf("store while shutting down: %v, want SHUTDOWN_STATE", err)
	}
	if v, err := call(t, url, "cache.getAPIVersion"); err != nil || v != "0.1" {
		t.Errorf("getAPIVersion while shutting down: %v, %v", v, err)
	}
}
