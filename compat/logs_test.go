package compat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// numbered is n lines of 10 bytes: "line 0000\n" …
func numbered(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %04d\n", i)
	}
	return b.String()
}

// numberedScript writes numbered(n) 100 bytes at a time (dash's printf makes
// one write per call), sleeping pause between writes, then sleeps.
func numberedScript(n int, pause string) string {
	return `#!/bin/sh
i=0
while [ $i -lt ` + fmt.Sprint(n) + ` ]; do
  printf 'line %04d\n' $i $((i+1)) $((i+2)) $((i+3)) $((i+4)) $((i+5)) $((i+6)) $((i+7)) $((i+8)) $((i+9))
  i=$((i+10))
  ` + pause + `
done
exec sleep 1000
`
}

var logFiles = map[string]string{
	// The pauses make each write its own chunk for supervisord, which
	// rotates after the chunk that reaches maxbytes.
	"chatty.sh": numberedScript(500, "sleep 0.02"),
	"lines.sh":  numberedScript(300, ":"),
	"both.sh":   "#!/bin/sh\necho out\necho err >&2\nexec sleep 1000\n",
	"ticker.sh": "#!/bin/sh\ni=0\nwhile [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done\n",
}

var logPrograms = []string{
	program("chatty", "command=%(here)s/chatty.sh", "startsecs=0",
		"stdout_logfile=%(here)s/chatty.log", "stdout_logfile_maxbytes=1KB", "stdout_logfile_backups=2"),
	program("lines", "command=%(here)s/lines.sh", "startsecs=0", "stdout_logfile=%(here)s/lines.log"),
	program("merged", "command=%(here)s/both.sh", "startsecs=0", "redirect_stderr=true",
		"stdout_logfile=%(here)s/merged.log"),
	program("split", "command=%(here)s/both.sh", "startsecs=0",
		"stdout_logfile=%(here)s/split.out", "stderr_logfile=%(here)s/split.err"),
	program("ticker", "command=%(here)s/ticker.sh", "startsecs=0"),
	program("cat", "command=cat", "startsecs=0", "stdout_logfile=%(here)s/cat.log"),
	program("nolog", "command=sleep 1000", "startsecs=0", "stdout_logfile=NONE", "stderr_logfile=NONE"),
}

func (d *daemon) readFile(name string) string {
	b, _ := os.ReadFile(d.path(name))
	return string(b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestLogRotation(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: logFiles, Sections: logPrograms})
		full := numbered(500)
		eventually(t, 15*time.Second, "chatty's last line in its logs", func() bool {
			return strings.HasSuffix(d.readFile("chatty.log.1")+d.readFile("chatty.log"), "line 0499\n")
		})
		// The log and two backups, no third; together a tail of the output,
		// in order, with nothing lost in between. supervisord rotates after
		// the write that reaches 1024 bytes, gafferd before the write that
		// would pass it: backups are about 1 KB either way.
		if !exists(d.path("chatty.log.1")) || !exists(d.path("chatty.log.2")) || exists(d.path("chatty.log.3")) {
			t.Errorf("after rotation: chatty.log.1 %v, .2 %v, .3 %v; want the first two only",
				exists(d.path("chatty.log.1")), exists(d.path("chatty.log.2")), exists(d.path("chatty.log.3")))
		}
		cur, b1, b2 := d.readFile("chatty.log"), d.readFile("chatty.log.1"), d.readFile("chatty.log.2")
		inRange := func(s string) bool { return len(s) >= 512 && len(s) <= 3072 }
		if joined := b2 + b1 + cur; !strings.HasSuffix(full, joined) || !inRange(b1) || !inRange(b2) || len(cur) > 3072 {
			t.Errorf("rotated logs: .2 %d bytes, .1 %d bytes, current %d bytes; together a suffix of the output: %v",
				len(b2), len(b1), len(cur), strings.HasSuffix(full, joined))
		}
		// clear empties the current log and leaves the backups.
		d.expectCtl(0, "chatty: cleared\n", "clear", "chatty")
		if s := d.readFile("chatty.log"); s != "" {
			t.Errorf("after clear, chatty.log holds %d bytes", len(s))
		}
		if d.readFile("chatty.log.1") != b1 || d.readFile("chatty.log.2") != b2 {
			t.Errorf("clear changed the backups")
		}
	})
}

