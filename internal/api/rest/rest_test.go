package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMetaRoutes(t *testing.T) {
	s := newServer(t, rest.Options{Version: "1.2.3"})
	if m := s.call("GET", "/", "", 200); m["welcome"] != "gaffer" || m["version"] != "1.2.3" {
		t.Errorf("GET / = %v", m)
	}
	if m := s.call("GET", "/version", "", 200); m["name"] != "gaffer" || m["version"] != "1.2.3" {
		t.Errorf("GET /version = %v", m)
	}
	status, h, body := s.do("GET", "/ping", "")
	if status != 200 || body != "OK" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /ping = %d %q %q", status, h.Get("Content-Type"), body)
	}
	if status, _, body := s.do("HEAD", "/ping", ""); status != 200 || body != "" {
		t.Errorf("HEAD /ping = %d %q", status, body)
	}
	if m := s.call("GET", "/sessions", "", 200); len(m["sessions"].([]any)) != 0 {
		t.Errorf("GET /sessions on an empty supervisor = %v", m)
	}
	if m := s.call("GET", "/jobs", "", 200); len(m["jobs"].([]any)) != 0 {
		t.Errorf("GET /jobs on an empty supervisor = %v", m)
	}
	if m := s.call("GET", "/pids", "", 200); len(m["pids"].([]any)) != 0 {
		t.Errorf("GET /pids on an empty supervisor = %v", m)
	}
}

func TestLoadListsAndDescribesTheJob(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, map[string]any{"numprocesses": 2, "custom": "kept"})
	s.load("app", "idle", "sleep", false, nil)
	s.load("default", "other", "sleep", false, nil)

	if m := s.call("GET", "/sessions", "", 200); !reflect.DeepEqual(m["sessions"], []any{"app", "default"}) {
		t.Errorf("sessions = %v", m)
	}
	if m := s.call("GET", "/jobs", "", 200); !reflect.DeepEqual(m["jobs"], []any{"app.web", "app.idle", "default.other"}) {
		t.Errorf("jobs = %v", m)
	}
	m := s.call("GET", "/jobs/app", "", 200)
	if m["sessionid"] != "app" || !reflect.DeepEqual(m["jobs"], []any{"app.web", "app.idle"}) {
		t.Errorf("GET /jobs/app = %v", m)
	}

	info := s.call("GET", "/jobs/app/web", "", 200)
	pids := ints(t, info["processes"])
	if info["name"] != "app.web" || info["active"] != true || info["running"] != 2.0 ||
		info["running_out"] != 0.0 || info["max_processes"] != 2.0 || len(pids) != 2 {
		t.Fatalf("job info = %v", info)
	}
	cfg := info["config"].(map[string]any)
	if cfg["name"] != "web" || cfg["numprocesses"] != 2.0 || cfg["custom"] != "kept" {
		t.Errorf("config echo = %v", cfg)
	}
	if _, has := cfg["start"]; has {
		t.Errorf("config echoes start: %v", cfg)
	}
	if got := s.pids("app/web"); !reflect.DeepEqual(got, pids) {
		t.Errorf("job pids = %v, info processes = %v", got, pids)
	}
	if got := ints(t, s.call("GET", "/pids", "", 200)["pids"]); !reflect.DeepEqual(got, pids) {
		t.Errorf("all pids = %v, want %v", got, pids)
	}
	for _, pid := range pids {
		p := s.call("GET", "/"+itoa(pid), "", 200)
		if p["pid"] != float64(pid) || p["name"] != "app.web" || p["commited"] != false || p["active"] != true {
			t.Errorf("process info = %v", p)
		}
		if gaffertest.Gone(s.osPid(pid)) {
			t.Errorf("pid %d: os process is not alive", pid)
		}
		if status, _, body := s.do("HEAD", "/"+itoa(pid), ""); status != 200 || body != "" {
			t.Errorf("HEAD /%d = %d %q", pid, status, body)
		}
	}
	if status, _, body := s.do("HEAD", "/jobs/app/web", ""); status != 200 || body != "" {
		t.Errorf("HEAD job = %d %q", status, body)
	}
	if info := s.call("GET", "/jobs/app/idle", "", 200); info["active"] != false || len(info["processes"].([]any)) != 0 {
		t.Errorf("not started job info = %v", info)
	}

	// Extension: every job's info in one call, globally or per session.
	all := s.call("GET", "/jobs?info=true", "", 200)["jobs"].([]any)
	if len(all) != 3 || all[0].(map[string]any)["name"] != "app.web" || all[2].(map[string]any)["name"] != "default.other" {
		t.Errorf("jobs?info=true = %v", all)
	}
	m = s.call("GET", "/jobs/default?info=1", "", 200)
	if jobs := m["jobs"].([]any); m["sessionid"] != "default" || len(jobs) != 1 || jobs[0].(map[string]any)["name"] != "default.other" {
		t.Errorf("jobs/default?info=1 = %v", m)
	}
}

