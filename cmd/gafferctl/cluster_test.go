package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/cluster"
)

// fakeCluster is a gafferd front for two real nodes, alpha (the local one)
// and beta, answering the cluster routes as a clustered gafferd does:
// /cluster/nodes lists both, /cluster/<node>/<path> is <path> on that node,
// and anything else is alpha's API.
type fakeCluster struct {
	url         string
	alpha, beta *daemon
}

func startFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{alpha: startDaemon(t, rest.Options{}), beta: startDaemon(t, rest.Options{})}
	nodes := map[string]*daemon{"alpha": fc.alpha, "beta": fc.beta}
	proxy := func(d *daemon, path string) http.Handler {
		u, _ := url.Parse(d.url)
		return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.URL.Path = path
			r.Out.URL.RawPath = ""
		}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cluster/nodes", func(w http.ResponseWriter, r *http.Request) {
		var out []client.NodeInfo
		for _, name := range []string{"beta", "alpha"} {
			c, _ := client.New(nodes[name].url)
			infos, err := c.JobsInfo(r.Context(), "")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			n := client.NodeInfo{Name: name, Origin: nodes[name].url, Version: "test"}
			for _, in := range infos {
				n.Jobs = append(n.Jobs, client.NodeJob{Name: in.Name, Running: in.Running,
					Target: in.MaxProcesses, Pids: in.Processes, State: jobState(in)})
			}
			out = append(out, n)
		}
		json.NewEncoder(w).Encode(map[string]any{"nodes": out})
	})
	mux.HandleFunc("/cluster/{node}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := nodes[r.PathValue("node")]
		if !ok {
			http.Error(w, `{"error":404,"reason":"no such node"}`, http.StatusNotFound)
			return
		}
		proxy(d, "/"+r.PathValue("path")).ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { proxy(fc.alpha, r.URL.Path).ServeHTTP(w, r) })
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	fc.url = ts.URL
	return fc
}

func TestClusterJobsListsEveryNode(t *testing.T) {
	fc := startFakeCluster(t)
	fc.alpha.ok("load", "--session", "shop", jobFile(t, helperJob(t, "web", "sleep", map[string]any{"numprocesses": 2})))
	fc.beta.ok("load", "--session", "shop", jobFile(t, helperJob(t, "web", "sleep", nil)))
	fc.beta.ok("load", "--nostart", jobFile(t, helperJob(t, "cron", "sleep", nil)))

	front := &daemon{t: t, url: fc.url}
	table := rows(front.ok("--cluster", "jobs"))
	if len(table) != 4 || !reflect.DeepEqual(table[0], []string{"NODE", "NAME", "STATE", "RUNNING", "TARGET", "PIDS"}) {
		t.Fatalf("--cluster jobs =\n%q", table)
	}
	// Nodes by name, then jobs by name.
	want := [][]string{{"alpha", "shop.web", "running", "2", "2"}, {"beta", "default.cron", "stopped", "0", "0"},
		{"beta", "shop.web", "running", "1", "1"}}
	for i, w := range want {
		if got := table[i+1][:5]; !reflect.DeepEqual(got, w) {
			t.Errorf("row %d = %q, want %q", i+1, table[i+1], w)
		}
	}
	if got := rows(front.ok("--cluster", "jobs", "shop")); len(got) != 3 || got[1][1] != "shop.web" || got[2][1] != "shop.web" {
		t.Errorf("--cluster jobs shop = %q", got)
	}
	var js []struct {
		Node, Name string
		Running    int
		Pids       []int
	}
	if err := json.Unmarshal([]byte(front.ok("--cluster", "--json", "jobs")), &js); err != nil || len(js) != 3 ||
		js[0].Node != "alpha" || len(js[0].Pids) != 2 || js[2].Node != "beta" || js[2].Running != 1 {
		t.Errorf("--cluster --json jobs = %+v, %v", js, err)
	}
	// Without --cluster, jobs is the local node's.
	if got := rows(front.ok("jobs")); len(got) != 2 || got[1][0] != "shop.web" || got[0][0] != "NAME" {
		t.Errorf("jobs = %q", got)
	}
}

func TestNodePrefixSendsTheCommandToThatNode(t *testing.T) {
	fc := startFakeCluster(t)
	fc.alpha.ok("load", "--session", "shop", jobFile(t, helperJob(t, "web", "sleep", nil)))
	fc.beta.ok("load", "--session", "shop", jobFile(t, helperJob(t, "web", "sleep", nil)))
	front := &daemon{t: t, url: fc.url}

	if out := front.ok("scale", "beta:shop.web", "=3"); out != "3\n" {
		t.Fatalf("scale beta:shop.web =3 printed %q", out)
	}
	if got := rows(fc.beta.ok("jobs")); got[1][2] != "3" {
		t.Errorf("beta after scale: %q", got)
	}
	if got := rows(fc.alpha.ok("jobs")); got[1][2] != "1" {
		t.Errorf("alpha changed by a command for beta: %q", got)
	}
	// NODE:PID: a pid of beta, asked through alpha.
	pid := strings.Fields(fc.beta.ok("pids", "shop.web"))[0]
	if info := front.ok("info", "beta:"+pid); !strings.Contains(info, "shop.web") {
		t.Errorf("info beta:%s = %q", pid, info)
	}
	// The local node by name works as well.
	if out := front.ok("--cluster", "scale", "alpha:shop.web", "2"); out != "2\n" {
		t.Errorf("scale alpha:shop.web 2 printed %q", out)
	}

	// With --cluster an unknown node is named, with the known ones.
	msg := front.fail(exitUsage, "--cluster", "scale", "gamma:shop.web", "1")
	if !strings.Contains(msg, `no node "gamma"`) || !strings.Contains(msg, "alpha, beta") {
		t.Errorf("unknown node: %q", msg)
	}
	// Without it the argument is a job name (names may contain ':').
	if msg := front.fail(exitError, "scale", "gamma:shop.web", "1"); !strings.Contains(msg, "gamma:shop.web") {
		t.Errorf("job with ':' = %q", msg)
	}
	if msg := front.fail(exitUsage, "unload", "alpha:shop.web", "beta:shop.web"); !strings.Contains(msg, "two nodes") {
		t.Errorf("two nodes: %q", msg)
	}
}

