package compat

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// ctlPrograms: a standalone program, one that does not autostart, and a
// group; priorities are distinct so that priority order is deterministic.
var ctlPrograms = []string{
	program("web", "command=sleep 1000", "startsecs=0", "priority=10"),
	program("idle", "command=sleep 1000", "startsecs=0", "autostart=false", "priority=20"),
	section("group:g", "programs=a,b", "priority=5"),
	program("a", "command=sleep 1000", "startsecs=0", "priority=1"),
	program("b", "command=sleep 1000", "startsecs=0", "autostart=false", "priority=2"),
}

// sortRuns sorts each run of consecutive lines that end alike (": stopped",
// ": cleared"). supervisord reports a group or "all" stop in the order the
// processes happened to exit, so only the set of lines is deterministic.
func sortRuns(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	suffix := func(l string) string {
		if i := strings.LastIndex(l, ": "); i >= 0 {
			return l[i:]
		}
		return l
	}
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && suffix(lines[j]) == suffix(lines[i]) {
			j++
		}
		slices.Sort(lines[i:j])
		i = j
	}
	return strings.Join(lines, "\n") + "\n"
}

// expectCtlSorted is expectCtl with sortRuns applied to the output.
func (d *daemon) expectCtlSorted(wantCode int, want string, args ...string) {
	d.t.Helper()
	out, code := d.ctl(args...)
	if got := sortRuns(normalize(out)); got != want || code != wantCode {
		d.t.Errorf("supervisorctl %s (runs sorted):\n got (exit %d):\n%s\nwant (exit %d):\n%s", strings.Join(args, " "), code, got, wantCode, want)
	}
}

func TestCtlStatusStartStopRestart(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Sections: ctlPrograms})
		d.waitState("web", "RUNNING", 10*time.Second)
		d.waitState("g:a", "RUNNING", 10*time.Second)
		// The leak check at cleanup finds children by their tag: make sure it can.
		if pid, _ := d.info("web")["pid"].(int); !slices.Contains(taggedPids(d.tag), pid) {
			t.Errorf("web (pid %d) does not carry %s from its daemon's environment", pid, tagEnv)
		}

		d.expectCtl(3, ""+
			"g:a                              RUNNING   pid N, uptime U\n"+
			"g:b                              STOPPED   Not started\n"+
			"idle                             STOPPED   Not started\n"+
			"web                              RUNNING   pid N, uptime U\n", "status")
		d.expectCtl(0, "web                              RUNNING   pid N, uptime U\n", "status", "web")
		d.expectCtl(4, "nope: ERROR (no such process)\n", "status", "nope")
		d.expectCtl(3, ""+
			"g:a                              RUNNING   pid N, uptime U\n"+
			"g:b                              STOPPED   Not started\n", "status", "g:*")
		d.expectCtl(4, ""+
			"nope: ERROR (no such process)\n"+
			"web                              RUNNING   pid N, uptime U\n", "status", "web", "nope")

		// One name.
		d.expectCtl(0, "web: ERROR (already started)\n", "start", "web")
		d.expectCtl(1, "nope: ERROR (no such process)\n", "start", "nope")
		d.expectCtl(0, "idle: ERROR (not running)\n", "stop", "idle")
		d.expectCtl(1, "nope: ERROR (no such process)\n", "stop", "nope")
		d.expectCtl(0, "idle: started\n", "start", "idle")
		d.expectCtl(0, "idle: stopped\n", "stop", "idle")
		d.expectCtl(3, "idle                             STOPPED   DATE\n", "status", "idle")
		d.expectCtl(0, "web: stopped\nweb: started\n", "restart", "web")
		d.expectCtl(1, "nope: ERROR (no such process)\nnope: ERROR (no such process)\n", "restart", "nope")
		d.expectCtl(0, "web: stopped\nidle: ERROR (not running)\n", "stop", "web", "idle")
		d.expectCtl(0, "web: started\nidle: started\n", "start", "web", "idle")
		d.expectCtl(0, "web: stopped\nidle: stopped\n", "stop", "web", "idle")

		// Groups.
		d.expectCtl(0, "g:b: started\n", "start", "g:*")
		d.expectCtlSorted(0, "g:a: stopped\ng:b: stopped\n", "stop", "g:*")
		d.expectCtl(0, "g:a: started\n", "start", "g:a")
		d.expectCtlSorted(0, "g:a: stopped\ng:a: started\ng:b: started\n", "restart", "g:*")
		d.expectCtl(2, "nope: ERROR (no such group)\n", "start", "nope:*")
		d.expectCtl(1, "g:nope: ERROR (no such process)\n", "start", "g:nope")

		// all: start in priority order (group g 5, web 10, idle 20).
		d.expectCtlSorted(0, "g:a: stopped\ng:b: stopped\n", "stop", "all")
		d.expectCtl(0, "g:a: started\ng:b: started\nweb: started\nidle: started\n", "start", "all")
		d.expectCtl(0, "", "start", "all")
		d.expectCtl(0, ""+
			"g:a                              RUNNING   pid N, uptime U\n"+
			"g:b                              RUNNING   pid N, uptime U\n"+
			"idle                             RUNNING   pid N, uptime U\n"+
			"web                              RUNNING   pid N, uptime U\n", "status", "all")
		d.expectCtlSorted(0, ""+
			"g:a: stopped\ng:b: stopped\nidle: stopped\nweb: stopped\n"+
			"g:a: started\ng:b: started\nidle: started\nweb: started\n", "restart", "all")
		// supervisord clears in priority order, gafferd by name.
		d.expectCtlSorted(0, "g:a: cleared\ng:b: cleared\nidle: cleared\nweb: cleared\n", "clear", "all")
		d.expectCtl(0, "web: cleared\n", "clear", "web")
		d.expectCtl(1, "nope: ERROR (no such process)\n", "clear", "nope")
		d.expectCtlSorted(0, "g:a: stopped\ng:b: stopped\nidle: stopped\nweb: stopped\n", "stop", "all")
		d.expectCtl(0, "", "stop", "all")

		// Usage errors.
		d.expectCtl(2, "Error: start requires a process name\n"+
			"start <name>\t\tStart a process\n"+
			"start <gname>:*\t\tStart all processes in a group\n"+
			"start <name> <name>\tStart multiple processes or groups\n"+
			"start all\t\tStart all processes\n", "start")
	})
}
