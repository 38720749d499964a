package legacy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/legacy"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// TestSeedGafferctlSession replays the seed's gafferctl 0.4.4 workflow over
// HTTP, request by request as the Python client sent them: load a
// template, add and remove processes, read its status and the running
// pids, signal it, remove it.
func TestSeedGafferctlSession(t *testing.T) {
	s := newServer(t, legacy.Options{})
	sub := s.sup.Subscribe(1024, supervisor.DropOldest, "spawn", "exit", "reap")
	defer sub.Close()

	s.expect("GET", "/processes", "", 200, `[]`)
	// gafferctl load_process test.json
	s.expect("POST", "/processes", template(t, "dummy", "sleep", map[string]any{"numprocesses": 1}), 200, `{"ok":true}`)
	first := waitEvent(t, sub, typeIs("spawn"))
	s.expect("GET", "/processes", "", 200, `["dummy"]`)
	s.expect("HEAD", "/processes/dummy", "", 200, "")

	// gafferctl add dummy 3
	s.expect("POST", "/processes/dummy/_add/3", "", 200, `{"ok":true,"numprocesses":4}`)
	for range 3 {
		waitEvent(t, sub, typeIs("spawn"))
	}
	s.expect("GET", "/status/dummy", "", 200, `{"active":true,"running":4,"max_processes":4}`)
	_, _, body := s.do("GET", "/processes?running=true", "")
	var running []int
	if err := json.Unmarshal([]byte(body), &running); err != nil || len(running) != 4 || running[0] != first.Pid {
		t.Fatalf("running pids = %s, want 4 pids starting with %d", body, first.Pid)
	}
	s.expect("GET", "/processes?running=1", "", 200, body)
	s.expect("GET", "/processes/dummy/_pids", "", 200, fmt.Sprintf(`{"ok":true,"pids":%s}`, body))

	// gafferctl sub dummy 2: the two oldest are reaped.
	s.expect("POST", "/processes/dummy/_sub/2", "", 200, `{"ok":true,"numprocesses":2}`)
	reaped := []int{waitEvent(t, sub, typeIs("reap")).Pid, waitEvent(t, sub, typeIs("reap")).Pid}
	if !slices.Equal(reaped, running[:2]) {
		t.Fatalf("reaped %v, want the oldest %v", reaped, running[:2])
	}
	s.expect("POST", "/processes/dummy/_sub", "", 200, `{"ok":true,"numprocesses":1}`)
	s.expect("POST", "/processes/dummy/_add", "", 200, `{"ok":true,"numprocesses":2}`)

	// Template info: name, cmd and the settings as given.
	_, _, info := s.do("GET", "/processes/dummy", "")
	var m map[string]any
	json.Unmarshal([]byte(info), &m)
	if m["name"] != "dummy" || m["cmd"] == nil || m["numprocesses"] != 1.0 {
		t.Fatalf("template info = %s", info)
	}
	// A pid addresses the process: its template's info.
	s.expect("HEAD", fmt.Sprintf("/processes/%d", running[3]), "", 200, "")
	s.expect("GET", fmt.Sprintf("/processes/%d", running[3]), "", 200, info)

	// gafferctl kill dummy TERM sends the number: every process dies and
	// is replaced.
	live := s.pids("dummy")
	s.expect("POST", "/processes/dummy/_signal/15", "", 200, `{"ok":true}`)
	left := map[int]bool{}
	for _, pid := range live {
		left[pid] = true
	}
	for len(left) > 0 {
		e := waitEvent(t, sub, func(e events.Event) bool { return e.Type == "exit" && left[e.Pid] })
		if e.TermSignal != 15 {
			t.Fatalf("exit %+v, want term_signal 15", e)
		}
		delete(left, e.Pid)
	}
	// Signal and stop one pid.
	pids := s.pids("dummy")
	s.expect("POST", fmt.Sprintf("/processes/%d/_signal/15", pids[0]), "", 200, `{"ok":true}`)
	waitExit(t, sub, pids[0])
	pids = s.pids("dummy")
	s.expect("POST", fmt.Sprintf("/processes/%d/_stop", pids[0]), "", 200, `{"ok":true}`)
	waitExit(t, sub, pids[0])
	pids = s.pids("dummy")
	s.expect("DELETE", fmt.Sprintf("/processes/%d", pids[0]), "", 200, `{"ok":true}`)
	s.expect("HEAD", fmt.Sprintf("/processes/%d", pids[0]), "", 404, "")

	// stop, start, restart
	s.expect("POST", "/processes/dummy/_stop", "", 200, `{"ok":true}`)
	s.expect("GET", "/status/dummy", "", 200, `{"active":false,"running":0,"max_processes":0}`)
	s.expect("POST", "/processes/dummy/_start", "", 200, `{"ok":true}`)
	s.expect("GET", "/status/dummy", "", 200, `{"active":true,"running":1,"max_processes":1}`)
	before := s.pids("dummy")
	s.expect("POST", "/processes/dummy/_restart", "", 200, `{"ok":true}`)
	if after := s.pids("dummy"); len(after) != 1 || after[0] == before[0] {
		t.Fatalf("restart: pids %v then %v, want a new one", before, after)
	}

	// PUT replaces the settings and the processes.
	spawns := s.sup.Subscribe(64, supervisor.DropOldest, "spawn")
	defer spawns.Close()
	s.expect("PUT", "/processes/dummy", template(t, "ignored", "sleep", map[string]any{"numprocesses": 2}), 200, `{"ok":true}`)
	waitEvent(t, spawns, typeIs("spawn"))
	waitEvent(t, spawns, typeIs("spawn"))
	s.expect("GET", "/status/dummy", "", 200, `{"active":true,"running":2,"max_processes":2}`)

	// gafferctl del_process dummy
	s.expect("DELETE", "/processes/dummy", "", 200, `{"ok":true}`)
	s.expect("GET", "/processes", "", 200, `[]`)
	s.expect("HEAD", "/processes/dummy", "", 404, "")
}

