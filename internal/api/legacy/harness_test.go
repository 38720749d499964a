package legacy_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/legacy"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/internal/gaffertest/enginetest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// wait bounds every wait for an event or a stream.
const wait = enginetest.Wait

type server struct {
	t   *testing.T
	sup *supervisor.Supervisor
	h   *legacy.Handler
	url string
	api enginetest.Client
}

// newServer runs a real supervisor behind the legacy handler on loopback.
// At cleanup it stops the supervisor and checks that every process the
// test spawned is gone.
func newServer(t *testing.T, opts legacy.Options) *server {
	t.Helper()
	e := enginetest.New(t, enginetest.Options{})
	h := legacy.New(e.Sup, opts)
	ts := e.Serve(h, enginetest.ServeOptions{StopFirst: true})
	return &server{t: t, sup: e.Sup, h: h, url: ts.URL, api: ts.Client}
}

// do sends a request the way gaffer 0.4.4's Python client does (Accept:
// application/json, an empty body on POST/PUT without one) and returns
// the status, headers and body.
func (s *server) do(method, path, body string) (int, http.Header, string) {
	s.t.Helper()
	return s.api.Request(method, path, body, func(req *http.Request) {
		req.Header.Set("Accept", "application/json")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
	})
}

// expect sends a request and checks its status and JSON body.
func (s *server) expect(method, path, body string, status int, want string) {
	s.t.Helper()
	code, _, got := s.do(method, path, body)
	if code != status {
		s.t.Fatalf("%s %s: status %d, want %d (body %s)", method, path, code, status, got)
	}
	if want != "" && !jsonEqual(s.t, got, want) {
		s.t.Fatalf("%s %s: body %s, want %s", method, path, got, want)
	}
}

// expectError checks a 0.4.4 error: status and "error" code, with a reason.
func (s *server) expectError(method, path, body string, status int, code string) {
	s.t.Helper()
	got, _, b := s.do(method, path, body)
	if got != status {
		s.t.Fatalf("%s %s: status %d, want %d (body %s)", method, path, got, status, b)
	}
	var e struct {
		Error  any    `json:"error"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(b), &e); err != nil {
		s.t.Fatalf("%s %s: body %q is not JSON: %v", method, path, b, err)
	}
	if e.Error != code {
		s.t.Fatalf("%s %s: error %v, want %q (body %s)", method, path, e.Error, code, b)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("not JSON: %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("not JSON: %q: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// template is the JSON of a template running one of gaffertest's helpers.
func template(t *testing.T, name, helper string, extra map[string]any) string {
	t.Helper()
	m := map[string]any{"name": name, "cmd": gaffertest.Self(t), "env": map[string]string{gaffertest.HelperEnv: helper},
		"graceful_timeout": 2}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitEvent waits for an event of sub that match accepts.
func waitEvent(t *testing.T, sub *events.Sub, match func(events.Event) bool) events.Event {
	t.Helper()
	return gaffertest.WaitFor(t, sub, wait, match)
}

func typeIs(typ string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Type == typ }
}
