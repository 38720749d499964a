package compat

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// runs counts the lines a script appended to its runs file: one per spawn.
func (d *daemon) runs(file string) int {
	b, _ := os.ReadFile(d.path(file))
	return strings.Count(string(b), "\n")
}

// script is a /bin/sh script that records each run in <name>.runs next to it.
func script(name, body string) (string, string) {
	return name + ".sh", "#!/bin/sh\necho run >> \"$(dirname \"$0\")/" + name + ".runs\"\n" + body + "\n"
}

// startFailing starts a program that exits at once, without waiting.
// supervisord reaps right after spawning, so if the child is already gone
// it answers SPAWN_ERROR even without wait; either answer is right.
func (d *daemon) startFailing(name string) {
	d.t.Helper()
	v, err := d.tryRPC("supervisor.startProcess", name, false)
	var f *fault
	if !(err == nil && v == true) && !(errors.As(err, &f) && f.Code == 50 && f.String == "SPAWN_ERROR: "+name) {
		d.t.Fatalf("startProcess(%s, wait=false) = %#v, %v; want true or SPAWN_ERROR", name, v, err)
	}
}

func TestStartsecsStartingThenRunning(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Sections: []string{
			program("slow", "command=sleep 1000", "startsecs=1", "autostart=false"),
			program("slow2", "command=sleep 1000", "startsecs=1", "autostart=false"),
			// Never reaches RUNNING during the test, however slow the machine.
			program("held", "command=sleep 1000", "startsecs=60", "autostart=false"),
		}})
		t0 := time.Now()
		if v := d.rpc("supervisor.startProcess", "slow", false); v != true {
			t.Fatalf("startProcess(slow, wait=false) = %#v", v)
		}
		info := d.info("slow")
		if info["statename"] != "STARTING" || info["state"] != 10 {
			t.Errorf("right after start: state %v %v, want STARTING 10", info["state"], info["statename"])
		}
		d.waitState("slow", "RUNNING", 10*time.Second)
		if el := since(t0); el < time.Second || el > 6*time.Second {
			t.Errorf("slow RUNNING after %v, want just over startsecs=1", el)
		}
		if info := d.info("slow"); info["state"] != 20 {
			t.Errorf("RUNNING state code %v, want 20", info["state"])
		}

		d.rpc("supervisor.startProcess", "held", false)
		d.expectCtl(0, "held                             STARTING  \n", "status", "held")

		// supervisorctl start waits for RUNNING.
		t0 = time.Now()
		d.expectCtl(0, "slow2: started\n", "start", "slow2")
		if el := since(t0); el < time.Second {
			t.Errorf("supervisorctl start returned after %v, before startsecs=1", el)
		}
		if s := d.state("slow2"); s != "RUNNING" {
			t.Errorf("after supervisorctl start: %s, want RUNNING", s)
		}
	})
}

func TestQuickExitBackoffThenFatal(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		name, body := script("quick", "exit 1")
		d := start(t, k, setup{
			Files: map[string]string{name: body},
			// startsecs is well above supervisord's latency in noticing an exit
			// (up to about a second, its loop's poll timeout), so that every
			// attempt counts as too quick.
			Sections: []string{program("quick", "command=%(here)s/quick.sh", "startsecs=3", "startretries=2",
				"autostart=false")},
		})
		t0 := time.Now()
		d.startFailing("quick")
		seen := map[string]bool{}
		eventually(t, 15*time.Second, "quick FATAL", func() bool {
			s := d.state("quick")
			seen[s] = true
			return s == "FATAL"
		})
		el := since(t0)
		if !seen["BACKOFF"] {
			t.Errorf("never saw BACKOFF on the way to FATAL (saw %v)", seen)
		}
		// Spawn, fail, wait 1 s, spawn, fail, wait 2 s, spawn, fail, FATAL.
		if el < 3*time.Second || el > 12*time.Second {
			t.Errorf("FATAL after %v, want just over 1+2 s of backoff", el)
		}
		if n := d.runs("quick.runs"); n != 3 {
			t.Errorf("quick ran %d times, want 1 + startretries = 3", n)
		}
		info := d.info("quick")
		const tooQuick = "Exited too quickly (process log may have details)"
		if info["description"] != tooQuick || info["spawnerr"] != tooQuick || info["state"] != 200 {
			t.Errorf("FATAL info: state %v description %q spawnerr %q", info["state"], info["description"], info["spawnerr"])
		}
		d.expectCtl(3, "quick                            FATAL     "+tooQuick+"\n", "status", "quick")
		// FATAL is never left on its own.
		holds(t, 1500*time.Millisecond, "quick stays FATAL", func() bool { return d.state("quick") == "FATAL" && d.runs("quick.runs") == 3 })

		// supervisorctl start of a program that cannot stay up: spawn error.
		d.expectCtl(7, "quick: ERROR (spawn error)\n", "start", "quick")
		// Stopping it in BACKOFF: STOPPED at once, no signal to send.
		d.waitState("quick", "BACKOFF", 10*time.Second)
		d.expectCtl(0, "quick: stopped\n", "stop", "quick")
		if info := d.info("quick"); info["statename"] != "STOPPED" || info["pid"] != 0 {
			t.Errorf("after stop in BACKOFF: %v pid %v, want STOPPED pid 0", info["statename"], info["pid"])
		}
	})
}