// pids lists a template's pids over HTTP.
func (s *server) pids(name string) []int {
	s.t.Helper()
	_, _, b := s.do("GET", "/processes/"+name+"/_pids", "")
	var r struct{ Pids []int }
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		s.t.Fatalf("_pids: %s", b)
	}
	return r.Pids
}

func TestErrorBodies(t *testing.T) {
	s := newServer(t, legacy.Options{})
	s.expect("POST", "/processes", template(t, "web", "sleep", map[string]any{"start": false, "redirect_output": []string{"out"}}), 200, `{"ok":true}`)
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/processes", `{"name": "x", "cmd": `, 400, "invalid_json"},
		{"POST", "/processes", ``, 400, "invalid_json"},
		{"POST", "/processes", `[1]`, 400, "invalid_json"},
		{"POST", "/processes", `{"name": "x"}`, 400, "invalid_process_info"},
		{"POST", "/processes", `{"cmd": "true"}`, 400, "invalid_process_info"},
		{"POST", "/processes", `{"name": "x", "cmd": "true", "numprocesses": "two"}`, 400, "invalid_process_info"},
		{"POST", "/processes", `{"name": "42", "cmd": "true"}`, 400, "invalid_process_info"},
		{"POST", "/processes", `{"name": "a.b:c", "cmd": "true"}`, 400, "invalid_process_info"},
		{"POST", "/processes", `{"name": "web", "cmd": "true"}`, 409, "conflict"},
		{"GET", "/processes/nope", "", 404, "not_found"},
		{"PUT", "/processes/nope", `{"cmd": "true"}`, 404, "not_found"},
		{"PUT", "/processes/web", `{"args": []}`, 400, "invalid_process_info"},
		{"PUT", "/processes/web", `nope`, 400, "invalid_json"},
		{"DELETE", "/processes/nope", "", 404, "not_found"},
		{"GET", "/processes/999", "", 404, "not_found"},
		{"DELETE", "/processes/999", "", 404, "not_found"},
		{"POST", "/processes/999/_stop", "", 404, "not_found"},
		{"POST", "/processes/web/_signal/TERM", "", 400, "bad_value"},
		{"POST", "/processes/web/_signal/99", "", 400, "bad_value"},
		{"POST", "/processes/web/_signal", "", 400, "no_signal_number"},
		{"POST", "/processes/web/_add/x", "", 400, "bad_value"},
		{"POST", "/processes/web/_sub/-1", "", 400, "bad_value"},
		{"POST", "/processes/web/_nope", "", 404, "resource_not_found"},
		{"POST", "/processes/web/_start/now", "", 404, "resource_not_found"},
		{"POST", "/processes/nope/_start", "", 404, "not_found"},
		{"GET", "/status/nope", "", 404, "not_found"},
		{"GET", "/groups/nope", "", 404, "not_found"},
		{"POST", "/groups/default/_nope", "", 404, "resource_not_found"},
		{"GET", "/watch/spawn", "", 404, "bad_event_type"},
		{"GET", "/watch/proc/web/nope", "", 404, "bad_event_type"},
		{"GET", "/watch/a/b/c/d", "", 404, "not_found"},
		{"GET", "/watch?feed=nope", "", 400, "bad_value"},
		{"GET", "/watch?heartbeat=soon", "", 400, "bad_value"},
		{"GET", "/stats/nope", "", 404, "not_found"},
		{"GET", "/stats/web/abc", "", 400, "bad_value"},
		{"GET", "/streams/abc/out", "", 400, "bad_value"},
		{"GET", "/streams/999/out", "", 404, "not_found"},
		{"POST", "/streams/999/stdin", "hi", 404, "not_found"},
		{"GET", "/wstreams/999", "", 404, "not_found"},
		{"GET", "/processes/", "", 404, "not_found"},
	}
	for _, tt := range tests {
		s.expectError(tt.method, tt.path, tt.body, tt.status, tt.code)
	}
	// A pid's _signal wants an integer; a stream needs redirected I/O.
	s.expect("POST", "/processes/web/_start", "", 200, `{"ok":true}`)
	pid := s.pids("web")[0]
	s.expectError("POST", fmt.Sprintf("/processes/%d/_signal/HUP", pid), "", 400, "bad_value")
	s.expectError("POST", fmt.Sprintf("/processes/%d/_nope", pid), "", 404, "resource_not_found")
	s.expectError("GET", fmt.Sprintf("/streams/%d/err", pid), "", 404, "io_not_found")
	s.expectError("POST", fmt.Sprintf("/streams/%d/stdin", pid), "hi", 403, "forbidden_write")
	s.expectError("GET", fmt.Sprintf("/stats/other/%d", pid), "", 404, "not_found")

	// Methods a route does not have: 405 in the framework shape.
	code, h, body := s.do("PATCH", "/processes/web", "")
	if code != 405 || !strings.Contains(h.Get("Allow"), "PUT") || !jsonEqual(t, body, `{"error":405,"reason":"Method Not Allowed"}`) {
		t.Fatalf("PATCH: %d %q %s", code, h.Get("Allow"), body)
	}
	if code, h, _ := s.do("OPTIONS", "/processes/web", ""); code != 204 || h.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("OPTIONS: %d %v", code, h)
	}
}

