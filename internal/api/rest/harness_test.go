package rest_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest/enginetest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// wait bounds every wait for an event.
const wait = enginetest.Wait

// server is a real supervisor behind the REST handler on a loopback listener.
type server struct {
	t   *testing.T
	sup *supervisor.Supervisor
	url string
}

// newServer starts a supervisor and the API for one test. At cleanup it
// stops the supervisor, waits until every child is reaped and checks that
// no process the test spawned is still alive.
func newServer(t *testing.T, opts rest.Options) *server {
	t.Helper()
	e := enginetest.New(t, enginetest.Options{})
	ts := e.Serve(rest.New(e.Sup, opts), enginetest.ServeOptions{})
	return &server{t: t, sup: e.Sup, url: ts.URL}
}

func (s *server) client() enginetest.Client { return enginetest.Client{T: s.t, URL: s.url} }

// do sends a request and returns the status, headers and body.
func (s *server) do(method, path, body string) (int, http.Header, string) {
	s.t.Helper()
	return s.client().Do(method, path, body)
}

// call sends a request, checks the status and decodes the JSON answer.
func (s *server) call(method, path, body string, want int) map[string]any {
	s.t.Helper()
	return s.client().Call(method, path, body, want)
}

// load loads a job running this test binary as helper (start as given).
func (s *server) load(session, name, helper string, start bool, extra map[string]any) {
	s.t.Helper()
	s.client().Load(session, name, helper, start, extra)
}

func jobBody(t *testing.T, name, helper string, start bool, extra map[string]any) string {
	return enginetest.JobBody(t, name, helper, start, extra)
}

// pids returns the job's supervised pids as the API lists them.
func (s *server) pids(job string) []int {
	s.t.Helper()
	return s.client().Pids(job)
}

// osPid is the OS pid of an internal pid.
func (s *server) osPid(pid int) int {
	s.t.Helper()
	return s.client().OSPid(pid)
}

func (s *server) subscribe(patterns ...string) *events.Sub {
	sub := s.sup.Subscribe(1024, supervisor.DropOldest, patterns...)
	s.t.Cleanup(sub.Close)
	return sub
}

func ints(t *testing.T, v any) []int {
	t.Helper()
	return enginetest.Ints(t, v)
}

func itoa(n int) string { return strconv.Itoa(n) }

// wantManagerError checks gaffer's {"error": code, "errno": status} shape.
func wantManagerError(t *testing.T, m map[string]any, code string, status int) {
	t.Helper()
	if m["error"] != code || m["errno"] != float64(status) {
		t.Fatalf("error body %v, want error %q errno %d", m, code, status)
	}
}

// wantFrameworkError checks the {"error": status, "reason": text} shape.
func wantFrameworkError(t *testing.T, m map[string]any, status int, reason string) {
	t.Helper()
	if m["error"] != float64(status) || m["reason"] != reason {
		t.Fatalf("error body %v, want error %d reason %q", m, status, reason)
	}
}

// waitExits waits for the exit events of every pid, in any order.
func waitExits(t *testing.T, sub *events.Sub, pids ...int) {
	t.Helper()
	enginetest.WaitExits(t, sub, pids...)
}

var isExit = enginetest.IsExit
