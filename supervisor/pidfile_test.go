package supervisor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// These tests run without Options.ReapAll: the test binary reaps only its
// own children. Adoption of a double-forked daemon (re-parented to gafferd
// as subreaper) is tested end to end in cmd/gafferd.

func TestParsePIDFile(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{{"123\n", 123}, {"  42  ", 42}, {"7\n8080\n", 7}, {"4194304", 4194304}} {
		got, err := supervisor.ParsePIDFile([]byte(c.in))
		if err != nil || got != c.want {
			t.Errorf("ParsePIDFile(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "\n", "0", "-1", "abc", "12a", "4194305", "99999999", "1 2", "+5"} {
		if got, err := supervisor.ParsePIDFile([]byte(in)); err == nil || !errors.Is(err, supervisor.ErrBadValue) {
			t.Errorf("ParsePIDFile(%q) = %d, %v; want ErrBadValue", in, got, err)
		}
	}
}

func FuzzParsePIDFile(f *testing.F) {
	for _, s := range []string{"1\n", " 99 \n8080", "", "x", "0", "4194304", "\x00", "１２"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pid, err := supervisor.ParsePIDFile(data)
		if err != nil {
			return
		}
		if pid <= 0 || pid > 1<<22 {
			t.Fatalf("accepted pid %d from %q", pid, data)
		}
		// The pid must be what the first line says.
		line, _, _ := strings.Cut(string(data), "\n")
		if n, err := strconv.Atoi(strings.TrimSpace(line)); err != nil || n != pid {
			t.Fatalf("pid %d from first line %q", pid, line)
		}
	})
}

func TestPIDFileJSONRoundTrip(t *testing.T) {
	var c supervisor.JobConfig
	if err := json.Unmarshal([]byte(`{"name":"d","cmd":"x","pidfile":"run/d.pid"}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.PIDFile != "run/d.pid" {
		t.Fatalf("PIDFile = %q", c.PIDFile)
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"pidfile":"run/d.pid"`) {
		t.Fatalf("job info %s lacks the pidfile", b)
	}
	c.NumProcesses = 2
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "pidfile") {
		t.Fatalf("numprocesses 2 with a pidfile: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"name":"d","cmd":"x","pidfile":3}`), &c); err == nil || !strings.Contains(err.Error(), `"pidfile"`) {
		t.Fatalf("numeric pidfile: %v", err)
	}
}

func pidfileProgram(t *testing.T, name, helper, pidfile string, args ...string) supervisor.JobConfig {
	cfg := programJob(t, name, helper, 0, args...)
	cfg.Program.StartRetries = 0
	cfg.PIDFile = pidfile
	return cfg
}

func TestPidfileLauncherFailureIsASpawnFailure(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	pidfile := filepath.Join(t.TempDir(), "d.pid")
	if err := s.Load(ctx, "grp", pidfileProgram(t, "d", "exit", pidfile, "1"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.StartProgram(ctx, "grp.d", false); err != nil {
		t.Fatal(err)
	}
	if got := states(t, sub, "grp.d", "FATAL"); strings.Join(got, " ") != "STARTING BACKOFF FATAL" {
		t.Fatalf("states = %v", got)
	}
	info, err := s.Program(ctx, "grp.d")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.SpawnErr, "launcher exited with exit status 1") || info.Pid != 0 {
		t.Fatalf("spawnerr %q, pid %d", info.SpawnErr, info.Pid)
	}
}

func TestPidfileNamingAForeignProcessRefusesTheSpawn(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	other := exec.Command("sleep", "300")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	pidfile := filepath.Join(t.TempDir(), "d.pid")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(other.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx, "grp", pidfileProgram(t, "d", "daemonize", pidfile, pidfile), false); err != nil {
		t.Fatal(err)
	}
	err := s.StartProgram(ctx, "grp.d", true)
	want := fmt.Sprintf("pidfile %s names pid %d, which is running and not supervised by gafferd", pidfile, other.Process.Pid)
	if !errors.Is(err, supervisor.ErrSpawnError) || !strings.Contains(err.Error(), want) {
		t.Fatalf("start: %v; want ErrSpawnError with %q", err, want)
	}
	if got := states(t, sub, "grp.d", "FATAL"); strings.Join(got, " ") != "STARTING BACKOFF FATAL" {
		t.Fatalf("states = %v", got)
	}
	if gaffertest.Gone(other.Process.Pid) {
		t.Fatal("the unrelated process was killed")
	}
	if b, _ := os.ReadFile(pidfile); strings.TrimSpace(string(b)) != strconv.Itoa(other.Process.Pid) {
		t.Fatalf("pidfile changed to %q", b)
	}
}

// Without ReapAll, a daemon that left its launcher's session (setsid) cannot
// be told from an unrelated process: it is refused, and the daemon is left
// alone (the documented limit of embedding without ReapAll).
func TestPidfileWithoutReapAllRefusesADaemonOutsideTheLaunchersSession(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	pidfile := filepath.Join(t.TempDir(), "d.pid")
	if err := s.Load(ctx, "grp", pidfileProgram(t, "d", "daemonize", pidfile, pidfile), false); err != nil {
		t.Fatal(err)
	}
	err := s.StartProgram(ctx, "grp.d", true)
	daemon := 0
	if b, rerr := os.ReadFile(pidfile); rerr == nil {
		daemon, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if daemon > 0 {
		t.Cleanup(func() {
			if !gaffertest.Gone(daemon) {
				exec.Command("kill", "-9", strconv.Itoa(daemon)).Run()
			}
		})
	}
	if !errors.Is(err, supervisor.ErrSpawnError) || !strings.Contains(err.Error(), "launcher's process group or session") {
		t.Fatalf("start: %v; want a refusal naming the limit", err)
	}
	if daemon == 0 || gaffertest.Gone(daemon) {
		t.Fatalf("daemon %d: want it written and left running (not ours to signal)", daemon)
	}
}
