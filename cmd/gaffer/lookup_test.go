package main

import (
	"bufio"
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/api/lookupd"
	"github.com/gafferhq/gaffer/internal/cluster"
)

// registry is a fixed cluster registry whose changes the test publishes.
type registry struct {
	mu       sync.Mutex
	nodes    []cluster.NodeInfo
	watchers []chan cluster.RegistryEvent
	seeded   chan struct{} // signalled when Nodes is read (the stream reads it after Watch)
}

func newRegistry(nodes ...cluster.NodeInfo) *registry {
	return &registry{nodes: nodes, seeded: make(chan struct{}, 4)}
}

func (r *registry) Nodes() []cluster.NodeInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case r.seeded <- struct{}{}:
	default:
	}
	return append([]cluster.NodeInfo(nil), r.nodes...)
}

func (r *registry) Watch(ctx context.Context) <-chan cluster.RegistryEvent {
	ch := make(chan cluster.RegistryEvent, 16)
	r.mu.Lock()
	r.watchers = append(r.watchers, ch)
	r.mu.Unlock()
	return ch
}

func (r *registry) publish(ev cluster.RegistryEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.watchers {
		w <- ev
	}
}

var (
	tAlpha = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alpha  = cluster.NodeInfo{Name: "alpha", Origin: "http://alpha:5000", Started: tAlpha,
		Jobs: []cluster.JobEntry{{Name: "shop.web", Pids: []int{1, 4}}, {Name: "shop.worker", Pids: []int{2}}}}
	beta = cluster.NodeInfo{Name: "beta", Origin: "http://beta:5000", Started: tAlpha.Add(time.Second),
		Jobs: []cluster.JobEntry{{Name: "shop.web", Pids: []int{9}}, {Name: "blog.web"}}}
	gamma = cluster.NodeInfo{Name: "gamma", Origin: "http://gamma:5000", Started: tAlpha.Add(2 * time.Second),
		Jobs: []cluster.JobEntry{{Name: "shop.web", Pids: []int{3}}}}
)

// lookupServers are two lookupd servers that both know beta.
func lookupServers(t *testing.T) (one, two string) {
	t.Helper()
	a := httptest.NewServer(lookupd.New(newRegistry(alpha, beta), lookupd.Options{}))
	t.Cleanup(a.Close)
	b := httptest.NewServer(lookupd.New(newRegistry(beta, gamma), lookupd.Options{}))
	t.Cleanup(b.Close)
	return a.URL, b.URL
}

func TestLookupCommandsMergeServers(t *testing.T) {
	one, two := lookupServers(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"lookup:nodes"}, `3 node(s) found

http://alpha:5000 - alpha (protocol: 0.1)
http://beta:5000 - beta (protocol: 0.1)
http://gamma:5000 - gamma (protocol: 0.1)
`},
		{[]string{"lookup:jobs"}, `3 job(s) found

=== blog.web
http://beta:5000 - name: beta, protocol: 0.1

=== shop.web
http://alpha:5000 - name: alpha, protocol: 0.1
http://beta:5000 - name: beta, protocol: 0.1
http://gamma:5000 - name: gamma, protocol: 0.1

=== shop.worker
http://alpha:5000 - name: alpha, protocol: 0.1

`},
		{[]string{"lookup:job", "shop.web"}, `=== alpha (Protocol: 0.1)
Origin: http://alpha:5000
Pids: 1,4

=== beta (Protocol: 0.1)
Origin: http://beta:5000
Pids: 9

=== gamma (Protocol: 0.1)
Origin: http://gamma:5000
Pids: 3

`},
		{[]string{"lookup:job", "shop.nothing"}, "no job found\n"},
		{[]string{"lookup:session", "blog"}, `1 job(s) found

=== blog.web
http://beta:5000 - name: beta, protocol: 0.1

`},
		{[]string{"lookup:session", "none"}, "0 job(s) found\n\n"},
		{[]string{"lookup:sessions"}, `2 session(s) found

*** session: blog

=== job: blog.web
http://beta:5000 - name: beta, protocol: 0.1

*** session: shop

=== job: shop.web
http://alpha:5000 - name: alpha, protocol: 0.1
http://beta:5000 - name: beta, protocol: 0.1
http://gamma:5000 - name: gamma, protocol: 0.1

=== job: shop.worker
http://alpha:5000 - name: alpha, protocol: 0.1

`},
		{[]string{"lookup:sessions", "gamma"}, `1 session(s) found

*** session: shop

=== job: shop.web
http://gamma:5000 - name: gamma, protocol: 0.1

`},
	}
	for _, tt := range tests {
		args := append(tt.args, "-L", one, "--lookupd-address", strings.TrimPrefix(two, "http://"))
		code, out, errOut := gafferIn(t, args...)
		if code != exitOK || out != tt.want {
			t.Errorf("gaffer %s: exit %d, stderr %q, output:\n%s\nwant:\n%s", strings.Join(tt.args, " "), code, errOut, out, tt.want)
		}
	}
}

