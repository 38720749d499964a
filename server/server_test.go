package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

func TestRegisterRPCRefusesBadNames(t *testing.T) {
	s := New(supervisor.New(supervisor.Options{}), Options{})
	ok := func(context.Context, []any) (any, error) { return true, nil }
	tests := []struct {
		ns      string
		methods map[string]Method
		perms   map[string]Permission
		want    string
	}{
		{"", map[string]Method{"a": ok}, nil, "not a valid namespace"},
		{"a.b", map[string]Method{"a": ok}, nil, "not a valid namespace"},
		{"supervisor", map[string]Method{"x": ok}, nil, "already registered"},
		{"system", map[string]Method{"x": ok}, nil, "already registered"},
		{"h", map[string]Method{"_private": ok}, nil, "not a valid method name"},
		{"h", map[string]Method{"a.b": ok}, nil, "not a valid method name"},
		{"h", map[string]Method{"a": nil}, nil, "nil"},
		{"h", map[string]Method{"a": ok}, map[string]Permission{"b": Read}, "not a method"},
	}
	for _, tt := range tests {
		if err := s.RegisterRPC(tt.ns, tt.methods, tt.perms); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RegisterRPC(%q, %v): %v, want an error with %q", tt.ns, tt.methods, err, tt.want)
		}
	}
	if err := s.RegisterRPC("h", map[string]Method{"a": ok}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterRPC("h", map[string]Method{"b": ok}, nil); err == nil {
		t.Error("a namespace registered twice")
	}
}

// A method without a listed permission needs Admin; a route's refusal is
// 401 or 403 as the hook says.
func TestDefaultsFailClosed(t *testing.T) {
	var asked []string
	s := New(supervisor.New(supervisor.Options{}), Options{Authorize: func(r *http.Request, need Permission, target string) error {
		asked = append(asked, need.String()+" "+target)
		if need >= Manage {
			return ErrForbidden
		}
		if r.Header.Get("X-Who") == "" {
			return ErrUnauthorized
		}
		return nil
	}})
	ok := func(context.Context, []any) (any, error) { return true, nil }
	if err := s.RegisterRPC("h", map[string]Method{"a": ok}, nil); err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("GET /x/{target}", Read, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/RPC2", "text/xml", strings.NewReader(`<?xml version="1.0"?><methodCall><methodName>h.a</methodName><params></params></methodCall>`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	resp.Body.Close()
	if !strings.Contains(b.String(), "forbidden: h.a needs Admin") {
		t.Errorf("h.a without permission: %s", b.String())
	}
	for hdr, want := range map[string]int{"": 401, "me": 200} {
		req, _ := http.NewRequest("GET", ts.URL+"/x/app.web", nil)
		if hdr != "" {
			req.Header.Set("X-Who", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /x/app.web (X-Who %q): %s, want %d", hdr, resp.Status, want)
		}
	}
	if got := strings.Join(asked, ","); got != "Admin ,Read app.web,Read app.web" {
		t.Errorf("Authorize asked %q", got)
	}
}
