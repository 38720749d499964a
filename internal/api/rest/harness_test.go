package rest_test

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
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

// wait bounds every wait for an event.
const wait = 10 * time.Second

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
	sup := supervisor.New(supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	spawns := sup.Subscribe(1<<14, supervisor.DropOldest, "spawn")
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	ts := httptest.NewServer(rest.New(sup, opts))
	t.Cleanup(func() {
		ts.Close()
		cancel()
		select {
		case <-sup.Done():
		case <-time.After(30 * time.Second):
			t.Error("supervisor did not stop")
		}
		spawns.Close()
		for e := range spawns.C() {
			if !gaffertest.Gone(e.OSPid) {
				t.Errorf("process %d (os pid %d) of %s still alive", e.Pid, e.OSPid, e.Name)
			}
		}
	})
	return &server{t: t, sup: sup, url: ts.URL}
}

// do sends a request and returns the status, headers and body.
func (s *server) do(method, path, body string) (int, http.Header, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// call sends a request, checks the status and decodes the JSON answer.
func (s *server) call(method, path, body string, want int) map[string]any {
	s.t.Helper()
	status, h, b := s.do(method, path, body)
	if status != want {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		s.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		s.t.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
	return m
}

// load loads a job running this test binary as helper (start as given).
func (s *server) load(session, name, helper string, start bool, extra map[string]any) {
	s.t.Helper()
	s.call("POST", "/jobs/"+session, jobBody(s.t, name, helper, start, extra), http.StatusOK)
}

func jobBody(t *testing.T, name, helper string, start bool, extra map[string]any) string {
	cfg := map[string]any{"name": name, "cmd": gaffertest.Self(t),
		"env":              map[string]string{gaffertest.HelperEnv: helper, "GORACE": "atexit_sleep_ms=0"},
		"graceful_timeout": 5, "start": start}
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pids returns the job's supervised pids as the API lists them.
func (s *server) pids(job string) []int {
	s.t.Helper()
	return ints(s.t, s.call("GET", "/jobs/"+job+"/pids", "", http.StatusOK)["pids"])
}

// osPid is the OS pid of an internal pid.
func (s *server) osPid(pid int) int {
	s.t.Helper()
	return int(s.call("GET", "/"+itoa(pid), "", http.StatusOK)["os_pid"].(float64))
}

func (s *server) subscribe(patterns ...string) *events.Sub {
	sub := s.sup.Subscribe(1024, supervisor.DropOldest, patterns...)
	s.t.Cleanup(sub.Close)
	return sub
}

func ints(t *testing.T, v any) []int {
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
	left := map[int]bool{}
	for _, p := range pids {
		left[p] = true
	}
	for len(left) > 0 {
		e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" && left[e.Pid] })
		if !gaffertest.Gone(e.OSPid) {
			t.Errorf("pid %d (os pid %d) still alive after its exit event", e.Pid, e.OSPid)
		}
		delete(left, e.Pid)
	}
}

func isExit(pid int) func(events.Event) bool {
	return func(e events.Event) bool { return e.Type == "exit" && e.Pid == pid }
}