func TestAutorestartUnexpected(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		files := map[string]string{}
		var sections []string
		for _, p := range []struct{ name, exit, autorestart, exitcodes string }{
			{"zero", "exit 0", "unexpected", "0"},     // expected: stays EXITED
			{"three", "exit 3", "unexpected", "0"},    // unexpected: restarted
			{"listed", "exit 3", "unexpected", "0,3"}, // 3 is expected here
			{"always", "exit 0", "true", "0"},         // restarted even so
			{"never", "exit 3", "false", "0"},         // left EXITED even so
		} {
			n, b := script(p.name, "sleep 0.3\n"+p.exit)
			files[n] = b
			sections = append(sections, program(p.name, "command=%(here)s/"+n, "startsecs=0",
				"autorestart="+p.autorestart, "exitcodes="+p.exitcodes))
		}
		d := start(t, k, setup{Files: files, Sections: sections})

		eventually(t, 15*time.Second, "three and always restarted twice", func() bool {
			return d.runs("three.runs") >= 3 && d.runs("always.runs") >= 3
		})
		d.waitState("zero", "EXITED", 10*time.Second)
		d.waitState("listed", "EXITED", 10*time.Second)
		holds(t, 1500*time.Millisecond, "zero and listed stay EXITED", func() bool {
			return d.state("zero") == "EXITED" && d.runs("zero.runs") == 1 &&
				d.state("listed") == "EXITED" && d.runs("listed.runs") == 1 &&
				d.state("never") == "EXITED" && d.runs("never.runs") == 1
		})
		if info := d.info("zero"); info["exitstatus"] != 0 || info["state"] != 100 {
			t.Errorf("zero: exitstatus %v state %v, want 0 100", info["exitstatus"], info["state"])
		}
		if info := d.info("listed"); info["exitstatus"] != 3 {
			t.Errorf("listed: exitstatus %v, want 3", info["exitstatus"])
		}
		d.expectCtl(3, "listed                           EXITED    DATE\n", "status", "listed")
	})
}

func TestStopWaitSecsThenKill(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		// The shell ignores TERM and sleep inherits that across exec.
		const ignoreTerm = `command=/bin/sh -c 'trap "" TERM; exec sleep 1000'`
		d := start(t, k, setup{Sections: []string{
			program("hard", ignoreTerm, "startsecs=0", "stopwaitsecs=1"),
			// Long enough to look at it while it is STOPPING.
			program("harder", ignoreTerm, "startsecs=0", "stopwaitsecs=4"),
		}})
		d.waitState("hard", "RUNNING", 10*time.Second)
		d.waitState("harder", "RUNNING", 10*time.Second)
		t0 := time.Now()
		d.expectCtl(0, "hard: stopped\n", "stop", "hard")
		if el := since(t0); el < time.Second || el > 8*time.Second {
			t.Errorf("stop took %v, want about stopwaitsecs=1", el)
		}
		if s := d.state("hard"); s != "STOPPED" {
			t.Errorf("after stop: %s, want STOPPED", s)
		}

		t0 = time.Now()
		if v := d.rpc("supervisor.stopProcess", "harder", false); v != true {
			t.Fatalf("stopProcess(harder, wait=false) = %#v", v)
		}
		if s := d.state("harder"); s != "STOPPING" {
			t.Errorf("right after stop: %s, want STOPPING", s)
		}
		// While it is STOPPING (a slow machine may let stopwaitsecs pass
		// before supervisorctl gets to ask: then there is nothing to check).
		stopping := func(args ...string) (string, int, bool) {
			out, code := d.ctl(args...)
			if el := since(t0); el > 3500*time.Millisecond {
				t.Logf("supervisorctl %v answered %v after the stop: not checked", args, el)
				return out, code, false
			}
			return normalize(out), code, true
		}
		// Not started, and not already started either: the start fails.
		if out, code, ok := stopping("start", "harder"); ok && (out != "harder: ERROR (abnormal termination)\n" || code != 7) {
			t.Errorf("supervisorctl start harder while STOPPING (exit %d): %q; want exit 7 harder: ERROR (abnormal termination)", code, out)
		}
		if out, code, ok := stopping("status", "harder"); ok && (out != "harder                           STOPPING  \n" || code != 0) {
			t.Errorf("supervisorctl status harder while STOPPING (exit %d): %q", code, out)
		}
		if out, code, ok := stopping("stop", "harder"); ok && (out != "harder: ERROR (not running)\n" || code != 0) {
			t.Errorf("supervisorctl stop harder while STOPPING (exit %d): %q", code, out)
		}
		d.waitState("harder", "STOPPED", 10*time.Second)
		if el := since(t0); el < 4*time.Second {
			t.Errorf("STOPPED after %v, before stopwaitsecs=4", el)
		}
	})
}
