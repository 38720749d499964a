package compat

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder is a program that appends "up NAME" to order.log, and on SIGTERM
// "term NAME"; with a PEER it then waits (at most 5 s) for the peer's
// SIGTERM, so that peers stopped one after the other leave "alone NAME".
// It prints READY, so it also serves as an event listener.
const recorder = `#!/bin/sh
f="$(dirname "$0")/order.log"
n=$1
peer=$2
echo READY
stop() {
	echo "term $n" >> "$f"
	if [ -n "$peer" ]; then
		i=0
		while ! grep -qx "term $peer" "$f"; do
			i=$((i+1))
			if [ $i -gt 50 ]; then echo "alone $n" >> "$f"; exit 1; fi
			sleep 0.1
		done
	fi
	sleep 0.3
	echo "exit $n" >> "$f"
	exit 0
}
trap stop TERM
echo "up $n" >> "$f"
while :; do sleep 1 & wait $!; done
`

// TestShutdownOrder: supervisord stops its groups one at a time, from the
// highest priority down (equal priorities by name, reversed), the processes
// of one group together, event listener pools (priority -1) last.
func TestShutdownOrder(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: map[string]string{"rec.sh": recorder}, Sections: []string{
			program("b", "command=%(here)s/rec.sh b", "priority=999", "startsecs=0"),
			program("d", "command=%(here)s/rec.sh d", "priority=5", "startsecs=0"),
			program("w1", "command=%(here)s/rec.sh w1 w2", "startsecs=0"),
			program("w2", "command=%(here)s/rec.sh w2 w1", "startsecs=0"),
			section("group:web", "programs=w1,w2", "priority=5"),
			section("eventlistener:l", "command=%(here)s/rec.sh l", "events=PROCESS_GROUP", "startsecs=0"),
		}})
		names := []string{"b", "d", "w1", "w2", "l"}
		eventually(t, 10*time.Second, "every program up", func() bool {
			log := d.readFile("order.log")
			for _, n := range names {
				if !strings.Contains(log, "up "+n+"\n") {
					return false
				}
			}
			return true
		})
		d.expectCtl(0, "Shut down\n", "shutdown")
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still running 30 s after shutdown", k.name)
		}
		checkStopOrder(t, d.readFile("order.log"), [][]string{{"b"}, {"w1", "w2"}, {"d"}, {"l"}})
	})
}

// checkStopOrder checks that each level's programs got SIGTERM only after
// every program of the levels before had exited, and that programs of one
// level were stopped together.
func checkStopOrder(t *testing.T, log string, levels [][]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	at := func(line string) int {
		i := slices.Index(lines, line)
		if i < 0 {
			t.Fatalf("no %q in:\n%s", line, log)
		}
		return i
	}
	for i, level := range levels {
		for _, name := range level {
			term := at("term " + name)
			at("exit " + name)
			for _, earlier := range levels[:i] {
				for _, e := range earlier {
					if at("exit "+e) > term {
						t.Errorf("%s got SIGTERM before %s had exited:\n%s", name, e, log)
					}
				}
			}
		}
	}
	if strings.Contains(log, "alone") {
		t.Errorf("programs of one group were not stopped together:\n%s", log)
	}
}
