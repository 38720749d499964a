package main

import (
	"encoding/json"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestDepsTree(t *testing.T) {
	d := startDaemon(t, rest.Options{})
	sub := d.sup.Subscribe(100, supervisor.DropOldest, "spawn")
	defer sub.Close()
	many, _ := json.Marshal(map[string]any{"jobs": []any{
		helperJob(t, "app.web", "sleep", map[string]any{"depends_on": []any{"db:healthy", "cache"}}),
		helperJob(t, "app.worker", "sleep", map[string]any{"depends_on": []any{"db"}}),
		helperJob(t, "app.cache", "sleep", nil),
	}})
	d.okIn(string(many), "load", "-")
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Name == "app.cache" })
	want := `app.web  WAITING  [waiting for db: not loaded]
├─ app.db  NOT LOADED  (healthy: unmet)
└─ app.cache  RUNNING  (started: met)
app.worker  WAITING  [waiting for db: not loaded]
└─ app.db  NOT LOADED  (started: unmet)
`
	if out := d.ok("deps"); out != want {
		t.Fatalf("deps =\n%s\nwant\n%s", out, want)
	}
	var view []supervisor.DependencyInfo
	if err := json.Unmarshal([]byte(d.ok("--json", "deps")), &view); err != nil || len(view) != 3 || view[1].Waiting != "waiting for db: not loaded" {
		t.Fatalf("deps --json = %+v (%v)", view, err)
	}
	d.okIn(mustJSON(helperJob(t, "db", "sleep", nil)), "load", "--session", "app", "-")
	seen := map[string]bool{}
	for !seen["app.web"] || !seen["app.worker"] {
		seen[gaffertest.WaitFor(t, sub, wait, func(events.Event) bool { return true }).Name] = true
	}
	want = `app.web  RUNNING
├─ app.db  RUNNING  (healthy: met)
└─ app.cache  RUNNING  (started: met)
app.worker  RUNNING
└─ app.db  RUNNING  (started: met)
`
	if out := d.ok("deps"); out != want {
		t.Fatalf("deps =\n%s\nwant\n%s", out, want)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
