// Package enginetest runs a real supervisor for API tests, optionally behind
// an HTTP handler on a loopback listener, and checks at cleanup that every
// process a test spawned is gone. It is imported by tests only.
package enginetest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// Wait bounds every wait for an event or an answer.
const Wait = 10 * time.Second

// Main runs a test binary's helper when it was started as one, and its
// tests otherwise; call it from TestMain.
func Main(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

// Options configure an Engine.
type Options struct {
	// Logger is the supervisor's logger; nil discards its logs.
	Logger *slog.Logger
}

// Engine is a running supervisor for one test.
type Engine struct {
	T   testing.TB
	Sup *supervisor.Supervisor

	cancel context.CancelFunc
	once   sync.Once
}

// New starts a supervisor for t. At cleanup it stops the supervisor and
// checks that every process the test spawned is gone. Cleanups registered
// after New (servers, cluster nodes) run before that.
func New(t testing.TB, opts Options) *Engine {
	t.Helper()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sup := supervisor.New(supervisor.Options{Logger: logger})
	spawns := sup.Subscribe(1<<14, supervisor.DropOldest, "spawn")
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	e := &Engine{T: t, Sup: sup, cancel: cancel}
	t.Cleanup(func() {
		e.Stop()
		spawns.Close()
		for ev := range spawns.C() {
			if !gaffertest.Gone(ev.OSPid) {
				t.Errorf("process %d (os pid %d) of %s still alive", ev.Pid, ev.OSPid, ev.Name)
			}
		}
	})
	return e
}

// Stop stops the supervisor and waits for it to end; only the first call
// does anything.
func (e *Engine) Stop() {
	e.once.Do(func() {
		e.cancel()
		select {
		case <-e.Sup.Done():
		case <-time.After(30 * time.Second):
			e.T.Error("supervisor did not stop")
		}
	})
}

// Subscribe subscribes to the supervisor's events (1024 buffered, oldest
// dropped) until the end of the test.
func (e *Engine) Subscribe(patterns ...string) *events.Sub {
	sub := e.Sup.Subscribe(1024, supervisor.DropOldest, patterns...)
	e.T.Cleanup(sub.Close)
	return sub
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// Setup changes the listener before the server starts.
	Setup func(*httptest.Server)
	// StopFirst stops the supervisor before the server closes at cleanup,
	// for handlers whose streams end with the supervisor.
	StopFirst bool
	// CloseClients closes client connections still open before the server
	// closes at cleanup.
	CloseClients bool
}

// Server is an Engine behind an HTTP handler on a loopback listener.
type Server struct {
	Client
	Engine *Engine
	TS     *httptest.Server
}

// Client sends requests to a server at URL for the test T.
type Client struct {
	T   testing.TB
	URL string
}

// Serve runs h on a loopback listener until the end of the test.
func (e *Engine) Serve(h http.Handler, opts ServeOptions) *Server {
	e.T.Helper()
	ts := httptest.NewUnstartedServer(h)
	if opts.Setup != nil {
		opts.Setup(ts)
	}
	ts.Start()
	e.T.Cleanup(func() {
		if opts.StopFirst {
			e.Stop()
		}
		if opts.CloseClients {
			ts.CloseClientConnections()
		}
		ts.Close()
	})
	return &Server{Client: Client{T: e.T, URL: ts.URL}, Engine: e, TS: ts}
}

// Matcher is a handler that serves some paths of a mux, as the websocket
// channel does.
type Matcher interface {
	http.Handler
	Match(path string) bool
}

// Route sends the requests m matches to m and all others to fallback, as
// gafferd routes its websocket channel in front of the REST API.
func Route(m Matcher, fallback http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Match(r.URL.Path) {
			m.ServeHTTP(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

// Request sends a request to c (no body when body is empty) after edit, if not
// nil, has changed it, and returns the status, headers and body.
func (c Client) Request(method, path, body string, edit func(*http.Request)) (int, http.Header, string) {
	c.T.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// Do sends a request and returns the status, headers and body.
func (c Client) Do(method, path, body string) (int, http.Header, string) {
	c.T.Helper()
	return c.Request(method, path, body, nil)
}

// Call sends a request to the REST API, checks the status and decodes the
// JSON answer.
func (c Client) Call(method, path, body string, want int) map[string]any {
	c.T.Helper()
	status, h, b := c.Do(method, path, body)
	if status != want {
		c.T.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		c.T.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		c.T.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
	return m
}

// Load loads a job running this test binary as helper through the REST
// API (started as start says).
func (c Client) Load(session, name, helper string, start bool, extra map[string]any) {
	c.T.Helper()
	c.Call("POST", "/jobs/"+session, JobBody(c.T, name, helper, start, extra), http.StatusOK)
}

// Pids returns the job's supervised pids as the REST API lists them.
func (c Client) Pids(job string) []int {
	c.T.Helper()
	return Ints(c.T, c.Call("GET", "/jobs/"+job+"/pids", "", http.StatusOK)["pids"])
}

// OSPid is the OS pid of an internal pid, as the REST API tells it.
func (c Client) OSPid(pid int) int {
	c.T.Helper()
	return int(c.Call("GET", "/"+strconv.Itoa(pid), "", http.StatusOK)["os_pid"].(float64))
}

// HelperJob is the JSON config of a job running this test binary as
// helper, with extra keys added.
func HelperJob(t testing.TB, name, helper string, extra map[string]any) map[string]any {
	j := map[string]any{"name": name, "cmd": gaffertest.Self(t), "graceful_timeout": 5,
		"env": map[string]string{gaffertest.HelperEnv: helper, "GORACE": "atexit_sleep_ms=0"}}
	for k, v := range extra {
		j[k] = v
	}
	return j
}

// JobBody is HelperJob's JSON with "start" set.
func JobBody(t testing.TB, name, helper string, start bool, extra map[string]any) string {
	cfg := HelperJob(t, name, helper, map[string]any{"start": start})
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Ints converts a decoded JSON list of numbers.
func Ints(t testing.TB, v any) []int {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("not a list: %#v", v)
	}
	out := []int{}
	for _, x := range list {
		out = append(out, int(x.(float64)))
	}
	return out
}

// WaitExits waits for the exit events of every pid, in any order, and
// checks that each process is gone.
func WaitExits(t testing.TB, sub *events.Sub, pids ...int) {
	t.Helper()
	left := map[int]bool{}
	for _, p := range pids {
		left[p] = true
	}
	for len(left) > 0 {
		e := gaffertest.WaitFor(t, sub, Wait, func(e events.Event) bool { return e.Type == "exit" && left[e.Pid] })
		if !gaffertest.Gone(e.OSPid) {
			t.Errorf("pid %d (os pid %d) still alive after its exit event", e.Pid, e.OSPid)
		}
		delete(left, e.Pid)
	}
}

// IsExit matches the exit event of pid.
func IsExit(pid int) func(events.Event) bool {
	return func(e events.Event) bool { return e.Type == "exit" && e.Pid == pid }
}