func TestClusterOnAStandaloneGafferd(t *testing.T) {
	d := startDaemon(t, rest.Options{})
	d.ok("load", jobFile(t, helperJob(t, "a:b", "sleep", nil)))
	// "a:b" is a job: a gafferd without clustering has no nodes.
	if got := rows(d.ok("info", "a:b")); got[0][1] != "default.a:b" {
		t.Errorf("info a:b = %q", got)
	}
	if msg := d.fail(exitError, "--cluster", "jobs"); !strings.Contains(msg, "not in a cluster") {
		t.Errorf("--cluster jobs standalone = %q", msg)
	}
}

func FuzzSplitNodeArg(f *testing.F) {
	for _, s := range []string{"beta:shop.web", "beta:12", ":x", "x:", "a:b:c", "plain", "a b:c", "n/x:y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		node, rest, ok := splitNodeArg(arg)
		if !ok {
			if node != "" || rest != "" {
				t.Fatalf("splitNodeArg(%q) = %q, %q, false", arg, node, rest)
			}
			return
		}
		if node == "" || rest == "" || node+":"+rest != arg || strings.Contains(node, ":") || strings.ContainsAny(node, "/ \t\r\n") {
			t.Fatalf("splitNodeArg(%q) = %q, %q", arg, node, rest)
		}
		if _, err := (&client.Client{}).Node(node); err != nil {
			t.Fatalf("splitNodeArg accepted node %q that Node refuses: %v", node, err)
		}
	})
}

// realNode is a supervisor and its API joined to a real cluster.
func realNode(t *testing.T, name string, opts cluster.Options) (*daemon, *cluster.Node) {
	t.Helper()
	ref := &cluster.Ref{}
	d := startDaemon(t, rest.Options{Cluster: ref})
	opts.Name, opts.Origin, opts.Logger = name, d.url, slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	n, err := cluster.Start(ctx, d.sup, rest.New(d.sup, rest.Options{Cluster: ref}), opts)
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	ref.Set(n)
	return d, n
}

// waitRegistry waits until node's registry shows a job of the named node
// satisfying ok.
func waitRegistry(t *testing.T, n *cluster.Node, node string, ok func(cluster.JobEntry) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	for ev := range n.Watch(ctx) {
		if ev.Node.Name == node && ev.Kind != cluster.EventRemove && slices.ContainsFunc(ev.Node.Jobs, ok) {
			return
		}
	}
	t.Fatalf("the registry never showed the job of node %s", node)
}

func TestClusterCommandsOnARealTwoNodeCluster(t *testing.T) {
	alpha, an := realNode(t, "alpha", cluster.Options{Embedded: true, Listen: "127.0.0.1:0"})
	beta, _ := realNode(t, "beta", cluster.Options{URL: an.ClientURL()})
	alpha.ok("load", "--session", "shop", jobFile(t, helperJob(t, "web", "sleep", nil)))
	beta.ok("load", "--session", "shop", jobFile(t, helperJob(t, "db", "sleep", nil)))
	waitRegistry(t, an, "alpha", func(j cluster.JobEntry) bool { return j.Name == "shop.web" && j.Running == 1 })
	waitRegistry(t, an, "beta", func(j cluster.JobEntry) bool { return j.Name == "shop.db" && j.Running == 1 })

	table := rows(alpha.ok("--cluster", "jobs"))
	if len(table) != 3 || table[1][0] != "alpha" || table[1][1] != "shop.web" || table[2][0] != "beta" || table[2][1] != "shop.db" {
		t.Fatalf("--cluster jobs on a real cluster =\n%q", table)
	}
	// Through alpha, to beta's engine.
	if out := alpha.ok("scale", "beta:shop.db", "=2"); out != "2\n" {
		t.Fatalf("scale beta:shop.db =2 printed %q", out)
	}
	if got := rows(beta.ok("jobs")); got[1][2] != "2" {
		t.Errorf("beta after the scale: %q", got)
	}
	waitRegistry(t, an, "beta", func(j cluster.JobEntry) bool { return j.Name == "shop.db" && j.Running == 2 })
	if got := rows(alpha.ok("--cluster", "jobs")); got[2][3] != "2" {
		t.Errorf("--cluster jobs after the scale: %q", got)
	}
	msg := alpha.fail(exitUsage, "--cluster", "info", "gamma:shop.db")
	if !strings.Contains(msg, `no node "gamma"`) || !strings.Contains(msg, "alpha, beta") {
		t.Errorf("unknown node on a real cluster: %q", msg)
	}
}