func TestLookupBadAddressAndUnreachable(t *testing.T) {
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	for _, tt := range []struct {
		addr, wantErr string
		wantCode      int
	}{
		{"ftp://x:1", "scheme must be http or https", exitUsage},
		{"http://", "no host", exitUsage},
		{deadURL, "cannot reach lookupd at " + deadURL, exitError},
	} {
		code, _, errOut := gafferIn(t, "lookup:nodes", "-L", tt.addr)
		if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("-L %s: exit %d, stderr %q; want %d with %q", tt.addr, code, errOut, tt.wantCode, tt.wantErr)
		}
	}
}

func TestLookupPrintsLiveEvents(t *testing.T) {
	reg := newRegistry()
	srv := httptest.NewServer(lookupd.New(reg, lookupd.Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"lookup", "-L", srv.URL, "--no-color"}, strings.NewReader(""), pw, pw)
		pw.Close()
		done <- code
	}()
	select {
	case <-reg.seeded:
	case <-ctx.Done():
		t.Fatal("gaffer lookup never opened the registry stream")
	}
	node := cluster.NodeInfo{Name: "alpha", Origin: "http://alpha:5000",
		Jobs: []cluster.JobEntry{{Name: "shop.web", Pids: []int{1}}}}
	reg.publish(cluster.RegistryEvent{Kind: cluster.EventAdd, Node: node})
	node.Jobs = nil
	reg.publish(cluster.RegistryEvent{Kind: cluster.EventUpdate, Node: node})
	reg.publish(cluster.RegistryEvent{Kind: cluster.EventRemove, Node: node})
	want := []string{
		"add_node | add node",
		"identify | alpha: http://alpha:5000",
		"add_job | load shop.web in http://alpha:5000",
		"add_process | shop.web: process id 1 spanwned on http://alpha:5000",
		"remove_process | shop.web: process 1 exited on http://alpha:5000",
		"remove_job | unload shop.web in http://alpha:5000",
		"remove_node | alpha: node http://alpha:5000",
	}
	// If the command ends early or hangs (ctx's timeout ends it), the pipe
	// closes and the scan stops.
	sc := bufio.NewScanner(pr)
	stamp := regexp.MustCompile(`^\d\d:\d\d:\d\d `)
	for i, w := range want {
		if !sc.Scan() {
			t.Fatalf("lookup stopped after %d lines (exit %d)", i, <-done)
		}
		if l := sc.Text(); !stamp.MatchString(l) || l[9:] != w {
			t.Errorf("line %d = %q, want HH:MM:SS %s", i+1, l, w)
		}
	}
	cancel() // as Ctrl-C would
	go io.Copy(io.Discard, pr)
	if code := <-done; code != exitOK {
		t.Errorf("lookup ended with %d after an interrupt", code)
	}
}

func FuzzLookupdURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:5010", "127.0.0.1:5010", "https://h/x/", "ftp://h", "http://", "",
		"http://u@h:1", "h:1?x", "[::1]:5010", "http://[::1]:80/p%20q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		u, err := lookupdURL(addr)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || strings.HasSuffix(u, "/") {
			t.Fatalf("lookupdURL(%q) = %q", addr, u)
		}
		// Normal form is a fixed point.
		again, err := lookupdURL(u)
		if err != nil || again != u {
			t.Fatalf("lookupdURL(%q) = %q, then %q, %v", addr, u, again, err)
		}
	})
}