func TestLogTailReadClear(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: logFiles, Sections: logPrograms})
		full := numbered(300)
		eventually(t, 15*time.Second, "lines.log complete", func() bool { return d.readFile("lines.log") == full })

		// supervisorctl tail: the last 1600 bytes, and a newline.
		d.expectCtl(0, full[len(full)-1600:]+"\n", "tail", "lines")
		d.expectCtl(0, "line 0298\nline 0299\n\n", "tail", "-20", "lines")
		d.expectCtl(0, "line 0299\n\n", "tail", "-10", "lines", "stdout")
		d.expectCtl(1, "nope: ERROR (no such process name)\n", "tail", "nope")

		// readProcessStdoutLog offsets (spec 4.3).
		size := len(full)
		for _, c := range []struct {
			offset, length int
			want           string
		}{
			{-20, 0, "line 0298\nline 0299\n"},
			{0, 10, "line 0000\n"},
			{5, 10, "0000\nline "},
			{0, 0, full},
			{-100000, 0, full},
			{size, 0, ""},
			{size + 100, 0, ""},
			{size - 5, 100, "0299\n"},
		} {
			if v := d.rpc("supervisor.readProcessStdoutLog", "lines", c.offset, c.length); v != c.want {
				t.Errorf("readProcessStdoutLog(lines, %d, %d) = %q, want %q", c.offset, c.length, v, c.want)
			}
		}
		d.rpcFault(3, "BAD_ARGUMENTS", "supervisor.readProcessStdoutLog", "lines", -10, 5)
		d.rpcFault(3, "BAD_ARGUMENTS", "supervisor.readProcessStdoutLog", "lines", 0, -1)
		d.rpcFault(10, "BAD_NAME: nope", "supervisor.readProcessStdoutLog", "nope", 0, 0)
		for _, c := range []struct {
			offset, length int
			want           []any
		}{
			{0, 20, []any{"line 0298\nline 0299\n", size, true}},
			{size, 100, []any{"", size, false}},
			{0, size + 100, []any{full, size, false}},
			{size - 10, 10, []any{"line 0299\n", size, false}},
		} {
			if v := d.rpc("supervisor.tailProcessStdoutLog", "lines", c.offset, c.length); !reflect.DeepEqual(v, c.want) {
				t.Errorf("tailProcessStdoutLog(lines, %d, %d) = %#v, want %#v", c.offset, c.length, v, c.want)
			}
		}

		// clear empties the log.
		d.expectCtl(0, "lines: cleared\n", "clear", "lines")
		if s := d.readFile("lines.log"); s != "" {
			t.Errorf("after clear, lines.log holds %d bytes", len(s))
		}
		if v := d.rpc("supervisor.readProcessStdoutLog", "lines", 0, 0); v != "" {
			t.Errorf("after clear, readProcessStdoutLog = %q", v)
		}
		d.expectCtl(0, "\n", "tail", "lines")

		// redirect_stderr merges stderr into the stdout log.
		eventually(t, 10*time.Second, "merged.log", func() bool { return d.readFile("merged.log") == "out\nerr\n" })
		d.expectCtl(0, "out\nerr\n\n", "tail", "merged")
		eventually(t, 10*time.Second, "split logs", func() bool {
			return d.readFile("split.out") == "out\n" && d.readFile("split.err") == "err\n"
		})
		d.expectCtl(0, "out\n\n", "tail", "split")
		d.expectCtl(0, "err\n\n", "tail", "split", "stderr")
		if v := d.rpc("supervisor.readProcessStderrLog", "split", 0, 0); v != "err\n" {
			t.Errorf("readProcessStderrLog(split) = %q", v)
		}
		if info := d.info("merged"); info["stderr_logfile"] != "" {
			t.Errorf("merged stderr_logfile = %q, want none", info["stderr_logfile"])
		}

		// sendProcessStdin reaches the program.
		d.waitState("cat", "RUNNING", 10*time.Second)
		if v := d.rpc("supervisor.sendProcessStdin", "cat", "hello\n"); v != true {
			t.Errorf("sendProcessStdin = %#v", v)
		}
		eventually(t, 10*time.Second, "cat.log", func() bool { return d.readFile("cat.log") == "hello\n" })
		d.rpcFault(10, "BAD_NAME: nope", "supervisor.sendProcessStdin", "nope", "x")

		// No log file.
		if v := d.rpc("supervisor.tailProcessStdoutLog", "nolog", 0, 100); !reflect.DeepEqual(v, []any{"", 0, false}) {
			t.Errorf("tailProcessStdoutLog(nolog) = %#v, want [\"\", 0, false]", v)
		}
		// supervisord's fault text is bare NO_FILE, gafferd's names the
		// process; supervisorctl only looks at the code.
		var f *fault
		if _, err := d.tryRPC("supervisor.readProcessStdoutLog", "nolog", 0, 0); !errors.As(err, &f) ||
			f.Code != 20 || !strings.HasPrefix(f.String, "NO_FILE") {
			t.Errorf("readProcessStdoutLog(nolog): %v, want fault 20 NO_FILE", err)
		}
		d.expectCtl(1, "nolog: ERROR (no log file)\n", "tail", "nolog")
		if info := d.info("nolog"); info["stdout_logfile"] != "" || info["logfile"] != "" {
			t.Errorf("nolog: stdout_logfile %q logfile %q, want empty", info["stdout_logfile"], info["logfile"])
		}
	})
}

