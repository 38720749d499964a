package supervisor_test

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// fastProbe is a probe checking every 50 ms.
func fastProbe(kind supervisor.ProbeKind) *supervisor.Probe {
	p := supervisor.DefaultProbe(kind)
	p.Period, p.FailureThreshold = 50*time.Millisecond, 2
	return &p
}

func TestDepsHealthyWaitsForHTTPReadiness(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(500, supervisor.DropOldest, "spawn", "waiting", "healthy", "unhealthy")
	defer sub.Close()
	addr := gaffertest.FreeAddr(t)
	db := helperJob(t, "db", "http-after", "0.5", t.TempDir()+"/port", addr)
	db.Readiness = fastProbe(supervisor.ProbeHTTP)
	db.Readiness.URL = "http://" + addr + "/health"
	web := sleeper(t, "web", supervisor.Dependency{Job: "db", Condition: supervisor.Healthy})
	if err := s.Load(ctx, "", db, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "", web, true); err != nil {
		t.Fatal(err)
	}
	w := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "waiting" })
	if w.Name != "default.web" || w.Reason != "waiting for db: healthy" {
		t.Fatalf("waiting event = %+v", w)
	}
	// db answers 503 for 0.5 s: unhealthy first, then healthy, and only
	// then does web start.
	next := func(e events.Event) bool {
		return e.Type == "healthy" || e.Type == "unhealthy" || isSpawn("default.web")(e)
	}
	first := gaffertest.WaitFor(t, sub, wait, next)
	if first.Type != "unhealthy" || first.Name != "default.db" || first.Reason != "readiness: HTTP 503" {
		t.Fatalf("first health event = %+v, want db unhealthy with HTTP 503", first)
	}
	healthy := gaffertest.WaitFor(t, sub, wait, next)
	if healthy.Type != "healthy" || healthy.Reason != "readiness: HTTP 200" || healthy.Pid == 0 {
		t.Fatalf("second health event = %+v, want db healthy with HTTP 200", healthy)
	}
	gaffertest.WaitFor(t, sub, wait, isSpawn("default.web"))
	p, err := s.Process(ctx, healthy.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Health != "healthy" || p.Probe != "readiness: HTTP 200" {
		t.Fatalf("process info health %q probe %q", p.Health, p.Probe)
	}
	info, _ := s.Info(ctx, "db")
	if info.Health != "healthy" {
		t.Fatalf("job info health %q", info.Health)
	}
}

func TestLivenessFailureRestartsProcess(t *testing.T) {
	falseCmd, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1):", err)
	}
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(500, supervisor.DropOldest, "spawn", "exit", "unhealthy")
	defer sub.Close()
	cfg := helperJob(t, "stuck", "sleep")
	cfg.Liveness = fastProbe(supervisor.ProbeExec)
	cfg.Liveness.Command = falseCmd
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	first := gaffertest.WaitFor(t, sub, wait, isSpawn("default.stuck"))
	bad := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "unhealthy" })
	if bad.Pid != first.Pid || !strings.HasPrefix(bad.Reason, "liveness: exit status 1") || !strings.Contains(bad.Reason, "restarting") {
		t.Fatalf("unhealthy event = %+v", bad)
	}
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" })
	if exit.Pid != first.Pid || exit.TermSignal != int(syscall.SIGTERM) {
		t.Fatalf("exit = %+v, want SIGTERM of pid %d", exit, first.Pid)
	}
	second := gaffertest.WaitFor(t, sub, wait, isSpawn("default.stuck"))
	if second.Pid == first.Pid {
		t.Fatal("not restarted")
	}
}

func TestNotifyReadiness(t *testing.T) {
	s := supervisor.New(supervisor.Options{NotifySocket: t.TempDir() + "/notify.sock"})
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	defer func() { cancel(); <-s.Done() }()
	sub := s.Subscribe(100, supervisor.DropOldest, "spawn", "healthy", "waiting")
	defer sub.Close()
	svc := helperJob(t, "svc", "notify-ready", "100")
	notify := supervisor.DefaultProbe(supervisor.ProbeNotify)
	svc.Readiness = &notify
	if err := s.Load(ctx, "", svc, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "", sleeper(t, "user", supervisor.Dependency{Job: "svc", Condition: supervisor.Healthy}), true); err != nil {
		t.Fatal(err)
	}
	e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "healthy" || isSpawn("default.user")(e) })
	if e.Type != "healthy" || e.Name != "default.svc" || e.Reason != "readiness: READY=1" {
		t.Fatalf("first event = %+v, want svc healthy", e)
	}
	gaffertest.WaitFor(t, sub, wait, isSpawn("default.user"))
	pids := osPids(t, s, "svc")
	p, err := s.Processes(ctx, "svc")
	if err != nil || len(p) != 1 || p[0].Env["NOTIFY_SOCKET"] == "" || len(pids) != 1 {
		t.Fatalf("svc processes %+v, err %v", p, err)
	}
}