func TestIoNotRedirected(t *testing.T) {
	s := newServer(t, legacy.Options{})
	s.expect("POST", "/processes", template(t, "quiet", "sleep", nil), 200, `{"ok":true}`)
	s.expectError("GET", fmt.Sprintf("/streams/%d/out", s.pids("quiet")[0]), "", 400, "io_not_redirected")
}

func TestGroups(t *testing.T) {
	s := newServer(t, legacy.Options{})
	sub := s.sup.Subscribe(1024, supervisor.DropOldest, "spawn", "exit")
	defer sub.Close()
	s.expect("GET", "/groups", "", 200, `[]`)
	s.expect("POST", "/processes", template(t, "app:web", "sleep", nil), 200, `{"ok":true}`)
	s.expect("POST", "/processes", template(t, "app:worker", "sleep", map[string]any{"start": false}), 200, `{"ok":true}`)
	s.expect("POST", "/processes", template(t, "solo", "sleep", map[string]any{"start": false}), 200, `{"ok":true}`)
	// group:name is job group.name, a name without group is in "default".
	if info, err := s.sup.Info(t.Context(), "app.web"); err != nil || info.Running != 1 {
		t.Fatalf("job app.web: %+v %v", info, err)
	}
	s.expect("GET", "/processes", "", 200, `["app:web","app:worker","solo"]`)
	s.expect("GET", "/groups", "", 200, `["app","default"]`)
	s.expect("GET", "/groups/app", "", 200, `["app:web","app:worker"]`)
	s.expect("GET", "/status/app:web", "", 200, `{"active":true,"running":1,"max_processes":1}`)

	s.expect("POST", "/groups/app/_start", "", 200, `{"ok":true}`)
	s.expect("GET", "/status/app:worker", "", 200, `{"active":true,"running":1,"max_processes":1}`)
	s.expect("GET", "/status/solo", "", 200, `{"active":false,"running":0,"max_processes":0}`)
	s.expect("POST", "/groups/app/_restart", "", 200, `{"ok":true}`)
	s.expect("POST", "/groups/app/_stop", "", 200, `{"ok":true}`)
	s.expect("GET", "/status/app:web", "", 200, `{"active":false,"running":0,"max_processes":0}`)
	s.expect("DELETE", "/groups/app", "", 200, `{"ok":true}`)
	s.expect("GET", "/groups", "", 200, `["default"]`)
	s.expect("GET", "/processes", "", 200, `["solo"]`)
	s.expectError("DELETE", "/groups/app", "", 404, "not_found")
}

