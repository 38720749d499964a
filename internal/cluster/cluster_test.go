package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/cluster"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest/enginetest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// wait bounds every wait for the cluster to converge.
const wait = enginetest.Wait

var quiet = slog.New(slog.DiscardHandler)

// member is one in-process gafferd: a supervisor, its REST API behind the
// key checks gafferd uses, and its cluster node.
type member struct {
	t    *testing.T
	name string
	sup  *supervisor.Supervisor
	api  http.Handler
	az   *auth.Authorizer
	node *cluster.Node
	beat time.Duration // heartbeat period; 0: the default 500 ms
}

// newMember starts a supervisor and its API (keys required when az is
// not nil); join it with start.
func newMember(t *testing.T, name string, az *auth.Authorizer) *member {
	t.Helper()
	e := enginetest.New(t, enginetest.Options{Logger: quiet})
	if az == nil {
		az = &auth.Authorizer{}
	}
	api := az.Middleware(rest.New(e.Sup, rest.Options{Authorize: rest.AuthorizeWith(az), Auth: az}))
	m := &member{t: t, name: name, sup: e.Sup, api: api, az: az, beat: 100 * time.Millisecond}
	t.Cleanup(func() {
		if m.node != nil {
			m.node.Close()
		}
	})
	return m
}

func (m *member) opts(url string) cluster.Options {
	o := cluster.Options{URL: url, Name: m.name, Origin: "http://" + m.name + ".test:5000", Version: "test", Logger: quiet}
	if url == "" {
		o.Embedded, o.Listen = true, "127.0.0.1:0"
	}
	return cluster.WithHeartbeat(o, m.beat)
}

// start joins the cluster at url ("" = run the embedded server).
func (m *member) start(url string) {
	m.t.Helper()
	n, err := cluster.Start(context.Background(), m.sup, m.api, m.opts(url))
	if err != nil {
		m.t.Fatalf("starting node %s: %v", m.name, err)
	}
	m.node = n
}

func jobBody(t *testing.T, name string, start bool) string {
	return enginetest.JobBody(t, name, "sleep", start, nil)
}

