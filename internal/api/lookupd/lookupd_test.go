package lookupd_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/lookupd"
	"github.com/gafferhq/gaffer/internal/cluster"
)

// fakeRegistry is a registry whose nodes and events the test sets.
type fakeRegistry struct {
	mu       sync.Mutex
	nodes    []cluster.NodeInfo
	watchers []chan cluster.RegistryEvent
	seeded   chan struct{} // signalled when Nodes is read (the stream reads it after Watch)
}

func newFake(nodes ...cluster.NodeInfo) *fakeRegistry {
	return &fakeRegistry{nodes: nodes, seeded: make(chan struct{}, 8)}
}

func (f *fakeRegistry) Nodes() []cluster.NodeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case f.seeded <- struct{}{}:
	default:
	}
	return append([]cluster.NodeInfo(nil), f.nodes...)
}

func (f *fakeRegistry) Watch(ctx context.Context) <-chan cluster.RegistryEvent {
	ch := make(chan cluster.RegistryEvent, 16)
	f.mu.Lock()
	f.watchers = append(f.watchers, ch)
	f.mu.Unlock()
	return ch
}

// replace sets the nodes without telling watchers, then drops every
// watcher, as a registry does with one that fell behind.
func (f *fakeRegistry) replace(nodes ...cluster.NodeInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes = nodes
	for _, w := range f.watchers {
		close(w)
	}
	f.watchers = nil
}

// publish sets the node's state and tells every watcher.
func (f *fakeRegistry) publish(kind string, n cluster.NodeInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.nodes {
		if f.nodes[i].Name == n.Name {
			f.nodes = append(f.nodes[:i], f.nodes[i+1:]...)
			break
		}
	}
	if kind != cluster.EventRemove {
		f.nodes = append(f.nodes, n)
	}
	for _, w := range f.watchers {
		w <- cluster.RegistryEvent{Kind: kind, Node: n}
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// twoNodes: "alpha" (joined first) runs app.web (pids 4, 1) and
// default.cron; "beta" runs app.web (pid 7) and other.db.
func twoNodes() *fakeRegistry {
	return newFake(
		cluster.NodeInfo{Name: "beta", Origin: "http://beta:5000", Version: "1.2", Started: t0.Add(time.Second),
			Jobs: []cluster.JobEntry{{Name: "app.web", Pids: []int{7}}, {Name: "other.db"}}},
		cluster.NodeInfo{Name: "alpha", Origin: "http://alpha:5000", Version: "1.2", Started: t0,
			Jobs: []cluster.JobEntry{{Name: "app.web", Pids: []int{4, 1}}, {Name: "default.cron"}}},
	)
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// sameJSON compares two JSON texts as values.
func sameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: answer is not JSON: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation: %v", what, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s:\n got %s\nwant %s", what, gb, wb)
	}
}

const (
	alphaRef = `{"name":"alpha","origin":"http://alpha:5000","version":"0.1"}`
	betaRef  = `{"name":"beta","origin":"http://beta:5000","version":"0.1"}`
	alphaWeb = `{"name":"alpha","pids":[1,4],"node_info":` + alphaRef + `}`
	betaWeb  = `{"name":"beta","pids":[7],"node_info":` + betaRef + `}`
	alphaCr  = `{"name":"alpha","pids":[],"node_info":` + alphaRef + `}`
	betaDB   = `{"name":"beta","pids":[],"node_info":` + betaRef + `}`
)

func TestQueryRoutesAnswerLookupdJSON(t *testing.T) {
	srv := httptest.NewServer(lookupd.New(twoNodes(), lookupd.Options{}))
	defer srv.Close()
	tests := []struct {
		path, want string
	}{
		{"/", `{"welcome":"gaffer-lookupd","version":"0.5.2"}`},
		{"/version", `{"version":"0.5.2"}`},
		{"/nodes", `{"nodes":[` + alphaRef + `,` + betaRef + `]}`},
		{"/jobs", `{"nb_jobs":3,"jobs":[
			{"name":"app.web","sources":[` + alphaWeb + `,` + betaWeb + `]},
			{"name":"default.cron","sources":[` + alphaCr + `]},
			{"name":"other.db","sources":[` + betaDB + `]}]}`},
		{"/sessions", `{"nb_sessions":3,"sessions":[
			{"sessionid":"app","jobs":{"app.web":[` + alphaWeb + `,` + betaWeb + `]}},
			{"sessionid":"default","jobs":{"default.cron":[` + alphaCr + `]}},
			{"sessionid":"other","jobs":{"other.db":[` + betaDB + `]}}]}`},
		{"/sessions/beta", `{"nb_sessions":2,"sessions":[
			{"sessionid":"app","jobs":{"app.web":[` + betaWeb + `]}},
			{"sessionid":"other","jobs":{"other.db":[` + betaDB + `]}}]}`},
		{"/sessions/nobody", `{"nb_sessions":0,"sessions":[]}`},
		{"/findJob?name=app.web", `{"sources":[` + alphaWeb + `,` + betaWeb + `]}`},
		{"/findJob?name=cron", `{"sources":[` + alphaCr + `]}`}, // no session: "default"
		{"/findJob?name=app.nope", `{"sources":[]}`},
		{"/findSession?sessionid=app", `{"nb_jobs":1,"jobs":[{"name":"app.web","sources":[` + alphaWeb + `,` + betaWeb + `]}]}`},
		{"/findSession?sessionid=none", `{"nb_jobs":0,"jobs":[]}`},
	}
	for _, tt := range tests {
		code, body := get(t, srv, tt.path)
		if code != http.StatusOK {
			t.Errorf("GET %s: status %d: %s", tt.path, code, body)
			continue
		}
		sameJSON(t, "GET "+tt.path, body, tt.want)
	}
	if code, body := get(t, srv, "/ping"); code != 200 || body != "OK" {
		t.Errorf("GET /ping = %d %q, want 200 OK", code, body)
	}
}