func TestNotFound(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", false, nil)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/jobs/nope", ""},
		{"GET", "/jobs/nope?info=true", ""},
		{"GET", "/jobs/app/nope", ""},
		{"GET", "/jobs/nope/web", ""},
		{"GET", "/jobs/app.web/web", ""}, // a session never has a dot: not re-split
		{"PUT", "/jobs/app/nope", `{"cmd":"x"}`},
		{"DELETE", "/jobs/app/nope", ""},
		{"GET", "/jobs/app/nope/stats", ""},
		{"GET", "/jobs/app/nope/numprocesses", ""},
		{"POST", "/jobs/app/nope/numprocesses", `{"scale":1}`},
		{"GET", "/jobs/app/nope/pids", ""},
		{"POST", "/jobs/app/nope/signal", `{"signal":"HUP"}`},
		{"GET", "/jobs/app/nope/state", ""},
		{"POST", "/jobs/app/nope/state", "1"},
		{"POST", "/jobs/app/nope/commit", `{}`},
		{"GET", "/999", ""},
		{"GET", "/99999999999999999999999", ""},
		{"DELETE", "/999", ""},
		{"POST", "/999/signal", `{"signal":"HUP"}`},
		{"GET", "/999/stats", ""},
	} {
		t.Run(c.method+c.path, func(t *testing.T) {
			wantManagerError(t, s.call(c.method, c.path, c.body, 404), "not_found", 404)
		})
	}
	for _, path := range []string{"/jobs/app/nope", "/999"} {
		if status, _, body := s.do("HEAD", path, ""); status != 404 || body != "" {
			t.Errorf("HEAD %s = %d %q, want 404 and no body", path, status, body)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", false, nil)
	for _, c := range []struct {
		name, path, body string
		status           int
		code, reason     string
	}{
		{"malformed JSON", "/jobs/app", `{"name":`, 400, "bad_request", "invalid JSON"},
		{"not an object", "/jobs/app", `[1]`, 400, "bad_request", "invalid JSON"},
		{"two values", "/jobs/app", `{"name":"a","cmd":"b"} {}`, 400, "bad_request", "data after"},
		{"empty body", "/jobs/app", ``, 400, "bad_request", "empty body"},
		{"missing cmd", "/jobs/app", `{"name":"x"}`, 400, "bad_request", "cmd"},
		{"missing name", "/jobs/app", `{"cmd":"sleep 1"}`, 400, "bad_request", "name"},
		{"wrong type", "/jobs/app", `{"name":"x","cmd":"y","numprocesses":"two"}`, 400, "bad_request", "numprocesses"},
		{"negative count", "/jobs/app", `{"name":"x","cmd":"y","numprocesses":-1}`, 400, "bad_request", "numprocesses"},
		{"bad session", "/jobs/a.b", `{"name":"x","cmd":"y"}`, 400, "bad_request", "session"},
		{"conflict", "/jobs/app", jobBody(t, "web", "sleep", false, nil), 409, "process_conflict", "app.web"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := s.call("POST", c.path, c.body, c.status)
			wantManagerError(t, m, c.code, c.status)
			if !strings.Contains(fmt.Sprint(m["reason"]), c.reason) {
				t.Errorf("reason %q does not mention %q", m["reason"], c.reason)
			}
		})
	}
	if m := s.call("GET", "/jobs", "", 200); !reflect.DeepEqual(m["jobs"], []any{"app.web"}) {
		t.Errorf("failed loads changed the jobs: %v", m)
	}
}

