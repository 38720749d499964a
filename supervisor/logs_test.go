package supervisor_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func init() {
	// both-streams N: write N lines of 'o' to stdout and N of 'e' to
	// stderr, alternating, one write each, then exit.
	gaffertest.Helpers["both-streams"] = func(args []string) int {
		var n int
		fmt.Sscan(args[0], &n)
		out, errs := []byte(strings.Repeat("o", 99)+"\n"), []byte(strings.Repeat("e", 99)+"\n")
		for range n {
			os.Stdout.Write(out)
			os.Stderr.Write(errs)
		}
		return 0
	}
}

// TestStreamsShareOneLogFile: streams configured with the same file (stdout
// and stderr of a job, named two ways, and of a second job) are written
// through one Writer, so rotation counts them all: no file grows past
// max_bytes (the pumps write at most 32 KiB at once) and no byte is lost or
// left in a file rotated away.
func TestStreamsShareOneLogFile(t *testing.T) {
	for _, jobs := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d jobs", jobs), func(t *testing.T) {
			testSharedLog(t, jobs)
		})
	}
}

func testSharedLog(t *testing.T, jobs int) {
	s := start(t)
	ctx := context.Background()
	dir := t.TempDir()
	log := filepath.Join(dir, "both.log")
	const lines, maxBytes = 2000, 64 << 10
	for i := range jobs {
		cfg := helperJob(t, fmt.Sprint("both", i), "both-streams", fmt.Sprint(lines))
		cfg.RedirectOutput = []string{"stdout", "stderr"}
		cfg.Logs = map[string]supervisor.LogFile{"stdout": {Path: log, MaxBytes: maxBytes, Backups: 40},
			"stderr": {Path: dir + "/./both.log", MaxBytes: maxBytes, Backups: 40}}
		cfg.Program = supervisor.DefaultProgram("default")
		cfg.Program.StartSecs = 0
		cfg.Program.AutoRestart = supervisor.RestartNever
		if err := s.Load(ctx, "", cfg, true); err != nil {
			t.Fatal(err)
		}
	}
	total, each := jobs*2*lines*100, jobs*lines*99
	var all []byte
	files := func() []string {
		m, _ := filepath.Glob(log + "*")
		return m
	}
	gaffertest.Eventually(t, wait, "every byte in the log files", func() bool {
		all = nil
		for _, f := range files() {
			b, _ := os.ReadFile(f)
			all = append(all, b...)
		}
		return len(all) >= total
	})
	if len(all) != total || bytes.Count(all, []byte("o")) != each || bytes.Count(all, []byte("e")) != each {
		t.Errorf("%d bytes (%d o, %d e) in the log files, want %d (%d of each)",
			len(all), bytes.Count(all, []byte("o")), bytes.Count(all, []byte("e")), total, each)
	}
	if n := len(files()); n < 3 {
		t.Errorf("%d log files, want the log rotated at least twice", n)
	}
	for _, f := range files() {
		if fi, err := os.Stat(f); err != nil || fi.Size() > maxBytes {
			t.Errorf("%s: %v bytes, more than max_bytes %d (%v)", f, fi.Size(), maxBytes, err)
		}
	}
}

// TestAutoLogsNamedAtLoad: AUTO log files exist, with supervisord's names,
// as soon as a program is loaded, and keep their names across restarts.
func TestAutoLogsNamedAtLoad(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	dir := t.TempDir()
	cfg := helperJob(t, "web", "sleep")
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	cfg.Logs = map[string]supervisor.LogFile{"stdout": {AutoDir: dir}, "stderr": {AutoDir: dir}}
	cfg.Program = supervisor.DefaultProgram("app")
	cfg.Program.StartSecs = 0
	if err := s.Load(ctx, "app", cfg, false); err != nil {
		t.Fatal(err)
	}
	info, err := s.Program(ctx, "app.web")
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"stdout", "stderr"} {
		p := info.Logs[ch]
		name := strings.TrimPrefix(p, dir+"/")
		if !strings.HasPrefix(name, "web-"+ch+"---supervisor-") || !strings.HasSuffix(name, ".log") || len(name) != len("web-"+ch+"---supervisor-")+12 {
			t.Errorf("%s log of a never-started program: %q, want %s/web-%s---supervisor-XXXXXXXX.log", ch, p, dir, ch)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s log not created at load: %v", ch, err)
		}
	}
	for range 2 {
		if err := s.StartProgram(ctx, "app.web", true); err != nil {
			t.Fatal(err)
		}
		if err := s.StopProgram(ctx, "app.web", true); err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.Program(ctx, "app.web")
	if err != nil {
		t.Fatal(err)
	}
	if after.Logs["stdout"] != info.Logs["stdout"] || after.Logs["stderr"] != info.Logs["stderr"] {
		t.Errorf("logs after restarts %v, want those named at load %v", after.Logs, info.Logs)
	}
	if m, _ := filepath.Glob(dir + "/*"); len(m) != 2 {
		t.Errorf("files in childlogdir: %v, want the two named at load", m)
	}
}

// TestSharedLogReopenedAfterRelease: once every job writing to a file is
// unloaded, the next job with that path opens it afresh and appends.
func TestSharedLogReopenedAfterRelease(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "out.log")
	sub := s.Subscribe(100, supervisor.DropOldest, "exit")
	defer sub.Close()
	for _, name := range []string{"first", "second", "third"} {
		cfg := helperJob(t, name, "write-no-newline", name+"\n")
		cfg.RedirectOutput = []string{"stdout"}
		cfg.Logs = map[string]supervisor.LogFile{"stdout": {Path: log}}
		cfg.Program = supervisor.DefaultProgram("default")
		cfg.Program.StartSecs = 0
		cfg.Program.AutoRestart = supervisor.RestartNever
		if err := s.Load(ctx, "", cfg, true); err != nil {
			t.Fatal(err)
		}
		gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Name == "default."+name })
		gaffertest.Eventually(t, wait, name+" in the log", func() bool {
			b, _ := os.ReadFile(log)
			return strings.HasSuffix(string(b), name+"\n")
		})
		if name != "second" { // the second stays loaded while the third writes
			if err := s.Unload(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b, _ := os.ReadFile(log); string(b) != "first\nsecond\nthird\n" {
		t.Errorf("log %q", b)
	}
}
