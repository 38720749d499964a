package compat

import (
	"strings"
	"testing"
	"time"
)

func TestRereadUpdateAddRemove(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		keep := program("keep", "command=sleep 1000", "startsecs=0")
		d := start(t, k, setup{Sections: []string{
			keep,
			program("change", "command=sleep 1000", "startsecs=0"),
			program("drop", "command=sleep 1000", "startsecs=0"),
			section("group:grp", "programs=a"),
			program("a", "command=sleep 1000", "startsecs=0"),
		}})
		for _, p := range []string{"keep", "change", "drop", "grp:a"} {
			d.waitState(p, "RUNNING", 10*time.Second)
		}
		keepPid := d.info("keep")["pid"]
		d.expectCtl(0, "No config updates to processes\n", "reread")

		// One added, one changed, one removed, a group that gained a member.
		d.writeConf(setup{Sections: []string{
			keep,
			program("change", "command=sleep 2000", "startsecs=0"),
			program("fresh", "command=sleep 1000", "startsecs=0"),
			section("group:grp", "programs=a,b"),
			program("a", "command=sleep 1000", "startsecs=0"),
			program("b", "command=sleep 1000", "startsecs=0"),
		}})
		d.expectCtl(0, "change: changed\ndrop: disappeared\nfresh: available\ngrp: changed\n", "reread")
		d.expectCtl(0, ""+
			"drop: stopped\ndrop: removed process group\n"+
			"change: stopped\nchange: updated process group\n"+
			"grp: stopped\ngrp: updated process group\n"+
			"fresh: added process group\n", "update")
		d.expectCtl(0, "No config updates to processes\n", "reread")
		d.expectCtl(0, "", "update")
		for _, p := range []string{"keep", "change", "fresh", "grp:a", "grp:b"} {
			d.waitState(p, "RUNNING", 10*time.Second)
		}
		if pid := d.info("keep")["pid"]; pid != keepPid {
			t.Errorf("update restarted the unchanged program keep (pid %v, was %v)", pid, keepPid)
		}
		d.expectCtl(4, "drop: ERROR (no such process)\n", "status", "drop")
		// getAllConfigInfo is sorted by process name, not by group.
		d.expectCtl(0, ""+
			"grp:a                            in use    auto      999:999\n"+
			"grp:b                            in use    auto      999:999\n"+
			"change                           in use    auto      999:999\n"+
			"fresh                            in use    auto      999:999\n"+
			"keep                             in use    auto      999:999\n", "avail")

		// add and remove, one group at a time.
		d.writeConf(setup{Sections: []string{
			keep,
			program("change", "command=sleep 2000", "startsecs=0"),
			program("fresh", "command=sleep 1000", "startsecs=0"),
			section("group:grp", "programs=a,b"),
			program("a", "command=sleep 1000", "startsecs=0"),
			program("b", "command=sleep 1000", "startsecs=0"),
			program("extra", "command=sleep 1000", "startsecs=0"),
		}})
		d.expectCtl(0, "extra: available\n", "reread")
		// avail shows what reread read: extra is available, not yet in use.
		d.expectCtl(0, ""+
			"grp:a                            in use    auto      999:999\n"+
			"grp:b                            in use    auto      999:999\n"+
			"change                           in use    auto      999:999\n"+
			"extra                            avail     auto      999:999\n"+
			"fresh                            in use    auto      999:999\n"+
			"keep                             in use    auto      999:999\n", "avail")
		d.expectCtl(0, "extra: added process group\n", "add", "extra")
		d.waitState("extra", "RUNNING", 10*time.Second)
		d.expectCtl(0, "ERROR: process group already active\n", "add", "extra")
		d.expectCtl(1, "ERROR: no such process/group: nope\n", "add", "nope")
		d.expectCtl(1, "ERROR: process/group still running: extra\n", "remove", "extra")
		d.expectCtl(0, "extra: stopped\n", "stop", "extra")
		d.expectCtl(0, "extra: removed process group\n", "remove", "extra")
		d.expectCtl(1, "ERROR: no such process/group: nope\n", "remove", "nope")
		d.expectCtl(4, "extra: ERROR (no such process)\n", "status", "extra")
		d.expectCtl(0, "extra: added process group\n", "update", "extra")
		d.waitState("extra", "RUNNING", 10*time.Second)

		// A config that cannot be read changes nothing.
		good := d.setup
		d.writeConf(setup{Sections: append([]string{program("broken", "autostart=false")}, good.Sections...)})
		out, code := d.ctl("reread")
		if !strings.HasPrefix(out, "ERROR: CANT_REREAD: ") || code != 1 {
			t.Errorf("reread of a config without a command (exit %d): %q; want exit 1 and ERROR: CANT_REREAD: …", code, out)
		}
		d.writeConf(good)
		d.expectCtl(0, "No config updates to processes\n", "reread")
	})
}