// do runs a request on node through from's cluster connection.
func do(t *testing.T, from *member, node, method, path, key, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if key != "" {
		r.Header.Set("X-Api-Key", key)
	}
	resp, err := from.node.Do(context.Background(), node, r)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, node, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// converge waits until cond holds on m's registry (Nodes), checking again
// at each registry change, and fails after wait.
func converge(t *testing.T, m *member, what string, cond func(map[string]cluster.NodeInfo) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	view := func() map[string]cluster.NodeInfo {
		v := map[string]cluster.NodeInfo{}
		for _, n := range m.node.Nodes() {
			v[n.Name] = n
		}
		return v
	}
	changes := m.node.Watch(ctx)
	for !cond(view()) {
		if _, ok := <-changes; !ok {
			t.Fatalf("node %s: %s: not seen within %v; view %+v", m.name, what, wait, view())
		}
	}
}

func names(view map[string]cluster.NodeInfo) []string {
	var out []string
	for n := range view {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func hasNodes(want ...string) func(map[string]cluster.NodeInfo) bool {
	return func(v map[string]cluster.NodeInfo) bool { return slices.Equal(names(v), want) }
}

// runs reports whether node runs job with n processes in view.
func runs(node, job string, n int) func(map[string]cluster.NodeInfo) bool {
	return func(v map[string]cluster.NodeInfo) bool {
		for _, j := range v[node].Jobs {
			if j.Name == job && j.Running == n && len(j.Pids) == n {
				return true
			}
		}
		return false
	}
}

func threeNodes(t *testing.T, beat time.Duration) (a, b, c *member) {
	a, b, c = newMember(t, "a", nil), newMember(t, "b", nil), newMember(t, "c", nil)
	a.beat, b.beat, c.beat = beat, beat, beat
	a.start("")
	b.start(a.node.ClientURL())
	c.start(a.node.ClientURL())
	for _, m := range []*member{a, b, c} {
		converge(t, m, "all three nodes", hasNodes("a", "b", "c"))
	}
	return a, b, c
}

func TestJobStartedThroughAnotherNode(t *testing.T) {
	a, b, c := threeNodes(t, 100*time.Millisecond)

	// Anyone can follow one job across the cluster by subject.
	nc, err := nats.Connect(a.node.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	evts, err := nc.SubscribeSync("gaffer.evt.*.app.web.spawn")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	if st, body := do(t, a, "b", "POST", "/jobs/app", "", jobBody(t, "web", true)); st != http.StatusOK {
		t.Fatalf("load on b through a: %d %s", st, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pids, err := b.sup.Pids(ctx, "app.web")
	if err != nil || len(pids) != 1 {
		t.Fatalf("b runs %v (%v), want one process of app.web", pids, err)
	}
	if _, err := a.sup.Info(ctx, "app.web"); err == nil {
		t.Fatal("the job was loaded on a too")
	}
	msg, err := evts.NextMsg(wait)
	if err != nil {
		t.Fatalf("no spawn event on gaffer.evt.*.app.web.spawn: %v", err)
	}
	if msg.Subject != "gaffer.evt.b.app.web.spawn" {
		t.Errorf("event subject %q, want gaffer.evt.b.app.web.spawn", msg.Subject)
	}
	var ev map[string]any
	if err := json.Unmarshal(msg.Data, &ev); err != nil || ev["node"] != "b" || ev["name"] != "app.web" || ev["event"] != "spawn" {
		t.Errorf("event %s (%v)", msg.Data, err)
	}
	for _, m := range []*member{a, b, c} {
		converge(t, m, "b running app.web", runs("b", "app.web", 1))
	}
	// Reading through the cluster answers what b answers locally.
	st, body := do(t, c, "b", "GET", "/jobs/app/web/pids", "", "")
	if st != http.StatusOK || !strings.Contains(body, `"pids":[`) {
		t.Errorf("pids through c: %d %s", st, body)
	}
	if st, body := do(t, a, "b", "GET", "/jobs/app/nope", "", ""); st != http.StatusNotFound {
		t.Errorf("unknown job through a: %d %s, want 404", st, body)
	}
	if _, err := a.node.Do(ctx, "zz", httptest.NewRequest("GET", "/jobs", nil)); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("Do on an unknown node: %v", err)
	}
}

func TestHungAndRestartedNode(t *testing.T) {
	a, b, c := threeNodes(t, 0) // the real heartbeat period
	if st, body := do(t, a, "c", "POST", "/jobs/app", "", jobBody(t, "db", true)); st != http.StatusOK {
		t.Fatalf("load on c: %d %s", st, body)
	}
	converge(t, a, "c running app.db", runs("c", "app.db", 1))

	// A node that stops sending heartbeats disappears from every view.
	hung := time.Now()
	c.node.SetPaused(true)
	converge(t, a, "c gone from a", hasNodes("a", "b"))
	converge(t, b, "c gone from b", hasNodes("a", "b"))
	t.Logf("a hung node left every view %v after it stopped its heartbeats", time.Since(hung))
	c.node.SetPaused(false)
	converge(t, a, "c back on a with its job", runs("c", "app.db", 1))
	converge(t, b, "c back on b with its job", runs("c", "app.db", 1))

	// A closed node leaves at once; restarted, it comes back with its jobs.
	c.node.Close()
	converge(t, a, "c closed", hasNodes("a", "b"))
	c.start(a.node.ClientURL())
	converge(t, a, "c restarted", runs("c", "app.db", 1))
	converge(t, b, "c restarted", runs("c", "app.db", 1))
}

func TestNameCollision(t *testing.T) {
	a, b := newMember(t, "a", nil), newMember(t, "b", nil)
	a.start("")
	b.start(a.node.ClientURL())
	dup := newMember(t, "b", nil)
	n, err := cluster.Start(context.Background(), dup.sup, dup.api, dup.opts(a.node.ClientURL()))
	if err == nil {
		n.Close()
		t.Fatal("a second node named b started")
	}
	if !strings.Contains(err.Error(), "http://b.test:5000") {
		t.Errorf("error %q does not name the other node's origin", err)
	}
	converge(t, a, "the first b unharmed", hasNodes("a", "b"))
}

func TestBadOptions(t *testing.T) {
	m := newMember(t, "a", nil)
	for _, tc := range []struct {
		o    cluster.Options
		want string
	}{
		{cluster.Options{Name: "a"}, "either"},
		{cluster.Options{Name: "a", URL: "nats://127.0.0.1:1", Embedded: true}, "either"},
		{cluster.Options{Name: "a.b", Embedded: true}, `"a.b"`},
		{cluster.Options{Name: "a", Embedded: true, Listen: "nope"}, `"nope"`},
		{cluster.Options{Name: "a", URL: "nats://127.0.0.1:1", CredsFile: "x", NKeySeedFile: "y"}, "not both"},
	} {
		n, err := cluster.Start(context.Background(), m.sup, m.api, tc.o)
		if err == nil {
			n.Close()
			t.Errorf("%+v: started", tc.o)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %q does not say %s", tc.o, err, tc.want)
		}
	}
}

func TestForbiddenAsLocally(t *testing.T) {
	keys, err := auth.OpenKeys(auth.Memory)
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.OpenUsers(auth.Memory)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := keys.Create("reader", auth.Permissions{Read: []string{"app"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := keys.Create("admin", auth.Permissions{Admin: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	a := newMember(t, "a", nil)
	b := newMember(t, "b", &auth.Authorizer{RequireKey: true, Keys: keys, Users: users})
	a.start("")
	b.start(a.node.ClientURL())
	local := httptest.NewServer(b.api)
	defer local.Close()
	localDo := func(method, path, key, body string) int {
		r, _ := http.NewRequest(method, local.URL+path, strings.NewReader(body))
		if key != "" {
			r.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method, path, key, body string
		want                    int
	}{
		{"POST", "/jobs/app", reader.Key, jobBody(t, "web", false), http.StatusForbidden},
		{"POST", "/jobs/app", "", jobBody(t, "web", false), http.StatusUnauthorized},
		{"POST", "/jobs/app", admin.Key, jobBody(t, "web", false), http.StatusOK},
		{"GET", "/jobs/app/web", reader.Key, "", http.StatusOK},
		{"DELETE", "/jobs/app/web", reader.Key, "", http.StatusForbidden},
	} {
		st, body := do(t, a, "b", tc.method, tc.path, tc.key, tc.body)
		if st != tc.want {
			t.Errorf("%s %s through the cluster: %d %s, want %d", tc.method, tc.path, st, body, tc.want)
		}
		if tc.want == http.StatusOK && tc.method == "POST" {
			continue // loading twice is a conflict: compare refusals only
		}
		if l := localDo(tc.method, tc.path, tc.key, tc.body); l != st {
			t.Errorf("%s %s: %d locally, %d through the cluster", tc.method, tc.path, l, st)
		}
	}
}

// TestServerRestart runs the NATS server apart from the nodes, restarts it
// on the same port, and checks that a change made while it was down
// reaches the other node.
func TestServerRestart(t *testing.T) {
	sopts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true}
	srv, err := server.NewServer(sopts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(wait) {
		t.Fatal("server not ready")
	}
	url := srv.ClientURL()
	port := srv.Addr().(interface{ String() string }).String()
	t.Cleanup(func() { srv.Shutdown() })
	a, b := newMember(t, "a", nil), newMember(t, "b", nil)
	a.start(url)
	b.start(url)
	converge(t, a, "b joined", hasNodes("a", "b"))

	srv.Shutdown()
	srv.WaitForShutdown()
	converge(t, a, "b unreachable", hasNodes("a"))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var cfg supervisor.JobConfig
	if err := json.Unmarshal([]byte(jobBody(t, "late", true)), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := b.sup.Load(ctx, "app", cfg, true); err != nil {
		t.Fatal(err)
	}

	_, p, _ := strings.Cut(port, ":")
	sopts2 := &server.Options{Host: "127.0.0.1", NoSigs: true, NoLog: true}
	sopts2.Port = atoi(t, p)
	srv, err = server.NewServer(sopts2)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(wait) {
		t.Fatal("restarted server not ready")
	}
	converge(t, a, "b back with the job loaded while the server was down", runs("b", "app.late", 1))
	converge(t, b, "a back", hasNodes("a", "b"))
}

func atoi(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad port %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestWatch(t *testing.T) {
	a, b := newMember(t, "a", nil), newMember(t, "b", nil)
	a.start("")
	b.start(a.node.ClientURL())
	converge(t, a, "b joined", hasNodes("a", "b"))
	ctx, cancel := context.WithCancel(context.Background())
	changes := a.node.Watch(ctx)
	next := func() cluster.RegistryEvent {
		t.Helper()
		select {
		case e, ok := <-changes:
			if !ok {
				t.Fatal("watch closed early")
			}
			return e
		case <-time.After(wait):
			t.Fatal("no registry event")
		}
		return cluster.RegistryEvent{}
	}
	for _, want := range []string{"a", "b"} {
		if e := next(); e.Kind != cluster.EventAdd || e.Node.Name != want {
			t.Fatalf("initial event %s %s, want add %s", e.Kind, e.Node.Name, want)
		}
	}
	if st, body := do(t, a, "b", "POST", "/jobs/app", "", jobBody(t, "web", false)); st != http.StatusOK {
		t.Fatalf("load: %d %s", st, body)
	}
	for {
		e := next()
		if e.Kind == cluster.EventUpdate && e.Node.Name == "b" && len(e.Node.Jobs) == 1 {
			if j := e.Node.Jobs[0]; j.Name != "app.web" || j.State != "stopped" || j.Running != 0 {
				t.Fatalf("job entry %+v", j)
			}
			break
		}
	}
	b.node.Close()
	for {
		e := next()
		if e.Kind == cluster.EventRemove && e.Node.Name == "b" {
			break
		}
	}
	cancel()
	for range changes { // closed with ctx
	}
}

func TestEventSubject(t *testing.T) {
	for _, tc := range []struct {
		node, name, typ, want string
	}{
		{"n1", "app.web", "spawn", "gaffer.evt.n1.app.web.spawn"},
		{"n1", "web", "exit", "gaffer.evt.n1.default.web.exit"},
		{"n1", "app.web.v2", "stop", "gaffer.evt.n1.app.web_v2.stop"},
		{"n1", "a b.*>", "load", "gaffer.evt.n1.a_b.__.load"},
		{"n1", "", "flap", "gaffer.evt.n1._._.flap"},
	} {
		e := events.Event{Name: tc.name, Type: tc.typ}
		if got := cluster.EventSubject(tc.node, e); got != tc.want {
			t.Errorf("EventSubject(%q, %q %q) = %q, want %q", tc.node, tc.name, tc.typ, got, tc.want)
		}
	}
}

// TestUpdatesCoalesced loads ten stopped jobs in one call: a burst of
// events that the node announces in one or two updates, not ten.
func TestUpdatesCoalesced(t *testing.T) {
	a := newMember(t, "a", nil)
	a.start("")
	nc, err := nats.Connect(a.node.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	updates, err := nc.SubscribeSync("gaffer.reg.info.a")
	if err != nil {
		t.Fatal(err)
	}
	evts, err := nc.SubscribeSync("gaffer.evt.a.>")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	var specs []supervisor.JobSpec
	for i := range 10 {
		var cfg supervisor.JobConfig
		if err := json.Unmarshal([]byte(jobBody(t, fmt.Sprintf("j%d", i), false)), &cfg); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, supervisor.JobSpec{Session: "app", Config: cfg})
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.sup.LoadAll(ctx, specs); err != nil {
		t.Fatal(err)
	}
	converge(t, a, "ten jobs", func(v map[string]cluster.NodeInfo) bool { return len(v["a"].Jobs) == 10 })
	for i := range 10 {
		if _, err := evts.NextMsg(wait); err != nil {
			t.Fatalf("event %d of the ten loads: %v", i, err)
		}
	}
	// The last update carries all ten jobs: count those before it.
	n := 0
	for {
		m, err := updates.NextMsg(wait)
		if err != nil {
			t.Fatalf("after %d updates: %v", n, err)
		}
		n++
		if strings.Count(string(m.Data), `"name":"app.j`) == 10 {
			break
		}
	}
	if n > 2 {
		t.Errorf("%d updates for one burst of ten loads, want at most 2", n)
	}
}

// TestNKeyAuth joins a server that requires an NKey user.
func TestNKeyAuth(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(wait) {
		t.Fatal("server not ready")
	}
	m := newMember(t, "a", nil)
	o := m.opts(srv.ClientURL())
	if n, err := cluster.Start(context.Background(), m.sup, m.api, o); err == nil {
		n.Close()
		t.Fatal("joined without the NKey")
	}
	o.NKeySeedFile = seedFile
	n, err := cluster.Start(context.Background(), m.sup, m.api, o)
	if err != nil {
		t.Fatalf("with the NKey seed: %v", err)
	}
	n.Close()
	o.NKeySeedFile = filepath.Join(t.TempDir(), "missing.nk")
	if _, err := cluster.Start(context.Background(), m.sup, m.api, o); err == nil || !strings.Contains(err.Error(), "missing.nk") {
		t.Errorf("missing seed file: %v", err)
	}
}

// BenchmarkDo is one GET /jobs on another node through the cluster.
func BenchmarkDo(b *testing.B) {
	sup := supervisor.New(supervisor.Options{Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)
	api := rest.New(sup, rest.Options{})
	na, err := cluster.Start(ctx, sup, api, cluster.Options{Embedded: true, Listen: "127.0.0.1:0", Name: "a", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer na.Close()
	nb, err := cluster.Start(ctx, sup, api, cluster.Options{URL: na.ClientURL(), Name: "b", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	for b.Loop() {
		resp, err := na.Do(ctx, "b", httptest.NewRequest("GET", "/jobs", nil))
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
	}
}