func lastString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestTailFollow runs supervisorctl tail -f, which reads GET /logtail/<name>,
// until it has printed lines written after it started, then stops it by pid.
func TestTailFollow(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: logFiles, Sections: logPrograms})
		lastTick := func() int {
			v, _ := d.rpc("supervisor.readProcessStdoutLog", "ticker", -20, 0).(string)
			n := -1
			for _, l := range strings.Split(v, "\n") {
				fmt.Sscanf(l, "tick %d", &n)
			}
			return n
		}
		eventually(t, 10*time.Second, "ticker output", func() bool { return lastTick() >= 1 })
		eventually(t, 10*time.Second, "split stderr", func() bool { return d.readFile("split.err") == "err\n" })

		from := lastTick()
		got, ok := d.follow("tail", "-f", "ticker")(func(lines []string) bool {
			n := -1
			fmt.Sscanf(lines[len(lines)-1], "tick %d", &n)
			return n >= from+2
		})
		if !ok || len(got) < 2 || got[0] != "==> Press Ctrl-C to exit <==" {
			t.Errorf("tail -f ticker printed %q, want the header, then up to tick %d at least", got, from+2)
		}
		for _, l := range got[1:] {
			if !strings.HasPrefix(l, "tick ") {
				t.Errorf("tail -f ticker printed %q", l)
			}
		}

		got, _ = d.follow("tail", "-f", "split", "stderr")(func(lines []string) bool { return len(lines) >= 2 })
		if want := []string{"==> Press Ctrl-C to exit <==", "err"}; !reflect.DeepEqual(got, want) {
			t.Errorf("tail -f split stderr printed %q, want %q", got, want)
		}
	})
}

// follow starts a supervisorctl that never ends on its own and returns a
// function that collects its output lines until done says so (ok) or 10 s
// pass, then stops it by pid.
func (d *daemon) follow(args ...string) func(done func(lines []string) bool) (lines []string, ok bool) {
	t := d.t
	t.Helper()
	cmd := exec.Command(supervisorctl, append([]string{"-c", d.conf}, args...)...)
	cmd.Dir = d.dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for i := 0; i < 10000 && sc.Scan(); i++ {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, pr) // past the bound, keep supervisorctl from blocking
	}()
	return func(done func([]string) bool) ([]string, bool) {
		t.Helper()
		var got []string
		ok := false
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
	read:
		for {
			select {
			case l, more := <-lines:
				if !more {
					break read
				}
				got = append(got, l)
				if done(got) {
					ok = true
					break read
				}
			case <-timeout.C:
				break read
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		var err error
		select {
		case err = <-waited:
		case <-time.After(10 * time.Second):
			t.Errorf("supervisorctl %v ignored SIGTERM; killing pid %d", args, cmd.Process.Pid)
			cmd.Process.Kill()
			err = <-waited
		}
		pw.Close()
		for range lines { // drain until the reader sees the closed pipe
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Logf("supervisorctl %v ended with %v", args, err)
		}
		return got, ok
	}
}
