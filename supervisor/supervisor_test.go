package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

const wait = 10 * time.Second

// start runs a supervisor for the test and stops it (and every child) at cleanup.
func start(t *testing.T) *supervisor.Supervisor {
	t.Helper()
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Error("supervisor did not stop")
		}
	})
	return s
}

// helperJob is a job running this test binary as the named helper.
func helperJob(t *testing.T, name, helper string, args ...string) supervisor.JobConfig {
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(t))
	cfg.Args = args
	cfg.Env = map[string]string{gaffertest.HelperEnv: helper}
	cfg.GracefulTimeout = 5 * time.Second
	return cfg
}

func osPids(t *testing.T, s *supervisor.Supervisor, job string) []int {
	t.Helper()
	m, order, err := s.OSPids(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, id := range order {
		out = append(out, m[id])
	}
	return out
}

func isSpawn(job string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Type == "spawn" && e.Name == job }
}

func TestRespawnAfterKill9(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(100, supervisor.DropOldest)
	defer sub.Close()
	ctx := context.Background()
	if err := s.Load(ctx, "", helperJob(t, "sleeper", "sleep"), true); err != nil {
		t.Fatal(err)
	}
	first := gaffertest.WaitFor(t, sub, wait, isSpawn("default.sleeper"))
	if err := syscall.Kill(first.OSPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" })
	if exit.TermSignal != int(syscall.SIGKILL) || exit.Pid != first.Pid {
		t.Fatalf("exit event = %+v, want term_signal 9 of pid %d", exit, first.Pid)
	}
	second := gaffertest.WaitFor(t, sub, wait, isSpawn("default.sleeper"))
	if second.Pid == first.Pid || second.OSPid == first.OSPid {
		t.Fatalf("respawned process has the same ids: %+v", second)
	}
	if !gaffertest.Gone(first.OSPid) {
		t.Fatalf("killed process %d still exists", first.OSPid)
	}
}

func TestEventOrderForStop(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(100, supervisor.DropOldest)
	defer sub.Close()
	ctx := context.Background()
	cfg := helperJob(t, "two", "sleep")
	cfg.NumProcesses = 2
	if err := s.Load(ctx, "app", cfg, true); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 7 {
		e := gaffertest.WaitFor(t, sub, wait, func(events.Event) bool { return true })
		got = append(got, e.Type)
	}
	want := "load start job.app.two.start spawn job.app.two.spawn spawn job.app.two.spawn"
	if strings.Join(got, " ") != want {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if err := s.StopJob(ctx, "app.two"); err != nil {
		t.Fatal(err)
	}
	got = nil
	for len(got) < 8 {
		e := gaffertest.WaitFor(t, sub, wait, func(events.Event) bool { return true })
		got = append(got, e.Type)
	}
	want = "stop job.app.two.stop stop_process stop_process exit job.app.two.exit exit job.app.two.exit"
	if strings.Join(got, " ") != want {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

func TestStopKillsTermIgnoringChildAfterGracefulTimeout(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(100, supervisor.DropOldest)
	defer sub.Close()
	out := s.SubscribeOutput(100, supervisor.DropOldest)
	defer out.Close()
	ctx := context.Background()
	cfg := helperJob(t, "stubborn", "ignore-term")
	cfg.GracefulTimeout = time.Second
	cfg.RedirectOutput = []string{"out"}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.WaitFor(t, out, wait, func(e events.Event) bool { return strings.Contains(string(e.Data), "ready") })
	begin := time.Now()
	if err := s.StopJob(ctx, "stubborn"); err != nil {
		t.Fatal(err)
	}
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" })
	took := time.Since(begin)
	if exit.TermSignal != int(syscall.SIGKILL) {
		t.Fatalf("exit by signal %d, want SIGKILL", exit.TermSignal)
	}
	if took < 900*time.Millisecond {
		t.Fatalf("killed after %v, before the 1s graceful timeout", took)
	}
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	var pid int
	gaffertest.Eventually(t, wait, "pid file "+file, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(string(b))
		return err == nil
	})
	return pid
}

func TestStopLeavesNoDescendants(t *testing.T) {
	for _, helper := range []string{"fork-grandchild", "setsid-escapee"} {
		t.Run(helper, func(t *testing.T) {
			s := start(t)
			ctx := context.Background()
			file := filepath.Join(t.TempDir(), "pid")
			cfg := helperJob(t, "parent", helper, file)
			cfg.GracefulTimeout = 500 * time.Millisecond
			if err := s.Load(ctx, "", cfg, true); err != nil {
				t.Fatal(err)
			}
			grandchild := readPid(t, file)
			parent := osPids(t, s, "parent")[0]
			t.Cleanup(func() { syscall.Kill(grandchild, syscall.SIGKILL) })
			if err := s.StopJob(ctx, "parent"); err != nil {
				t.Fatal(err)
			}
			gaffertest.Eventually(t, wait, "parent and grandchild gone", func() bool {
				return gaffertest.Gone(parent) && gaffertest.Gone(grandchild)
			})
		})
	}
}

func TestScaleToExactCount(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	if err := s.Load(ctx, "", helperJob(t, "w", "sleep"), true); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		op   string
		want int
	}{{"+3", 4}, {"=2", 2}, {"-5", 0}, {"3", 3}, {"=1", 1}} {
		op, err := supervisor.ParseScale(tt.op)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Scale(ctx, "w", op)
		if err != nil || n != tt.want {
			t.Fatalf("scale %s = %d, %v; want %d", tt.op, n, err, tt.want)
		}
		pids := osPids(t, s, "w")
		if len(pids) != tt.want {
			t.Fatalf("after scale %s: %d processes, want %d", tt.op, len(pids), tt.want)
		}
		for _, p := range pids {
			if gaffertest.Gone(p) {
				t.Fatalf("pid %d listed but not running", p)
			}
		}
	}
}

func TestCommitRunsOnceAndIsNotRestarted(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(100, supervisor.DropOldest)
	defer sub.Close()
	ctx := context.Background()
	if err := s.Load(ctx, "", helperJob(t, "task", "exit", "3"), false); err != nil {
		t.Fatal(err)
	}
	pid, err := s.Commit(ctx, "task", 0, map[string]string{"EXTRA": "1"})
	if err != nil {
		t.Fatal(err)
	}
	exit := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" })
	if exit.Pid != pid || !exit.Once || exit.ExitStatus != 3 {
		t.Fatalf("exit = %+v, want once exit 3 of pid %d", exit, pid)
	}
	info, err := s.Info(ctx, "task")
	if err != nil {
		t.Fatal(err)
	}
	if info.Running != 0 || len(info.Processes) != 0 {
		t.Fatalf("committed process restarted: %+v", info)
	}
	select {
	case e := <-sub.C():
		if e.Type == "spawn" {
			t.Fatalf("unexpected spawn after a committed exit: %+v", e)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

func TestFlappingPausesThenRetries(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(1000, supervisor.DropOldest)
	defer sub.Close()
	ctx := context.Background()
	cfg := helperJob(t, "crash", "exit", "1")
	cfg.Flapping = &supervisor.Flapping{Attempts: 2, Window: 5 * time.Second, RetryIn: 300 * time.Millisecond, MaxRetry: 2}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	var flaps []time.Time
	spawnsAfterFlap := 0
	deadline := time.After(wait)
	for len(flaps) < 3 {
		select {
		case e := <-sub.C():
			switch {
			case e.Type == "flap":
				flaps = append(flaps, e.Time)
			case e.Type == "spawn" && len(flaps) > 0:
				spawnsAfterFlap++
			}
		case <-deadline:
			t.Fatalf("saw %d flap events, want 3 (2 pauses then give up)", len(flaps))
		}
	}
	if gap := flaps[1].Sub(flaps[0]); gap < 300*time.Millisecond {
		t.Fatalf("retry came %v after the flap, before retry_in", gap)
	}
	if spawnsAfterFlap == 0 {
		t.Fatal("no spawn after the pause")
	}
	// Gave up: nothing more is spawned.
	select {
	case e := <-sub.C():
		for e.Type != "spawn" {
			select {
			case e = <-sub.C():
			case <-time.After(time.Second):
				return
			}
		}
		t.Fatalf("spawned after giving up: %+v", e)
	case <-time.After(time.Second):
	}
	info, _ := s.Info(ctx, "crash")
	if !info.Stopped || info.MaxProcesses != 0 {
		t.Fatalf("job after giving up = %+v, want stopped", info)
	}
}

func TestStopDuringFlappingPauseCancelsRetry(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(1000, supervisor.DropOldest)
	defer sub.Close()
	ctx := context.Background()
	cfg := helperJob(t, "crash", "exit", "1")
	cfg.Flapping = &supervisor.Flapping{Attempts: 2, Window: 5 * time.Second, RetryIn: 500 * time.Millisecond, MaxRetry: 5}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "flap" })
	if err := s.StopJob(ctx, "crash"); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(1500 * time.Millisecond)
	for {
		select {
		case e := <-sub.C():
			if e.Type == "spawn" {
				t.Fatalf("job came back after stop during its retry pause: %+v", e)
			}
		case <-timeout:
			return
		}
	}
}

func TestOutputKeepsLastLineWithoutNewline(t *testing.T) {
	s := start(t)
	out := s.SubscribeOutput(100, supervisor.DropOldest)
	defer out.Close()
	ctx := context.Background()
	cfg := helperJob(t, "nonl", "write-no-newline", "no newline at the end")
	cfg.RedirectOutput = []string{"out"}
	if err := s.Load(ctx, "", cfg, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, "nonl", 0, nil); err != nil {
		t.Fatal(err)
	}
	e := gaffertest.WaitFor(t, out, wait, func(e events.Event) bool { return e.Label == "out" })
	if string(e.Data) != "no newline at the end" {
		t.Fatalf("output = %q", e.Data)
	}
}

func TestStdinIsWrittenInOrder(t *testing.T) {
	s := start(t)
	out := s.SubscribeOutput(1000, supervisor.DropOldest)
	defer out.Close()
	ctx := context.Background()
	cfg := helperJob(t, "echo", "echo-stdin")
	cfg.RedirectOutput = []string{"out"}
	cfg.RedirectInput = true
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	pids, _ := s.Pids(ctx, "echo")
	var want strings.Builder
	for i := range 50 {
		line := fmt.Sprintf("message %d\n", i)
		want.WriteString(line)
		if err := s.Write(ctx, pids[0], "", []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	var got strings.Builder
	deadline := time.After(wait)
	for got.Len() < want.Len() {
		select {
		case e := <-out.C():
			got.Write(e.Data)
		case <-deadline:
			t.Fatalf("echoed %q", got.String())
		}
	}
	if got.String() != want.String() {
		t.Fatalf("echoed %q, want %q", got.String(), want.String())
	}
	if err := s.Write(ctx, pids[0], "nope", []byte("x")); !errors.Is(err, supervisor.ErrStreamNotFound) {
		t.Fatalf("write to unknown stream: %v", err)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	if err := s.Load(ctx, "", helperJob(t, "a", "sleep"), false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"conflict", s.Load(ctx, "", helperJob(t, "a", "sleep"), false), supervisor.ErrConflict},
		{"unknown job", s.StartJob(ctx, "nope"), supervisor.ErrNotFound},
		{"unknown pid", s.StopProcess(ctx, 999), supervisor.ErrNotFound},
		{"no cmd", s.Load(ctx, "", supervisor.JobConfig{Name: "x"}, false), supervisor.ErrMissingCmd},
		{"bad session", s.Load(ctx, "a.b", helperJob(t, "y", "sleep"), false), supervisor.ErrBadName},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := supervisor.ParseSignal("SIGNOPE"); !errors.Is(err, supervisor.ErrBadSignal) || !strings.Contains(err.Error(), "SIGNOPE") {
		t.Errorf("ParseSignal error %v does not name the signal", err)
	}
}

// Many clients issuing conflicting operations at once must leave a
// consistent state: the job's processes equal its target, no duplicates.
func TestConcurrentClientsEndConsistent(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	if err := s.Load(ctx, "", helperJob(t, "storm", "sleep"), true); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 6 {
				switch (i + k) % 6 {
				case 0:
					s.StartJob(ctx, "storm")
				case 1:
					s.StopJob(ctx, "storm")
				case 2:
					s.Scale(ctx, "storm", supervisor.ScaleOp{Op: '+', N: 2})
				case 3:
					s.Scale(ctx, "storm", supervisor.ScaleOp{Op: '-', N: 1})
				case 4:
					s.Scale(ctx, "storm", supervisor.ScaleOp{Op: '=', N: 3})
				case 5:
					s.Reload(ctx, "storm")
				}
			}
		}()
	}
	wg.Wait()
	if _, err := s.Scale(ctx, "storm", supervisor.ScaleOp{Op: '=', N: 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartJob(ctx, "storm"); err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, "storm")
	if err != nil {
		t.Fatal(err)
	}
	pids := osPids(t, s, "storm")
	seen := map[int]bool{}
	for _, p := range pids {
		if seen[p] || gaffertest.Gone(p) {
			t.Fatalf("pid %d duplicated or dead in %v", p, pids)
		}
		seen[p] = true
	}
	if len(pids) != info.MaxProcesses || info.MaxProcesses != 1 || info.Stopped {
		t.Fatalf("after storm: %d processes, info %+v; want 1 running (start resets to numprocesses)", len(pids), info)
	}
}

func TestShutdownStopsEverything(t *testing.T) {
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	cfg := helperJob(t, "many", "sleep")
	cfg.NumProcesses = 5
	if err := s.Load(context.Background(), "", cfg, true); err != nil {
		t.Fatal(err)
	}
	pids := osPids(t, s, "many")
	cancel()
	select {
	case <-s.Done():
	case <-time.After(wait):
		t.Fatal("supervisor did not stop")
	}
	for _, p := range pids {
		if !gaffertest.Gone(p) {
			t.Fatalf("pid %d survived shutdown", p)
		}
	}
	if err := s.StartJob(context.Background(), "many"); !errors.Is(err, supervisor.ErrShuttingDown) {
		t.Fatalf("call after shutdown: %v", err)
	}
}

func TestBackoffDelaysRestartsIncreasingly(t *testing.T) {
	s := start(t)
	sub := s.Subscribe(100, supervisor.DropOldest)
	defer sub.Close()
	ctx := context.Background()
	cfg := helperJob(t, "crashy", "exit", "2")
	cfg.Backoff = &supervisor.Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, Multiplier: 2, Reset: time.Minute}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	var exits, spawns []time.Time
	for len(spawns) < 4 {
		e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" || e.Type == "spawn" })
		if e.Type == "exit" {
			exits = append(exits, e.Time)
		} else {
			spawns = append(spawns, e.Time)
		}
	}
	// spawn[i+1] follows exit[i] by initial*2^i, capped at max.
	for i, want := range []time.Duration{100, 200, 400} {
		want *= time.Millisecond
		if got := spawns[i+1].Sub(exits[i]); got < want {
			t.Errorf("restart %d came %v after the exit, want >= %v", i+1, got, want)
		}
	}
	info, _ := s.Info(ctx, "crashy")
	if !strings.HasPrefix(info.Waiting, "backoff") && info.Running == 0 {
		t.Errorf("job info while backing off: %+v", info)
	}
}

func TestUpdateReplacesProcessesWithNewConfig(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	cfg := helperJob(t, "u", "sleep")
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	before := osPids(t, s, "u")
	cfg.NumProcesses = 2
	cfg.Env["MARK"] = "new"
	if err := s.Update(ctx, "", cfg, false); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "two new processes", func() bool {
		ps, _ := s.Processes(ctx, "u")
		if len(ps) != 2 {
			return false
		}
		for _, p := range ps {
			if p.Env["MARK"] != "new" || p.OSPid == before[0] {
				return false
			}
		}
		return true
	})
	gaffertest.Eventually(t, wait, "old process gone", func() bool { return gaffertest.Gone(before[0]) })
	// Scaling down does not count as flapping even with a tight rule.
	cfg.Flapping = &supervisor.Flapping{Attempts: 2, Window: 10 * time.Second, RetryIn: time.Minute, MaxRetry: 3}
	if err := s.Update(ctx, "", cfg, false); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "updated", func() bool { ps, _ := s.Processes(ctx, "u"); return len(ps) == 2 })
	if _, err := s.Scale(ctx, "u", supervisor.ScaleOp{Op: '=', N: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scale(ctx, "u", supervisor.ScaleOp{Op: '=', N: 1}); err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(ctx, "u"); info.Stopped || info.Running != 1 {
		t.Fatalf("after scaling down and up: %+v", info)
	}
}