// TestAuthorize checks the permission and target each kind of route asks for.
func TestAuthorize(t *testing.T) {
	type ask struct {
		need   rest.Permission
		target string
	}
	var asked []ask
	deny := map[string]bool{}
	s := newServer(t, legacy.Options{Authorize: func(r *http.Request, need rest.Permission, target string) error {
		asked = append(asked, ask{need, target})
		if deny[target] {
			return rest.ErrForbidden
		}
		return nil
	}})
	check := func(method, path, body string, want ask) {
		t.Helper()
		asked = nil
		s.do(method, path, body)
		if len(asked) == 0 || asked[0] != want {
			t.Fatalf("%s %s asked %v, want %v", method, path, asked, want)
		}
	}
	check("POST", "/processes", template(t, "app:web", "sleep", nil), ask{rest.Manage, "app"})
	pid := s.pids("app:web")[0]
	check("GET", "/processes", "", ask{rest.ManageAll, ""})
	check("GET", "/processes/app:web", "", ask{rest.Read, "app.web"})
	check("POST", "/processes/app:web/_add", "", ask{rest.Manage, "app.web"})
	check("GET", fmt.Sprintf("/processes/%d", pid), "", ask{rest.Read, "app.web"})
	check("GET", "/status/app:web", "", ask{rest.Read, "app.web"})
	check("GET", "/groups/app", "", ask{rest.Manage, "app"})
	check("GET", "/stats/app:web", "", ask{rest.Read, "app.web"})
	check("POST", fmt.Sprintf("/streams/%d/stdin", pid), "x", ask{rest.Write, "app.web"})

	deny["app.web"] = true
	s.expect("DELETE", "/processes/app:web", "", 403, `{"error":403,"reason":"forbidden"}`)
	deny["other"] = true
	s.expect("POST", "/processes", template(t, "other:x", "sleep", nil), 403, `{"error":403,"reason":"forbidden"}`)
	deny["other.x"] = true // forbidden comes before not found: nothing leaks
	s.expect("GET", "/processes/other:x", "", 403, `{"error":403,"reason":"forbidden"}`)
}

// waitExit waits for the exit of pid.
func waitExit(t *testing.T, sub *events.Sub, pid int) events.Event {
	t.Helper()
	return waitEvent(t, sub, func(e events.Event) bool { return e.Type == "exit" && e.Pid == pid })
}
