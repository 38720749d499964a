package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/cluster"
	"github.com/gafferhq/gaffer/supervisor"
)

// startNode joins sup to a cluster ("" = run the embedded server) with the
// REST API behind az as its control handler; it returns the node and that
// handler (with /cluster routes served by the node).
func startNode(t *testing.T, name, url string, sup *supervisor.Supervisor, az *auth.Authorizer) (*cluster.Node, http.Handler) {
	t.Helper()
	var h http.Handler
	late := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
	opts := cluster.Options{URL: url, Embedded: url == "", Listen: "127.0.0.1:0", Name: name,
		Origin: "http://" + name + ".test", Logger: slog.New(slog.DiscardHandler)}
	if url != "" {
		opts.Listen = ""
	}
	n, err := cluster.Start(context.Background(), sup, late, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	h = az.Middleware(rest.New(sup, rest.Options{Authorize: rest.AuthorizeWith(az), Auth: az, Cluster: n}))
	return n, h
}

func TestClusterRoutes(t *testing.T) {
	s := newAuthServer(t) // node b: its API is s, its keys s.az
	other := newAuthServer(t)
	a, aAPI := startNode(t, "a", "", other.sup, s.az) // keys shared with b
	_, _ = startNode(t, "b", a.ClientURL(), s.sup, s.az)
	front := httptest.NewServer(aAPI)
	defer front.Close()
	admin, reader := s.key("+a"), s.key("app+r")
	req := func(method, path, key, body string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, front.URL+path, strings.NewReader(body))
		if key != "" {
			r.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Both nodes listed, once b's first heartbeat has reached a.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for range a.Watch(ctx) {
		if len(a.Nodes()) == 2 {
			break
		}
	}
	st, body := req("GET", "/cluster/nodes", admin, "")
	var listed struct{ Nodes []cluster.NodeInfo }
	if err := json.Unmarshal([]byte(body), &listed); st != 200 || err != nil {
		t.Fatalf("GET /cluster/nodes: %d %s", st, body)
	}
	var names []string
	for _, n := range listed.Nodes {
		names = append(names, n.Name+" "+n.Origin)
	}
	if !slices.Equal(names, []string{"a http://a.test", "b http://b.test"}) {
		t.Errorf("nodes %q", names)
	}
	if st, _ := req("GET", "/cluster/nodes", reader, ""); st != http.StatusForbidden {
		t.Errorf("GET /cluster/nodes with a read key: %d, want 403", st)
	}

	// Proxied requests: b checks the key, as it does locally.
	for _, tc := range []struct {
		method, path, key, body string
		want                    int
	}{
		{"POST", "/cluster/b/jobs/app", reader, jobBody(t, "web", "sleep", false, nil), http.StatusForbidden},
		{"POST", "/cluster/b/jobs/app", "", jobBody(t, "web", "sleep", false, nil), http.StatusUnauthorized},
		{"POST", "/cluster/b/jobs/app", admin, jobBody(t, "web", "sleep", false, nil), http.StatusOK},
		{"GET", "/cluster/b/jobs/app/web?info=1", reader, "", http.StatusOK},
		{"GET", "/cluster/zz/jobs", admin, "", http.StatusNotFound},
		{"GET", "/cluster/b.c/jobs", admin, "", http.StatusBadRequest},
		{"GET", "/cluster/b/cluster/nodes", admin, "", http.StatusBadGateway},
	} {
		if st, body := req(tc.method, tc.path, tc.key, tc.body); st != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, st, body, tc.want)
		}
	}
	if _, err := s.sup.Info(ctx, "app.web"); err != nil {
		t.Errorf("the job loaded through a is not on b: %v", err)
	}
	if _, err := other.sup.Info(ctx, "app.web"); err == nil {
		t.Error("the job loaded through a is on a")
	}
	big := strings.Repeat("x", cluster.MaxBody+1)
	if st, _ := req("POST", "/cluster/b/jobs/app", admin, big); st != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 1 MiB: %d, want 413", st)
	}
}

func TestClusterRoutesWithoutCluster(t *testing.T) {
	s := newServer(t, rest.Options{})
	for _, p := range []string{"/cluster/nodes", "/cluster/b/jobs"} {
		if st, _, body := s.do("GET", p, ""); st != http.StatusNotFound || !strings.Contains(body, "no_cluster") {
			t.Errorf("GET %s: %d %s, want 404 no_cluster", p, st, body)
		}
	}
}
