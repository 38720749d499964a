package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// sleeper is a job running the sleep helper with the given dependencies.
func sleeper(t *testing.T, name string, deps ...supervisor.Dependency) supervisor.JobConfig {
	cfg := helperJob(t, name, "sleep")
	cfg.DependsOn = deps
	return cfg
}

func on(job string) supervisor.Dependency { return supervisor.Dependency{Job: job} }

// spawnOrder collects spawn events until every named job (full names) has
// spawned once, and returns the job names in spawn order.
func spawnOrder(t *testing.T, sub *events.Sub, names ...string) ([]string, map[string]events.Event) {
	t.Helper()
	seen := map[string]events.Event{}
	var order []string
	for len(seen) < len(names) {
		e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool {
			return e.Type == "spawn" && slices.Contains(names, e.Name)
		})
		if _, dup := seen[e.Name]; !dup {
			seen[e.Name] = e
			order = append(order, e.Name)
		}
	}
	return order, seen
}

func TestDepsChainStartsInOrderAndShowsWaiting(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(200, supervisor.DropOldest, "spawn", "waiting")
	defer sub.Close()
	// a → b → c, and a → c (gaggled's README example), loaded dependents first.
	if err := s.Load(ctx, "", sleeper(t, "a", on("b"), on("c")), true); err != nil {
		t.Fatal(err)
	}
	w := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "waiting" })
	if w.Name != "default.a" || w.Reason != "waiting for b: not loaded" {
		t.Fatalf("waiting event = %+v", w)
	}
	info, err := s.Info(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if info.Waiting != "waiting for b: not loaded" || info.Running != 0 {
		t.Fatalf("info of a waiting job: waiting %q, running %d", info.Waiting, info.Running)
	}
	if err := s.Load(ctx, "", sleeper(t, "b", on("c")), true); err != nil {
		t.Fatal(err)
	}
	// a now waits for b to start, b for c to be loaded: one event each.
	want := []string{"default.a waiting for b: started", "default.b waiting for c: not loaded"}
	var got []string
	for len(got) < 2 {
		e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "waiting" })
		got = append(got, e.Name+" "+e.Reason)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("waiting events %q, want %q", got, want)
	}
	if err := s.Load(ctx, "", sleeper(t, "c"), true); err != nil {
		t.Fatal(err)
	}
	order, _ := spawnOrder(t, sub, "default.a", "default.b", "default.c")
	if want := []string{"default.c", "default.b", "default.a"}; !slices.Equal(order, want) {
		t.Fatalf("spawn order %v, want %v", order, want)
	}
	info, _ = s.Info(ctx, "a")
	if info.Waiting != "" || info.Running != 1 {
		t.Fatalf("a after its dependencies started: waiting %q, running %d", info.Waiting, info.Running)
	}
	view, err := s.Dependencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(view) != 3 || view[0].Name != "default.a" || len(view[0].DependsOn) != 2 ||
		!view[0].DependsOn[0].Satisfied || view[0].DependsOn[1].Job != "default.c" || view[0].State != "RUNNING" {
		t.Fatalf("dependency view = %+v", view)
	}
}