func TestScaleChangesTheLiveProcesses(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, nil)
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"scale":"=3"}`, 3},
		{`{"scale":"+2"}`, 5},
		{`{"scale":"-3"}`, 2},
		{`{"scale":1}`, 3},
		{`{"scale":-1}`, 2},
		{`{"scale":"2"}`, 4}, // gaffer: a string of digits ADDS
		{`{"scale":0}`, 4},
		{`{"scale":"-10"}`, 0}, // never below zero
		{`{"scale":"=3"}`, 3},
	} {
		m := s.call("POST", "/jobs/app/web/numprocesses", c.body, 200)
		if m["numprocesses"] != float64(c.want) {
			t.Fatalf("scale %s = %v, want %d", c.body, m, c.want)
		}
		pids := s.pids("app/web")
		if len(pids) != c.want {
			t.Fatalf("after scale %s: pids %v, want %d", c.body, pids, c.want)
		}
		for _, pid := range pids {
			if gaffertest.Gone(s.osPid(pid)) {
				t.Fatalf("after scale %s: pid %d is not a live process", c.body, pid)
			}
		}
		if n := s.call("GET", "/jobs/app/web/numprocesses", "", 200)["numprocesses"]; n != float64(c.want) {
			t.Fatalf("GET numprocesses = %v, want %d", n, c.want)
		}
	}
}

func TestScaleErrors(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", false, nil)
	for _, c := range []struct {
		body string
		code string
	}{
		{`{"scale":"x"}`, "bad_operation"},
		{`{"scale":"*3"}`, "bad_operation"},
		{`{"scale":""}`, "bad_operation"},
		{`{"scale":1.5}`, "bad_operation"},
		{`{"scale":"1.5"}`, "bad_operation"},
		{`{"scale":"+"}`, "bad_operation"},
		{`{"scale":true}`, "bad_operation"},
		{`{"scale":[1]}`, "bad_operation"},
		{`{"scale":null}`, "bad_request"},
		{`{}`, "bad_request"},
		{`{"scale":`, "bad_request"},
		{``, "bad_request"},
	} {
		t.Run(c.body, func(t *testing.T) {
			wantManagerError(t, s.call("POST", "/jobs/app/web/numprocesses", c.body, 400), c.code, 400)
		})
	}
	if n := s.call("GET", "/jobs/app/web/numprocesses", "", 200)["numprocesses"]; n != 0.0 {
		t.Errorf("bad scales changed the target: %v", n)
	}
}

func TestStateStopsStartsAndReloads(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, map[string]any{"numprocesses": 2})
	if _, _, body := s.do("GET", "/jobs/app/web/state", ""); body != "1" {
		t.Fatalf("state of a running job = %q", body)
	}
	exits := s.subscribe("exit")
	before := s.pids("app/web")

	// 0 stops every process, and the job stays stopped.
	if m := s.call("POST", "/jobs/app/web/state", "0", 202); m["ok"] != true {
		t.Fatalf("stop = %v", m)
	}
	waitExits(t, exits, before...)
	if got := s.pids("app/web"); len(got) != 0 {
		t.Fatalf("pids after stop = %v", got)
	}
	status, h, body := s.do("GET", "/jobs/app/web/state", "")
	if status != 200 || body != "0" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("state of a stopped job = %d %q %q", status, h.Get("Content-Type"), body)
	}

	// 1 starts it again with fresh processes.
	s.call("POST", "/jobs/app/web/state", "1\n", 202)
	started := s.pids("app/web")
	if len(started) != 2 || slices.Contains(started, before[0]) {
		t.Fatalf("pids after start = %v (before stop %v)", started, before)
	}

	// 2 replaces them.
	s.call("POST", "/jobs/app/web/state", " 2 ", 202)
	reloaded := s.pids("app/web")
	if len(reloaded) != 2 || slices.Contains(reloaded, started[0]) || slices.Contains(reloaded, started[1]) {
		t.Fatalf("pids after reload = %v (before %v)", reloaded, started)
	}
	waitExits(t, exits, started...)

	for _, body := range []string{"3", "", "start", "01", `"1"`} {
		wantManagerError(t, s.call("POST", "/jobs/app/web/state", body, 400), "bad_request", 400)
	}
}

func TestSignals(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, map[string]any{"numprocesses": 2})
	pid := s.pids("app/web")[0]
	// SIGCONT and SIGWINCH leave the helper running; every accepted spelling.
	for _, sig := range []string{`"CONT"`, `"sigcont"`, `"SIGWINCH"`, `18`, `"18"`, `28`} {
		if m := s.call("POST", "/jobs/app/web/signal", `{"signal":`+sig+`}`, 202); m["ok"] != true {
			t.Errorf("job signal %s = %v", sig, m)
		}
		if m := s.call("POST", "/"+itoa(pid)+"/signal", `{"signal":`+sig+`}`, 202); m["ok"] != true {
			t.Errorf("pid signal %s = %v", sig, m)
		}
	}
	for _, c := range []struct{ body, code string }{
		{`{"signal":"FOO"}`, "bad_signal"},
		{`{"signal":"SIG"}`, "bad_signal"},
		{`{"signal":""}`, "bad_signal"},
		{`{"signal":0}`, "bad_signal"},
		{`{"signal":99}`, "bad_signal"},
		{`{"signal":-9}`, "bad_signal"},
		{`{"signal":1.5}`, "bad_signal"},
		{`{"signal":true}`, "bad_signal"},
		{`{}`, "bad_request"},
		{`{"signal":`, "bad_request"},
		{`"HUP"`, "bad_request"},
	} {
		for _, path := range []string{"/jobs/app/web/signal", "/" + itoa(pid) + "/signal"} {
			wantManagerError(t, s.call("POST", path, c.body, 400), c.code, 400)
		}
	}

	// A real signal: TERM to one pid ends it; it stays supervised, so it is replaced.
	sub := s.subscribe("exit", "spawn")
	s.call("POST", "/"+itoa(pid)+"/signal", `{"signal":"term"}`, 202)
	gaffertest.WaitFor(t, sub, wait, isExit(pid))
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "spawn" && e.Name == "app.web" })
	if got := s.pids("app/web"); len(got) != 2 || slices.Contains(got, pid) {
		t.Fatalf("pids after TERM to %d = %v", pid, got)
	}

	// TERM to the job ends every process.
	all := s.pids("app/web")
	s.call("POST", "/jobs/app/web/signal", `{"signal":15}`, 202)
	waitExits(t, sub, all...)
}

func TestDeleteProcessReplacesIt(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, nil)
	old := s.pids("app/web")[0]
	oldOS := s.osPid(old)
	sub := s.subscribe("exit", "spawn")
	if m := s.call("DELETE", "/"+itoa(old), "", 202); m["ok"] != true {
		t.Fatalf("DELETE = %v", m)
	}
	gaffertest.WaitFor(t, sub, wait, isExit(old))
	spawn := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "spawn" && e.Name == "app.web" })
	if !gaffertest.Gone(oldOS) {
		t.Errorf("old os pid %d still alive", oldOS)
	}
	if got := s.pids("app/web"); !reflect.DeepEqual(got, []int{spawn.Pid}) || spawn.Pid == old {
		t.Fatalf("pids after DELETE /%d = %v, spawned %d", old, got, spawn.Pid)
	}
	if gaffertest.Gone(s.osPid(spawn.Pid)) {
		t.Errorf("replacement is not alive")
	}
	wantManagerError(t, s.call("GET", "/"+itoa(old), "", 404), "not_found", 404)
}

func TestCommitIsNeverRestarted(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "once", "exit", false, map[string]any{"args": []string{"0"}})
	sub := s.subscribe("exit", "spawn")
	m := s.call("POST", "/jobs/app/once/commit", "", 200)
	pid := int(m["pid"].(float64))
	e := gaffertest.WaitFor(t, sub, wait, isExit(pid))
	if !e.Once {
		t.Errorf("exit of a committed process has once=false: %+v", e)
	}
	// The loop handles the exit and any restart in one step, so this answer
	// comes after it.
	info := s.call("GET", "/jobs/app/once", "", 200)
	if info["running"] != 0.0 || len(info["processes"].([]any)) != 0 {
		t.Fatalf("after the committed process exited: %v", info)
	}
	for {
		select {
		case e := <-sub.C():
			if e.Type == "spawn" && e.Pid != pid {
				t.Fatalf("something was spawned after the commit: %+v", e)
			}
			continue
		default:
		}
		break
	}
}

func TestCommitAlongsideSupervisedProcesses(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, nil)
	supervised := s.pids("app/web")
	m := s.call("POST", "/jobs/app/web/commit", `{"graceful_timeout": 2.7, "env": {"ONCE": "1"}}`, 200)
	pid := int(m["pid"].(float64))

	p := s.call("GET", "/"+itoa(pid), "", 200)
	if p["commited"] != true || p["env"].(map[string]any)["ONCE"] != "1" {
		t.Errorf("committed process = %v", p)
	}
	info := s.call("GET", "/jobs/app/web", "", 200)
	if info["running"] != 2.0 || info["running_out"] != 1.0 || info["max_processes"] != 1.0 ||
		!reflect.DeepEqual(ints(t, info["processes"]), append(slices.Clone(supervised), pid)) {
		t.Errorf("job info with a committed process = %v", info)
	}
	if got := s.pids("app/web"); !reflect.DeepEqual(got, supervised) {
		t.Errorf("job pids list the committed process: %v", got)
	}
	if got := ints(t, s.call("GET", "/pids", "", 200)["pids"]); !slices.Contains(got, pid) {
		t.Errorf("/pids misses the committed process: %v", got)
	}

	for _, body := range []string{`{"graceful_timeout": -1}`, `{"graceful_timeout": "x"}`, `{"env": [1]}`, `{`} {
		wantManagerError(t, s.call("POST", "/jobs/app/web/commit", body, 400), "bad_request", 400)
	}

	// State 0 stops the committed process too.
	sub := s.subscribe("exit")
	s.call("POST", "/jobs/app/web/state", "0", 202)
	gaffertest.WaitFor(t, sub, wait, isExit(pid))
	if _, _, body := s.do("GET", "/jobs/app/web/state", ""); body != "0" {
		t.Errorf("state after stop = %q", body)
	}
}

func TestUpdate(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, nil)
	old := s.pids("app/web")[0]
	sub := s.subscribe("exit", "spawn")

	for _, c := range []struct {
		name, body   string
		status       int
		code, reason string
	}{
		{"name conflict", jobBody(t, "other", "sleep", true, nil), 400, "bad_request", "template name conflict with the path"},
		{"no cmd", `{"name":"web"}`, 400, "bad_request", "cmd"},
		{"malformed", `{"name"`, 400, "bad_request", "invalid JSON"},
	} {
		m := s.call("PUT", "/jobs/app/web", c.body, c.status)
		wantManagerError(t, m, c.code, c.status)
		if !strings.Contains(fmt.Sprint(m["reason"]), c.reason) {
			t.Errorf("%s: reason %q does not mention %q", c.name, m["reason"], c.reason)
		}
	}

	// Without a name, with two processes: the old one is replaced.
	var cfg map[string]any
	json.Unmarshal([]byte(jobBody(t, "web", "sleep", true, map[string]any{"numprocesses": 2})), &cfg)
	delete(cfg, "name")
	b, _ := json.Marshal(cfg)
	if m := s.call("PUT", "/jobs/app/web", string(b), 201); m["ok"] != true {
		t.Fatalf("PUT = %v", m)
	}
	gaffertest.WaitFor(t, sub, wait, isExit(old))
	info := s.call("GET", "/jobs/app/web", "", 200)
	if info["config"].(map[string]any)["numprocesses"] != 2.0 || info["max_processes"] != 2.0 {
		t.Fatalf("info after PUT = %v", info)
	}
	for len(s.pids("app/web")) < 2 {
		gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "spawn" })
	}
	if got := s.pids("app/web"); slices.Contains(got, old) {
		t.Fatalf("old process kept after PUT: %v", got)
	}

	// "start" is honoured: false leaves a stopped job stopped, true starts it.
	s.call("POST", "/jobs/app/web/state", "0", 202)
	s.call("PUT", "/jobs/app/web", jobBody(t, "web", "sleep", false, nil), 201)
	if got := s.pids("app/web"); len(got) != 0 {
		t.Fatalf("PUT start=false started the job: %v", got)
	}
	s.call("PUT", "/jobs/app/web", jobBody(t, "web", "sleep", true, nil), 201)
	if got := s.pids("app/web"); len(got) != 1 {
		t.Fatalf("PUT start=true did not start the job: %v", got)
	}
}

func TestUnloadRemovesJobAndSession(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, nil)
	pid := s.pids("app/web")[0]
	sub := s.subscribe("exit")
	if m := s.call("DELETE", "/jobs/app/web", "", 200); m["ok"] != true {
		t.Fatalf("DELETE job = %v", m)
	}
	gaffertest.WaitFor(t, sub, wait, isExit(pid))
	if m := s.call("GET", "/sessions", "", 200); len(m["sessions"].([]any)) != 0 {
		t.Errorf("session kept after its last job was unloaded: %v", m)
	}
	wantManagerError(t, s.call("GET", "/jobs/app", "", 404), "not_found", 404)
	wantManagerError(t, s.call("DELETE", "/jobs/app/web", "", 404), "not_found", 404)
}

func TestStats(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, map[string]any{"numprocesses": 2})
	s.load("app", "idle", "sleep", false, nil)

	m := s.call("GET", "/jobs/app/web/stats", "", 200)
	if m["name"] != "app.web" {
		t.Errorf("name = %v", m["name"])
	}
	for _, k := range []string{"cpu", "mem", "max_cpu", "min_cpu", "max_mem", "min_mem"} {
		if _, isNumber := m[k].(float64); !isNumber {
			t.Errorf("%s = %#v, want a number", k, m[k])
		}
	}
	list := m["stats"].([]any)
	pids := s.pids("app/web")
	if len(list) != 2 {
		t.Fatalf("stats = %v", list)
	}
	for i, x := range list {
		st := x.(map[string]any)
		if st["pid"] != float64(pids[i]) || st["os_pid"] != float64(s.osPid(pids[i])) {
			t.Errorf("stat %d = %v, pids %v", i, st, pids)
		}
		for _, k := range []string{"cpu", "mem", "mem_info1", "mem_info2", "ctime"} {
			if _, has := st[k]; !has {
				t.Errorf("stat %d has no %s: %v", i, k, st)
			}
		}
	}

	// No process: every aggregate "N/A", as one string each.
	m = s.call("GET", "/jobs/app/idle/stats", "", 200)
	for _, k := range []string{"cpu", "mem", "max_cpu", "min_cpu", "max_mem", "min_mem"} {
		if m[k] != "N/A" {
			t.Errorf("%s of a job without processes = %#v", k, m[k])
		}
	}
	if len(m["stats"].([]any)) != 0 {
		t.Errorf("stats of a job without processes = %v", m["stats"])
	}

	st := s.call("GET", "/"+itoa(pids[0])+"/stats", "", 200)["stats"].(map[string]any)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range st {
			if !yield(k) {
				return
			}
		}
	})
	if !reflect.DeepEqual(keys, []string{"cpu", "ctime", "mem", "mem_info1", "mem_info2"}) {
		t.Errorf("process stats = %v", st)
	}
}

func TestRouting(t *testing.T) {
	s := newServer(t, rest.Options{})
	s.load("app", "web", "sleep", true, nil)
	pid := itoa(s.pids("app/web")[0])

	for _, path := range []string{"/nope", "/jobs/", "/jobs/app/", "/jobs/app/web/", "/jobs/app/web/nope",
		"/abc", "/12abc", "/" + pid + "/", "/" + pid + "/nope", "/ping/", "/sessions/x"} {
		wantFrameworkError(t, s.call("GET", path, "", 404), 404, "not_found")
	}
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/", "GET, HEAD, OPTIONS"},
		{"DELETE", "/sessions", "GET, HEAD, OPTIONS"},
		{"PATCH", "/jobs", "GET, HEAD, OPTIONS"},
		{"PUT", "/jobs/app", "GET, HEAD, POST, OPTIONS"},
		{"POST", "/jobs/app/web", "GET, HEAD, PUT, DELETE, OPTIONS"},
		{"DELETE", "/jobs/app/web/numprocesses", "GET, HEAD, POST, OPTIONS"},
		{"GET", "/jobs/app/web/commit", "POST, OPTIONS"},
		{"PUT", "/" + pid, "GET, HEAD, DELETE, OPTIONS"},
		{"GET", "/" + pid + "/signal", "POST, OPTIONS"},
	} {
		status, h, body := s.do(c.method, c.path, "")
		if status != 405 || h.Get("Allow") != c.allow {
			t.Errorf("%s %s = %d Allow %q, want 405 Allow %q", c.method, c.path, status, h.Get("Allow"), c.allow)
			continue
		}
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		wantFrameworkError(t, m, 405, "Method Not Allowed")
	}

	// HEAD on GET routes: status and headers, no body.
	for _, path := range []string{"/", "/jobs", "/jobs/app", "/jobs/app/web/pids", "/" + pid + "/stats"} {
		if status, _, body := s.do("HEAD", path, ""); status != 200 || body != "" {
			t.Errorf("HEAD %s = %d %q", path, status, body)
		}
	}

	// CORS: every answer, and OPTIONS 204 on known routes only.
	req, _ := http.NewRequest("OPTIONS", s.url+"/jobs/app/web/commit", nil)
	req.Header.Set("Origin", "http://example.test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://example.test" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "POST, GET, PUT, DELETE, OPTIONS" ||
		resp.Header.Get("Access-Control-Max-Age") != "86400" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Requested-With") {
		t.Errorf("OPTIONS = %d %v", resp.StatusCode, resp.Header)
	}
	if status, _, _ := s.do("OPTIONS", "/"+pid, ""); status != 204 {
		t.Errorf("OPTIONS /pid = %d", status)
	}
	if status, _, _ := s.do("OPTIONS", "/nope", ""); status != 404 {
		t.Errorf("OPTIONS on an unknown route = %d", status)
	}
	for _, origin := range []string{"", "null"} {
		req, _ := http.NewRequest("GET", s.url+"/nope", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("Origin %q: Allow-Origin %q, want *", origin, got)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	s := newServer(t, rest.Options{MaxBody: 256})
	big := jobBody(t, "web", "sleep", false, map[string]any{"pad": strings.Repeat("x", 300)})
	wantFrameworkError(t, s.call("POST", "/jobs/app", big, 413), 413, "Request Entity Too Large")

	// Without a Content-Length the limit holds while reading.
	req, _ := http.NewRequest("POST", s.url+"/jobs/app", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized body = %d", resp.StatusCode)
	}
	if m := s.call("GET", "/jobs", "", 200); len(m["jobs"].([]any)) != 0 {
		t.Errorf("an oversized load was applied: %v", m)
	}
	s.load("app", "web", "sleep", false, nil) // under the limit
}

func TestAuthorizeIsAskedForEveryRoute(t *testing.T) {
	type ask struct {
		need   rest.Permission
		target string
	}
	var (
		mu    sync.Mutex
		asked []ask
		deny  error
	)
	s := newServer(t, rest.Options{Authorize: func(r *http.Request, need rest.Permission, target string) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, ask{need, target})
		return deny
	}})
	s.load("app", "web", "sleep", true, nil)
	pid := itoa(s.pids("app/web")[0])

	for _, c := range []struct {
		method, path, body string
		want               ask
	}{
		{"GET", "/ping", "", ask{rest.Public, ""}},
		{"GET", "/sessions", "", ask{rest.ManageAll, ""}},
		{"GET", "/jobs", "", ask{rest.ManageAll, ""}},
		{"GET", "/pids", "", ask{rest.ManageAll, ""}},
		{"GET", "/jobs/app", "", ask{rest.Manage, "app"}},
		{"GET", "/jobs/app/web", "", ask{rest.Read, "app.web"}},
		{"HEAD", "/jobs/app/web", "", ask{rest.Read, "app.web"}},
		{"GET", "/jobs/app/web/state", "", ask{rest.Read, "app.web"}},
		{"POST", "/jobs/app/web/numprocesses", `{"scale":0}`, ask{rest.Manage, "app.web"}},
		{"POST", "/jobs/app/web/commit", `{}`, ask{rest.Manage, "app"}},
		{"GET", "/" + pid, "", ask{rest.Read, "app.web"}},
		{"GET", "/" + pid + "/stats", "", ask{rest.Read, "app.web"}},
		{"POST", "/" + pid + "/signal", `{"signal":"CONT"}`, ask{rest.Manage, "app.web"}},
	} {
		mu.Lock()
		asked = nil
		mu.Unlock()
		if status, _, body := s.do(c.method, c.path, c.body); status >= 300 {
			t.Errorf("%s %s = %d %s", c.method, c.path, status, body)
		}
		mu.Lock()
		if !reflect.DeepEqual(asked, []ask{c.want}) {
			t.Errorf("%s %s asked %v, want %v", c.method, c.path, asked, c.want)
		}
		mu.Unlock()
	}

	for _, c := range []struct {
		deny   error
		status int
		reason string
	}{
		{fmt.Errorf("no key: %w", rest.ErrUnauthorized), 401, "unauthorized"},
		{fmt.Errorf("read only: %w", rest.ErrForbidden), 403, "forbidden"},
		{errors.New("key store down"), 403, "forbidden"}, // fails closed
		{fmt.Errorf("hidden: %w", supervisor.ErrNotFound), 403, "forbidden"},
	} {
		mu.Lock()
		deny = c.deny
		mu.Unlock()
		wantFrameworkError(t, s.call("POST", "/jobs/app/web/state", "0", c.status), c.status, c.reason)
		// Preflights carry no key and pass.
		if status, _, _ := s.do("OPTIONS", "/jobs/app/web/state", ""); status != 204 {
			t.Errorf("OPTIONS with a denying authorizer = %d", status)
		}
	}
	mu.Lock()
	deny = nil
	mu.Unlock()
	if got := s.pids("app/web"); len(got) != 1 {
		t.Errorf("a denied stop stopped the job: %v", got)
	}
	// An unknown pid is 404 before authorization can say anything.
	wantManagerError(t, s.call("GET", "/999", "", 404), "not_found", 404)
}

func TestUnixSocket(t *testing.T) {
	s := newServer(t, rest.Options{}) // for its supervisor and cleanup
	sock := filepath.Join(t.TempDir(), "gafferd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rest.New(s.sup, rest.Options{})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	t.Cleanup(hc.CloseIdleConnections)
	post := func(path, body string) *http.Response {
		resp, err := hc.Post("http://gafferd"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("/jobs/sock", jobBody(t, "web", "sleep", true, nil))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("load over the socket = %d", resp.StatusCode)
	}
	resp, err = hc.Get("http://gafferd/jobs/sock/web/pids")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Pids []int }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || len(m.Pids) != 1 {
		t.Fatalf("pids over the socket = %v, %v", m, err)
	}
	// The same supervisor answers on TCP.
	if got := s.pids("sock/web"); !reflect.DeepEqual(got, m.Pids) {
		t.Errorf("tcp pids %v, unix pids %v", got, m.Pids)
	}
}
