package supervisor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// programJob is a supervisor program running a helper of this test binary.
func programJob(t *testing.T, name, helper string, startsecs time.Duration, args ...string) supervisor.JobConfig {
	cfg := helperJob(t, name, helper, args...)
	cfg.Program = supervisor.DefaultProgram("grp")
	cfg.Program.StartSecs = startsecs
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	return cfg
}

// states collects the state transitions of one job until want is seen.
func states(t *testing.T, sub *events.Sub, job string, until string) []string {
	t.Helper()
	var got []string
	for {
		e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "state" && e.Name == job })
		got = append(got, e.To)
		if e.To == until {
			return got
		}
	}
}

func TestProgramBecomesRunningAfterStartsecs(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	if err := s.Load(ctx, "grp", programJob(t, "up", "sleep", 500*time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := s.StartProgram(ctx, "grp.up", true); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < 500*time.Millisecond {
		t.Fatalf("start with wait returned after %v, before startsecs", took)
	}
	if got := states(t, sub, "grp.up", "RUNNING"); strings.Join(got, " ") != "STARTING RUNNING" {
		t.Fatalf("states = %v", got)
	}
	if err := s.StartProgram(ctx, "grp.up", true); !errors.Is(err, supervisor.ErrAlreadyStarted) {
		t.Fatalf("second start: %v, want ErrAlreadyStarted", err)
	}
	info, err := s.Program(ctx, "grp.up")
	if err != nil || info.State != supervisor.StateRunning || info.Pid == 0 || gaffertest.Gone(info.Pid) {
		t.Fatalf("info = %+v, %v", info, err)
	}
	if err := s.StopProgram(ctx, "grp.up", true); err != nil {
		t.Fatal(err)
	}
	if got := states(t, sub, "grp.up", "STOPPED"); strings.Join(got, " ") != "STOPPING STOPPED" {
		t.Fatalf("states = %v", got)
	}
	if !gaffertest.Gone(info.Pid) {
		t.Fatal("process survived the stop")
	}
	if err := s.StopProgram(ctx, "grp.up", true); !errors.Is(err, supervisor.ErrNotRunning) {
		t.Fatalf("second stop: %v, want ErrNotRunning", err)
	}
}

func TestProgramQuickExitBacksOffThenFatal(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	cfg := programJob(t, "quick", "exit", 5*time.Second, "0") // long startsecs: a slow -race start still counts as quick
	cfg.Program.StartRetries = 1
	if err := s.Load(ctx, "grp", cfg, false); err != nil {
		t.Fatal(err)
	}
	err := s.StartProgram(ctx, "grp.quick", true)
	if !errors.Is(err, supervisor.ErrSpawnError) {
		t.Fatalf("start with wait: %v, want ErrSpawnError", err)
	}
	got := states(t, sub, "grp.quick", "FATAL")
	if strings.Join(got, " ") != "STARTING BACKOFF STARTING BACKOFF FATAL" {
		t.Fatalf("states = %v", got)
	}
	info, _ := s.Program(ctx, "grp.quick")
	if info.State != supervisor.StateFatal || !strings.Contains(info.SpawnErr, "Exited too quickly") {
		t.Fatalf("info = %+v", info)
	}
}

func TestProgramAutorestartOnlyUnexpectedExits(t *testing.T) {
	for _, tt := range []struct {
		code    string
		restart bool
	}{{"0", false}, {"3", true}} {
		t.Run("exit "+tt.code, func(t *testing.T) {
			s := start(t)
			ctx := context.Background()
			sub := s.Subscribe(100, supervisor.DropOldest, "state")
			defer sub.Close()
			cfg := programJob(t, "x", "exit", 0, tt.code)
			if err := s.Load(ctx, "grp", cfg, true); err != nil {
				t.Fatal(err)
			}
			var want string
			if tt.restart {
				want = "STARTING RUNNING EXITED STARTING"
				got := states(t, sub, "grp.x", "EXITED")
				got = append(got, states(t, sub, "grp.x", "STARTING")...)
				if strings.Join(got, " ") != want {
					t.Fatalf("states = %v, want %s", got, want)
				}
				s.StopJob(ctx, "grp.x")
				return
			}
			got := states(t, sub, "grp.x", "EXITED")
			if strings.Join(got, " ") != "STARTING RUNNING EXITED" {
				t.Fatalf("states = %v", got)
			}
			select {
			case e := <-sub.C():
				t.Fatalf("expected exit restarted: %+v", e)
			case <-time.After(300 * time.Millisecond):
			}
			info, _ := s.Program(ctx, "grp.x")
			if info.State != supervisor.StateExited || info.ExitStatus != 0 {
				t.Fatalf("info = %+v", info)
			}
		})
	}
}

func TestProgramMissingCommandIsNoFile(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	cfg := programJob(t, "ghost", "sleep", 0)
	cfg.Cmd = filepath.Join(t.TempDir(), "does-not-exist")
	if err := s.Load(ctx, "grp", cfg, false); err != nil {
		t.Fatal(err)
	}
	if err := s.StartProgram(ctx, "grp.ghost", true); !errors.Is(err, supervisor.ErrNoFile) {
		t.Fatalf("start: %v, want ErrNoFile", err)
	}
	notExec := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notExec, []byte("x"), 0o644)
	cfg.Name, cfg.Cmd = "plain", notExec
	if err := s.Load(ctx, "grp", cfg, false); err != nil {
		t.Fatal(err)
	}
	if err := s.StartProgram(ctx, "grp.plain", true); !errors.Is(err, supervisor.ErrNotExecutable) {
		t.Fatalf("start: %v, want ErrNotExecutable", err)
	}
}

func TestProgramLogsToFileAcrossRestarts(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	dir := t.TempDir()
	cfg := programJob(t, "talker", "write-no-newline", 0, "hello;")
	cfg.Program.AutoRestart = supervisor.RestartAlways
	cfg.Program.StartRetries = 0
	cfg.Logs = map[string]supervisor.LogFile{"stdout": {Path: filepath.Join(dir, "out.log")}, "stderr": {AutoDir: dir}}
	if err := s.Load(ctx, "grp", cfg, true); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		states(t, sub, "grp.talker", "EXITED")
	}
	s.StopJob(ctx, "grp.talker")
	gaffertest.Eventually(t, wait, "three runs logged", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out.log"))
		return strings.HasPrefix(string(b), "hello;hello;hello;")
	})
	info, _ := s.Program(ctx, "grp.talker")
	if !strings.HasPrefix(filepath.Base(info.Logs["stderr"]), "talker-stderr---") {
		t.Fatalf("AUTO stderr log = %q", info.Logs["stderr"])
	}
}
