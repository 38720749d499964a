package supervisor_test

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func init() {
	// stop-recorder FILE NAME PEER...: append "up NAME" to FILE, and on
	// SIGTERM "term NAME"; wait (at most 5 s) until every PEER got its
	// SIGTERM too, then append "exit NAME" and exit. A peer that never gets
	// one leaves "alone NAME" instead.
	gaffertest.Helpers["stop-recorder"] = func(args []string) int {
		file, name, peers := args[0], args[1], args[2:]
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		appendLine(file, "up "+name)
		<-sigs
		appendLine(file, "term "+name)
		deadline := time.Now().Add(5 * time.Second)
		for _, peer := range peers {
			for {
				b, _ := os.ReadFile(file)
				if strings.Contains(string(b), "term "+peer+"\n") {
					break
				}
				if time.Now().After(deadline) {
					appendLine(file, "alone "+name)
					return 1
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		// A supervisor that did not wait for this level would have
		// signalled the next one by now.
		time.Sleep(50 * time.Millisecond)
		appendLine(file, "exit "+name)
		return 0
	}
}

func appendLine(file, line string) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		os.Exit(3)
	}
	f.WriteString(line + "\n") // one write(2): lines never interleave
	f.Close()
}

// checkStopOrder checks the lines a run of stop-recorders left: every job
// of a level got SIGTERM only after every job of the levels before it had
// exited, and jobs of one level were stopped together.
func checkStopOrder(t *testing.T, file string, levels [][]string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	at := func(line string) int {
		i := slices.Index(lines, line)
		if i < 0 {
			t.Fatalf("no %q in:\n%s", line, b)
		}
		return i
	}
	for i, level := range levels {
		for _, name := range level {
			term := at("term " + name)
			at("exit " + name)
			for _, earlier := range levels[:i] {
				for _, e := range earlier {
					if exit := at("exit " + e); exit > term {
						t.Errorf("%s got SIGTERM before %s had exited:\n%s", name, e, b)
					}
				}
			}
		}
	}
	if strings.Contains(string(b), "alone") {
		t.Errorf("jobs of one level were not stopped together:\n%s", b)
	}
}

func waitUp(t *testing.T, file string, names ...string) {
	t.Helper()
	gaffertest.Eventually(t, wait, "every recorder up", func() bool {
		b, _ := os.ReadFile(file)
		for _, n := range names {
			if !strings.Contains(string(b), "up "+n+"\n") {
				return false
			}
		}
		return true
	})
}

func stopAndWait(t *testing.T, s *supervisor.Supervisor, cancel context.CancelFunc) {
	t.Helper()
	cancel()
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("supervisor did not stop")
	}
}

func TestShutdownStopsByDescendingPriority(t *testing.T) {
	file := t.TempDir() + "/order"
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	jobs := []struct {
		name  string
		prio  int
		peers []string
	}{
		{"a", 10, nil},
		{"b1", 20, []string{"b2"}},
		{"b2", 20, []string{"b1"}},
		{"c", 30, nil},
		{"unset", supervisor.LowestPriority, nil}, // no priority: started last, stopped first
	}
	for _, j := range jobs {
		cfg := helperJob(t, j.name, "stop-recorder", append([]string{file, j.name}, j.peers...)...)
		cfg.Priority = j.prio
		if err := s.Load(ctx, "", cfg, true); err != nil {
			t.Fatal(err)
		}
	}
	waitUp(t, file, "a", "b1", "b2", "c", "unset")
	stopAndWait(t, s, cancel)
	checkStopOrder(t, file, [][]string{{"unset"}, {"c"}, {"b1", "b2"}, {"a"}})
}

func TestShutdownStopsProgramGroupsOneAtATime(t *testing.T) {
	file := t.TempDir() + "/order"
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	programs := []struct {
		group, name string
		groupPrio   int
		prio        int
		peers       []string
	}{
		{"listeners", "l", -1, 999, nil}, // an event listener pool's default: stops last
		{"web", "w1", 5, 1, []string{"w2"}},
		{"web", "w2", 5, 2, []string{"w1"}},
		{"db", "d", 5, 999, nil}, // same group priority as web: by name, web first
		{"batch", "b", 999, 1, nil},
	}
	for _, p := range programs {
		cfg := helperJob(t, p.name, "stop-recorder", append([]string{file, p.name}, p.peers...)...)
		cfg.Priority = p.prio
		cfg.Program = supervisor.DefaultProgram(p.group)
		cfg.Program.StartSecs = 0
		cfg.Program.GroupPriority = p.groupPrio
		if err := s.Load(ctx, p.group, cfg, true); err != nil {
			t.Fatal(err)
		}
	}
	waitUp(t, file, "l", "w1", "w2", "d", "b")
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	stopAndWait(t, s, cancel)
	checkStopOrder(t, file, [][]string{{"b"}, {"w1", "w2"}, {"d"}, {"l"}})
	// Each program went RUNNING → STOPPING → STOPPED.
	var stopped []string
	for range 100 {
		select {
		case e := <-sub.C():
			if e.To == "STOPPED" {
				stopped = append(stopped, e.Process)
			}
			continue
		default:
		}
		break
	}
	slices.Sort(stopped)
	if want := []string{"b", "d", "l", "w1", "w2"}; !slices.Equal(stopped, want) {
		t.Errorf("STOPPED events for %v, want %v", stopped, want)
	}
}

// TestStopProgramsWaitsForAll: StopPrograms (supervisor's stopAllProcesses)
// reports per program and, with wait, returns once all are stopped.
func TestStopProgramsWaitsForAll(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "idle"} {
		cfg := helperJob(t, name, "sleep")
		cfg.Program = supervisor.DefaultProgram("g")
		cfg.Program.StartSecs = 0
		if err := s.Load(ctx, "g", cfg, name != "idle"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"g.a", "g.b"} {
		gaffertest.Eventually(t, wait, name+" running", func() bool {
			info, err := s.Program(ctx, name)
			return err == nil && info.State == supervisor.StateRunning
		})
	}
	errs, err := s.StopPrograms(ctx, []string{"g.b", "g.idle", "g.a", "g.nope"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], supervisor.ErrNotRunning) || errs[2] != nil || !errors.Is(errs[3], supervisor.ErrNotFound) {
		t.Errorf("errs %v, want nil, not running, nil, not found", errs)
	}
	for _, name := range []string{"g.a", "g.b"} {
		if info, err := s.Program(ctx, name); err != nil || info.State != supervisor.StateStopped || info.Pid != 0 {
			t.Errorf("%s after StopPrograms: %v pid %d %v, want STOPPED", name, info.State, info.Pid, err)
		}
	}
}
