package supervisor

import (
	"context"
	"testing"
	"time"
)

// A job waiting for a dependency costs no wake-up: nothing is armed while
// it waits for a job to be loaded, and a delayed "started" dependency arms
// the one timer for exactly spawn + delay.
func TestWaitingArmsNoTimerButDelayDoes(t *testing.T) {
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	defer func() { cancel(); <-s.Done() }()
	web := NewJobConfig("web", "sleep 60")
	web.DependsOn = []Dependency{{Job: "db", Delay: time.Hour}}
	if err := s.Load(ctx, "", web, true); err != nil {
		t.Fatal(err)
	}
	var armed time.Time
	var waiting string
	probe := func() {
		t.Helper()
		if err := s.do(ctx, func() error {
			armed, waiting = s.timerAt, s.sessions["default"].jobs["web"].depWait
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	probe()
	if !armed.IsZero() || waiting != "waiting for db: not loaded" {
		t.Fatalf("waiting for an unloaded job: timer %v, reason %q", armed, waiting)
	}
	if err := s.Load(ctx, "", NewJobConfig("db", "sleep 60"), true); err != nil {
		t.Fatal(err)
	}
	var spawned time.Time
	if err := s.do(ctx, func() error {
		spawned = s.sessions["default"].jobs["db"].procs[0].started
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	probe()
	if want := spawned.Add(time.Hour); !armed.Equal(want) || waiting != "waiting for db: started" {
		t.Fatalf("delayed dependency: timer %v (want %v), reason %q", armed, want, waiting)
	}
}