func TestQueryErrorsNameTheProblem(t *testing.T) {
	srv := httptest.NewServer(lookupd.New(newFake(), lookupd.Options{}))
	defer srv.Close()
	for _, tt := range []struct {
		path   string
		status int
		reason string
	}{
		{"/findJob", 400, "missing query parameter name"},
		{"/findSession", 400, "missing query parameter sessionid"},
		{"/nope", 404, "not_found"},
	} {
		code, body := get(t, srv, tt.path)
		if code != tt.status || !strings.Contains(body, tt.reason) {
			t.Errorf("GET %s = %d %s, want %d with %q", tt.path, code, body, tt.status, tt.reason)
		}
	}
	resp, err := srv.Client().Post(srv.URL+"/nodes", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /nodes = %d, want 405", resp.StatusCode)
	}
	// An empty cluster lists empty arrays, not nulls.
	_, body := get(t, srv, "/nodes")
	sameJSON(t, "empty /nodes", body, `{"nodes":[]}`)
	_, body = get(t, srv, "/jobs")
	sameJSON(t, "empty /jobs", body, `{"nb_jobs":0,"jobs":[]}`)
}

func TestCORSHeadersAsGafferd(t *testing.T) {
	srv := httptest.NewServer(lookupd.New(newFake(), lookupd.Options{}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/jobs", nil)
	req.Header.Set("Origin", "http://dash.test")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://dash.test" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight = %d %v", resp.StatusCode, resp.Header)
	}
}

// listen opens the registry stream and waits until the handler watches.
func listen(t *testing.T, ctx context.Context, srv *httptest.Server, reg *fakeRegistry, path string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reg.seeded:
	case <-ctx.Done():
		t.Fatal("the handler never watched the registry")
	}
	return conn
}

// expect reads len(want) messages and compares them in order.
func expect(t *testing.T, ctx context.Context, conn *websocket.Conn, want ...string) {
	t.Helper()
	for i, w := range want {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("message %d of %d: %v", i+1, len(want), err)
		}
		sameJSON(t, "event", string(data), w)
	}
}