func TestDepsDiamondStartsMiddleInOneBatch(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(200, supervisor.DropOldest, "spawn", "waiting")
	defer sub.Close()
	// top → left, right → root.
	for _, cfg := range []supervisor.JobConfig{
		sleeper(t, "top", on("left"), on("right")),
		sleeper(t, "left", on("root")),
		sleeper(t, "right", on("root")),
	} {
		if err := s.Load(ctx, "d", cfg, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Load(ctx, "d", sleeper(t, "root"), true); err != nil {
		t.Fatal(err)
	}
	order, _ := spawnOrder(t, sub, "d.top", "d.left", "d.right", "d.root")
	if order[0] != "d.root" || order[3] != "d.top" {
		t.Fatalf("spawn order %v: want root first and top last", order)
	}
	// left and right were freed by the same spawn: both were started before
	// anything else, in one batch.
	if mid := order[1:3]; !slices.Contains(mid, "d.left") || !slices.Contains(mid, "d.right") {
		t.Fatalf("spawn order %v: left and right should follow root together", order)
	}
}

func TestDepsDelayHonoured(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(100, supervisor.DropOldest, "spawn")
	defer sub.Close()
	const delay = 300 * time.Millisecond
	if err := s.Load(ctx, "", sleeper(t, "late", supervisor.Dependency{Job: "early", Delay: delay}), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "", sleeper(t, "early"), true); err != nil {
		t.Fatal(err)
	}
	_, ev := spawnOrder(t, sub, "default.early", "default.late")
	if gap := ev["default.late"].Time.Sub(ev["default.early"].Time); gap < delay {
		t.Fatalf("dependent started %v after its dependency, want at least %v", gap, delay)
	}
}

func TestDepsPropagateRestartsOnlyPropagatingDependents(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(200, supervisor.DropOldest, "spawn", "exit")
	defer sub.Close()
	if err := s.Load(ctx, "", sleeper(t, "db"), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "", sleeper(t, "api", supervisor.Dependency{Job: "db", Propagate: true}), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "", sleeper(t, "report", on("db")), true); err != nil {
		t.Fatal(err)
	}
	_, first := spawnOrder(t, sub, "default.db", "default.api", "default.report")
	if err := syscall.Kill(first["default.db"].OSPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// api is stopped (SIGTERM) and started again once db is back.
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" && e.Name == "default.api" })
	if exit.TermSignal != int(syscall.SIGTERM) || exit.Pid != first["default.api"].Pid {
		t.Fatalf("api exit = %+v, want SIGTERM of pid %d", exit, first["default.api"].Pid)
	}
	again := gaffertest.WaitFor(t, sub, wait, isSpawn("default.api"))
	if again.Pid == first["default.api"].Pid {
		t.Fatal("api not restarted")
	}
	// report, without propagate, kept its process.
	if pids := osPids(t, s, "report"); len(pids) != 1 || pids[0] != first["default.report"].OSPid {
		t.Fatalf("report's processes %v, want the first one %d", pids, first["default.report"].OSPid)
	}
	// Stopping db stops api, which then waits for db.
	if err := s.StopJob(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" && e.Name == "default.api" })
	info, _ := s.Info(ctx, "api")
	if info.Waiting != "waiting for db: started" || info.Running != 0 {
		t.Fatalf("api after db stopped: waiting %q running %d", info.Waiting, info.Running)
	}
	if err := s.StartJob(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	gaffertest.WaitFor(t, sub, wait, isSpawn("default.api"))
}

func TestDepsCompletedWaitsForOneShot(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(200, supervisor.DropOldest, "spawn", "exit", "waiting", "state")
	defer sub.Close()
	web := sleeper(t, "web", supervisor.Dependency{Job: "migrate", Condition: supervisor.Completed})
	web.Program = supervisor.DefaultProgram("app")
	web.Program.StartSecs = 0
	if err := s.Load(ctx, "app", web, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool {
		return e.Type == "waiting" && e.Reason == "waiting for migrate: not loaded"
	})
	pi, err := s.Program(ctx, "app.web")
	if err != nil {
		t.Fatal(err)
	}
	if pi.Waiting != "waiting for migrate: not loaded" || pi.State != supervisor.StateStopped {
		t.Fatalf("program info: waiting %q state %v", pi.Waiting, pi.State)
	}
	migrate := helperJob(t, "migrate", "exit", "0")
	migrate.Program = supervisor.DefaultProgram("app")
	migrate.Program.StartSecs = 0
	if err := s.Load(ctx, "app", migrate, true); err != nil {
		t.Fatal(err)
	}
	// Running is not enough: web waits until migrate has exited with 0.
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool {
		return (e.Type == "exit" && e.Name == "app.migrate") || isSpawn("app.web")(e)
	})
	if exit.Type != "exit" || exit.ExitStatus != 0 {
		t.Fatalf("web started before migrate completed: %+v", exit)
	}
	gaffertest.WaitFor(t, sub, wait, isSpawn("app.web"))
	pi, _ = s.Program(ctx, "app.web")
	if pi.Waiting != "" {
		t.Fatalf("web still waiting: %q", pi.Waiting)
	}
}

func TestDepsCycleRefused(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	if err := s.Load(ctx, "", sleeper(t, "a", on("b")), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "", sleeper(t, "b", on("c")), false); err != nil {
		t.Fatal(err)
	}
	err := s.Load(ctx, "", sleeper(t, "c", on("a")), false)
	if !errors.Is(err, supervisor.ErrCycle) || !strings.Contains(err.Error(), "default.a -> default.b -> default.c -> default.a") {
		t.Fatalf("load closing a cycle: %v", err)
	}
	jobs, _ := s.Jobs(ctx, "")
	if !slices.Equal(jobs, []string{"default.a", "default.b"}) {
		t.Fatalf("jobs after the refused load: %v", jobs)
	}
	// An update closing a cycle changes nothing either.
	err = s.Update(ctx, "", sleeper(t, "b", on("a")), false)
	if !errors.Is(err, supervisor.ErrCycle) || !strings.Contains(err.Error(), "default.a -> default.b -> default.a") {
		t.Fatalf("update closing a cycle: %v", err)
	}
	view, _ := s.Dependencies(ctx)
	if len(view) != 2 || view[1].DependsOn[0].Job != "default.c" {
		t.Fatalf("b's dependencies changed: %+v", view)
	}
	// Depending on itself is a cycle too.
	if err := s.Update(ctx, "", sleeper(t, "a", on("a")), false); !errors.Is(err, supervisor.ErrCycle) {
		t.Fatalf("self-dependency: %v", err)
	}
}

func TestDepsShutdownStopsDependentsFirst(t *testing.T) {
	file := t.TempDir() + "/order"
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	// Priority alone would stop db (30) before web (10): the dependency
	// wins, and worker, which depends on web, goes first of all.
	jobs := []struct {
		name string
		prio int
		deps []supervisor.Dependency
	}{
		{"db", 30, nil},
		{"web", 10, []supervisor.Dependency{on("db")}},
		{"worker", 10, []supervisor.Dependency{on("web")}},
		{"cache", 10, nil},
	}
	for _, j := range jobs {
		cfg := helperJob(t, j.name, "stop-recorder", file, j.name)
		cfg.Priority, cfg.DependsOn = j.prio, j.deps
		if err := s.Load(ctx, "", cfg, true); err != nil {
			t.Fatal(err)
		}
	}
	waitUp(t, file, "db", "web", "worker", "cache")
	stopAndWait(t, s, cancel)
	checkStopOrder(t, file, [][]string{{"worker"}, {"web"}, {"db"}, {"cache"}})
}

// A supervisor program with a propagating dependency is restarted with it,
// even with autorestart=false.
func TestDepsPropagateRestartsProgramRegardlessOfAutorestart(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(200, supervisor.DropOldest, "spawn", "exit")
	defer sub.Close()
	if err := s.Load(ctx, "grp", sleeper(t, "db"), true); err != nil {
		t.Fatal(err)
	}
	app := sleeper(t, "app", supervisor.Dependency{Job: "db", Propagate: true})
	app.Program = supervisor.DefaultProgram("grp")
	app.Program.StartSecs = 0
	app.Program.AutoRestart = supervisor.RestartNever
	if err := s.Load(ctx, "grp", app, true); err != nil {
		t.Fatal(err)
	}
	_, first := spawnOrder(t, sub, "grp.db", "grp.app")
	if err := syscall.Kill(first["grp.db"].OSPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" && e.Name == "grp.app" })
	if exit.TermSignal != int(syscall.SIGTERM) {
		t.Fatalf("app exit = %+v, want SIGTERM", exit)
	}
	again := gaffertest.WaitFor(t, sub, wait, isSpawn("grp.app"))
	if again.Pid == first["grp.app"].Pid {
		t.Fatal("app not restarted")
	}
	pi, _ := s.Program(ctx, "grp.app")
	if pi.State != supervisor.StateRunning {
		t.Fatalf("app state %v", pi.State)
	}
}
