package rest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
)

func TestDepsViewAndCycleRefused(t *testing.T) {
	s := newServer(t, rest.Options{})
	sub := s.subscribe("spawn")
	s.load("app", "web", "sleep", true, map[string]any{"depends_on": []any{"db:healthy", "cache"}})
	s.load("app", "cache", "sleep", true, nil)

	// web waits: db is not loaded.
	info := s.call("GET", "/jobs/app/web", "", http.StatusOK)
	if info["waiting"] != "waiting for db: not loaded" || info["running"] != 0.0 {
		t.Fatalf("web info = %v", info)
	}
	m := s.call("GET", "/deps", "", http.StatusOK)
	jobs := m["jobs"].([]any)
	web := jobs[0].(map[string]any)
	deps := web["depends_on"].([]any)
	if web["name"] != "app.web" || web["state"] != "WAITING" || len(deps) != 2 {
		t.Fatalf("GET /deps web = %v", web)
	}
	db, cache := deps[0].(map[string]any), deps[1].(map[string]any)
	if db["job"] != "app.db" || db["condition"] != "healthy" || db["loaded"] != false || db["satisfied"] != false {
		t.Errorf("dependency db = %v", db)
	}
	if cache["job"] != "app.cache" || cache["satisfied"] != true {
		t.Errorf("dependency cache = %v", cache)
	}

	// A load closing a cycle is refused, naming the path, and loads nothing.
	status, _, body := s.do("POST", "/jobs/app", jobBody(t, "db", "sleep", true, map[string]any{"depends_on": []any{"web"}}))
	var e struct{ Error, Reason string }
	json.Unmarshal([]byte(body), &e)
	if status != http.StatusBadRequest || e.Error != "dependency_cycle" || !strings.Contains(e.Reason, "app.web -> app.db -> app.web") {
		t.Fatalf("cyclic load: %d %s", status, body)
	}
	s.call("GET", "/jobs/app/db", "", http.StatusNotFound)

	// Loading db (no cycle) frees web: db without a readiness probe is
	// healthy as soon as it started.
	s.load("app", "db", "sleep", true, nil)
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Name == "app.web" })
	m = s.call("GET", "/deps", "", http.StatusOK)
	for _, j := range m["jobs"].([]any) {
		jm := j.(map[string]any)
		if jm["state"] != "RUNNING" || jm["waiting"] != nil {
			t.Errorf("after db loaded: %v", jm)
		}
	}
}