func TestRegistryStreamTellsAddUpdateRemove(t *testing.T) {
	reg := twoNodes()
	srv := httptest.NewServer(lookupd.New(reg, lookupd.Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn := listen(t, ctx, srv, reg, "/lookup/websocket")
	defer conn.CloseNow()

	// Nodes present at connect time are not replayed; a new one is.
	gamma := cluster.NodeInfo{Name: "gamma", Origin: "http://gamma:5000", Version: "1.2", Started: t0.Add(time.Minute),
		Jobs: []cluster.JobEntry{{Name: "app.web", Pids: []int{2}}}}
	gammaRef := `{"name":"gamma","origin":"http://gamma:5000","version":"0.1"}`
	reg.publish(cluster.EventAdd, gamma)
	expect(t, ctx, conn,
		`{"event":"add_node","name":null,"origin":null,"version":null}`,
		`{"event":"identify","name":"gamma","origin":"http://gamma:5000","version":"0.1"}`,
		`{"event":"add_job","node":`+gammaRef+`,"job_name":"app.web"}`,
		`{"event":"add_process","node":`+gammaRef+`,"job_name":"app.web","pid":2}`)

	// An update says only what changed: pid 2 gone, 3 and 5 new, a new job.
	gamma.Jobs = []cluster.JobEntry{{Name: "app.web", Pids: []int{5, 3}}, {Name: "app.worker"}}
	reg.publish(cluster.EventUpdate, gamma)
	expect(t, ctx, conn,
		`{"event":"remove_process","node":`+gammaRef+`,"job_name":"app.web","pid":2}`,
		`{"event":"add_process","node":`+gammaRef+`,"job_name":"app.web","pid":3}`,
		`{"event":"add_process","node":`+gammaRef+`,"job_name":"app.web","pid":5}`,
		`{"event":"add_job","node":`+gammaRef+`,"job_name":"app.worker"}`)

	// An unloaded job: its processes, then the job.
	gamma.Jobs = []cluster.JobEntry{{Name: "app.worker"}}
	reg.publish(cluster.EventUpdate, gamma)
	expect(t, ctx, conn,
		`{"event":"remove_process","node":`+gammaRef+`,"job_name":"app.web","pid":3}`,
		`{"event":"remove_process","node":`+gammaRef+`,"job_name":"app.web","pid":5}`,
		`{"event":"remove_job","node":`+gammaRef+`,"job_name":"app.web"}`)

	// A node known from before the connection changes and then leaves.
	beta := reg.Nodes()[0]
	beta.Jobs = []cluster.JobEntry{{Name: "app.web", Pids: []int{7}}}
	reg.publish(cluster.EventUpdate, beta)
	reg.publish(cluster.EventRemove, beta)
	expect(t, ctx, conn,
		`{"event":"remove_job","node":`+betaRef+`,"job_name":"other.db"}`,
		`{"event":"remove_node","name":"beta","origin":"http://beta:5000","version":"0.1"}`)

	// The same update twice tells nothing the second time: the next message
	// is the one after it.
	reg.publish(cluster.EventUpdate, gamma)
	reg.publish(cluster.EventRemove, gamma)
	expect(t, ctx, conn, `{"event":"remove_node","name":"gamma","origin":"http://gamma:5000","version":"0.1"}`)
	// An orderly close from the listener ends the stream.
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestRegistryStreamAlsoAtLookup(t *testing.T) {
	reg := newFake()
	srv := httptest.NewServer(lookupd.New(reg, lookupd.Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn := listen(t, ctx, srv, reg, "/lookup")
	defer conn.CloseNow()
	// Text a listener sends (the reference client's pings) is ignored.
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"PING"}`)); err != nil {
		t.Fatal(err)
	}
	reg.publish(cluster.EventAdd, cluster.NodeInfo{Name: "solo", Origin: "http://solo:1"})
	expect(t, ctx, conn,
		`{"event":"add_node","name":null,"origin":null,"version":null}`,
		`{"event":"identify","name":"solo","origin":"http://solo:1","version":"0.1"}`)
}

func TestRegistryStreamRefusesForeignOrigin(t *testing.T) {
	reg := newFake()
	srv := httptest.NewServer(lookupd.New(reg, lookupd.Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h := http.Header{"Origin": {"http://evil.test"}}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/lookup/websocket",
		&websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		conn.CloseNow()
		t.Fatal("a page of another origin opened the registry stream")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %v (%v), want 403", err, resp)
	}
}

func TestRegistryStreamCatchesUpAfterTheRegistryDropsIt(t *testing.T) {
	reg := twoNodes()
	srv := httptest.NewServer(lookupd.New(reg, lookupd.Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn := listen(t, ctx, srv, reg, "/lookup/websocket")
	defer conn.CloseNow()
	// While the listener was not watching, beta left and delta came.
	alpha := reg.Nodes()[1]
	delta := cluster.NodeInfo{Name: "delta", Origin: "http://delta:5000", Jobs: []cluster.JobEntry{{Name: "x.y"}}}
	deltaRef := `{"name":"delta","origin":"http://delta:5000","version":"0.1"}`
	reg.replace(alpha, delta)
	expect(t, ctx, conn,
		`{"event":"add_node","name":null,"origin":null,"version":null}`,
		`{"event":"identify","name":"delta","origin":"http://delta:5000","version":"0.1"}`,
		`{"event":"add_job","node":`+deltaRef+`,"job_name":"x.y"}`,
		`{"event":"remove_node","name":"beta","origin":"http://beta:5000","version":"0.1"}`)
	// And it watches again.
	reg.publish(cluster.EventRemove, delta)
	expect(t, ctx, conn, `{"event":"remove_node","name":"delta","origin":"http://delta:5000","version":"0.1"}`)
}

func TestListenAddr(t *testing.T) {
	for _, tt := range []struct {
		addr   string
		remote bool
		want   string // "" = an error
	}{
		{"5010", false, "127.0.0.1:5010"},
		{":6000", false, "127.0.0.1:6000"},
		{"localhost:", false, "localhost:5010"},
		{"[::1]:7", false, "[::1]:7"},
		{"10.1.2.3:5010", false, ""},
		{"0.0.0.0:5010", true, "0.0.0.0:5010"},
		{"nope", false, ""},
		{"127.0.0.1:99999", false, ""},
		{"127.0.0.1:http", false, ""},
	} {
		got, err := lookupd.ListenAddr(tt.addr, tt.remote)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("ListenAddr(%q, %v) = %q, %v; want %q", tt.addr, tt.remote, got, err, tt.want)
		}
	}
	ln, err := lookupd.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := &http.Server{Handler: lookupd.New(newFake(), lookupd.Options{})}
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /ping on the listener = %d", resp.StatusCode)
	}
}

func FuzzListenAddr(f *testing.F) {
	for _, s := range []string{"5010", ":1", "localhost:", "[::1]:7", "10.0.0.1:1", "x", "", "a:b:c", "[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got, err := lookupd.ListenAddr(addr, false)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(got)
		if err != nil || port == "" || host == "" {
			t.Fatalf("ListenAddr(%q) = %q, not host:port", addr, got)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("ListenAddr(%q) = %q: not loopback", addr, got)
		}
	})
}
