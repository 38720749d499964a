package compat

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var miscFiles = map[string]string{
	// Records the signals it gets; the sleeps are in its group (stopasgroup).
	"trapper.sh": `#!/bin/sh
here=$(dirname "$0")
trap 'echo HUP >> "$here/signals"' HUP
trap 'echo USR1 >> "$here/signals"' USR1
i=0
while [ $i -lt 100000 ]; do sleep 0.05; i=$((i+1)); done
`,
}

var miscPrograms = []string{
	program("trapper", "command=%(here)s/trapper.sh", "startsecs=0", "stopasgroup=true"),
	program("idle", "command=sleep 1000", "startsecs=0", "autostart=false"),
}

func TestSignal(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: miscFiles, Sections: miscPrograms})
		d.waitState("trapper", "RUNNING", 10*time.Second)
		d.expectCtl(0, "trapper: signalled\n", "signal", "HUP", "trapper")
		eventually(t, 10*time.Second, "trapper to record HUP", func() bool { return d.readFile("signals") == "HUP\n" })
		d.expectCtl(0, "trapper: signalled\n", "signal", "SIGUSR1", "trapper")
		eventually(t, 10*time.Second, "trapper to record USR1", func() bool { return d.readFile("signals") == "HUP\nUSR1\n" })
		d.expectCtl(0, "trapper: signalled\n", "signal", "1", "trapper")
		eventually(t, 10*time.Second, "trapper to record signal 1", func() bool { return d.readFile("signals") == "HUP\nUSR1\nHUP\n" })
		d.expectCtl(0, "trapper: signalled\n", "signal", "HUP", "all")
		eventually(t, 10*time.Second, "trapper to record signal all", func() bool { return d.readFile("signals") == "HUP\nUSR1\nHUP\nHUP\n" })
		d.expectCtl(1, "trapper: ERROR (bad signal name)\n", "signal", "BOGUS", "trapper")
		d.expectCtl(1, "nope: ERROR (no such process)\n", "signal", "HUP", "nope")
		d.expectCtl(7, "idle: ERROR (not running)\n", "signal", "HUP", "idle")
		d.expectCtl(1, "Error: signal requires a signal name and a process name\n"+
			"signal <signal name> <name>\t\tSignal a process\n"+
			"signal <signal name> <gname>:*\t\tSignal all processes in a group\n"+
			"signal <signal name> <name> <name>\tSignal multiple processes or groups\n"+
			"signal <signal name> all\t\tSignal all processes\n", "signal", "HUP")
		if s := d.state("trapper"); s != "RUNNING" {
			t.Errorf("after the signals trapper is %s", s)
		}
	})
}

func TestPidVersionAvailMaintail(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: miscFiles, Sections: miscPrograms})
		d.waitState("trapper", "RUNNING", 10*time.Second)
		trapper, _ := d.info("trapper")["pid"].(int)

		d.expectCtl(0, strconv.Itoa(d.pid())+"\n", "pid")
		d.expectCtl(0, strconv.Itoa(trapper)+"\n", "pid", "trapper")
		d.expectCtl(7, "0\n", "pid", "idle")
		d.expectCtl(1, "No such process nope\n", "pid", "nope")
		d.expectCtl(0, strconv.Itoa(0)+"\n"+strconv.Itoa(trapper)+"\n", "pid", "all")

		// The version differs by design (4.2.5 vs gafferd's); it is a line.
		if out, code := d.ctl("version"); code != 0 || !regexp.MustCompile(`^\S+\n$`).MatchString(out) {
			t.Errorf("supervisorctl version (exit %d): %q", code, out)
		}
		d.expectCtl(0, ""+
			"idle                             in use    manual    999:999\n"+
			"trapper                          in use    auto      999:999\n", "avail")

		// maintail: the main log's wording differs; it has something in it.
		if out, code := d.ctl("maintail"); code != 0 || len(strings.TrimSpace(out)) == 0 {
			t.Errorf("supervisorctl maintail (exit %d): %q", code, out)
		}
		if out, code := d.ctl("maintail", "-10"); code != 0 || len(out) != 11 {
			t.Errorf("supervisorctl maintail -10 (exit %d): %q, want 10 bytes and a newline", code, out)
		}
		if v, _ := d.rpc("supervisor.readLog", 0, 0).(string); len(v) == 0 {
			t.Errorf("readLog(0, 0) is empty")
		}

	})
}

// TestMainLogRecordsLifecycle: the main log (maintail, maintail -f) tells
// when a process is spawned and stopped. The wording is each daemon's own
// (supervisord: "spawned: 'idle' with pid 42", "stopped: idle (terminated by
// SIGTERM)"); only a line naming the process is required.
func TestMainLogRecordsLifecycle(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: miscFiles, Sections: miscPrograms})
		before := d.readFile("supervisord.log")
		if strings.Contains(before, "idle") {
			t.Fatalf("the main log mentions idle before it started:\n%s", before)
		}
		follow := d.follow("maintail", "-f")
		d.expectCtl(0, "idle: started\n", "start", "idle")
		got, ok := follow(func(lines []string) bool { return strings.Contains(lines[len(lines)-1], "idle") })
		if len(got) == 0 || got[0] != "==> Press Ctrl-C to exit <==" {
			t.Errorf("maintail -f printed %q", got)
		}
		if !ok {
			t.Errorf("maintail -f printed no line about idle after supervisorctl start idle; it printed:\n%s", strings.Join(got, "\n"))
		}
		d.expectCtl(0, "idle: stopped\n", "stop", "idle")
		out, code := d.ctl("maintail")
		if n := strings.Count(out, "idle"); n < 2 || code != 0 {
			t.Errorf("maintail after starting and stopping idle (exit %d), %d mentions of idle, want at least 2:\n%s", code, n, out)
		}
	})
}

func TestReloadAndShutdown(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: miscFiles, Sections: miscPrograms})
		d.waitState("trapper", "RUNNING", 10*time.Second)
		before := d.info("trapper")["pid"]

		d.expectCtl(0, "Restarted supervisord\n", "reload")
		eventually(t, 20*time.Second, "trapper restarted after reload", func() bool {
			v, err := d.tryRPC("supervisor.getProcessInfo", "trapper")
			m, _ := v.(map[string]any)
			return err == nil && m["statename"] == "RUNNING" && m["pid"] != before
		})
		d.expectCtl(0, strconv.Itoa(d.pid())+"\n", "pid")

		d.expectCtl(0, "Shut down\n", "shutdown")
		select {
		case <-d.exited:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s still running 20 s after shutdown", k.name)
		}
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with status %d after shutdown, want 0", k.name, code)
		}
		d.checkChildrenGone()
		out, code := d.ctl("status")
		if !strings.Contains(out, "no such file") || code != 4 {
			t.Errorf("supervisorctl status after shutdown (exit %d): %q", code, out)
		}
	})
}
