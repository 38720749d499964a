package compat

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestNumprocs(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Sections: []string{
			program("multi", "command=sleep 1000", "startsecs=0", "numprocs=2",
				"process_name=%(program_name)s_%(process_num)02d"),
		}})
		d.waitState("multi:multi_00", "RUNNING", 10*time.Second)
		d.waitState("multi:multi_01", "RUNNING", 10*time.Second)
		d.expectCtl(0, ""+
			"multi:multi_00                   RUNNING   pid N, uptime U\n"+
			"multi:multi_01                   RUNNING   pid N, uptime U\n", "status")
		d.expectCtlSorted(0, "multi:multi_00: stopped\nmulti:multi_01: stopped\n", "stop", "multi:*")
		d.expectCtl(0, "multi:multi_01: started\n", "start", "multi:multi_01")
		d.expectCtl(1, "multi: ERROR (no such process)\n", "start", "multi")
		d.expectCtl(0, "multi:multi_00: started\n", "start", "multi:")
		if info := d.info("multi:multi_00"); info["name"] != "multi_00" || info["group"] != "multi" {
			t.Errorf("getProcessInfo(multi:multi_00) name %v group %v", info["name"], info["group"])
		}
		d.rpcFault(10, "BAD_NAME: multi_00", "supervisor.getProcessInfo", "multi_00")
		d.expectCtl(0, ""+
			"multi:multi_00                   in use    auto      999:999\n"+
			"multi:multi_01                   in use    auto      999:999\n", "avail")
	})
}

// envScript prints the SUPERVISOR_* variables, two set in the config, and
// its working directory.
const envScript = `#!/bin/sh
env | grep -E '^(SUPERVISOR_|FROM_)' | sort
pwd
exec sleep 1000
`

func TestChildEnvironment(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{
			Files: map[string]string{"env.sh": envScript},
			Sections: []string{
				section("group:grp", "programs=envy"),
				program("envy", "command=%(here)s/env.sh", "startsecs=0", "directory=%(here)s/childlogs",
					`environment=FROM_PROGRAM="program",FROM_BOTH="program"`, "stdout_logfile=%(here)s/env.out"),
			},
		})
		want := "" +
			"FROM_BOTH=program\n" +
			"FROM_PROGRAM=program\n" +
			"SUPERVISOR_ENABLED=1\n" +
			"SUPERVISOR_GROUP_NAME=grp\n" +
			"SUPERVISOR_PROCESS_NAME=envy\n" +
			"SUPERVISOR_SERVER_URL=unix://" + d.sock + "\n" +
			d.path("childlogs") + "\n"
		var got string
		eventually(t, 10*time.Second, "env.out", func() bool {
			b, _ := os.ReadFile(d.path("env.out"))
			got = string(b)
			return strings.Count(got, "\n") >= strings.Count(want, "\n")
		})
		if got != want {
			t.Errorf("child environment and directory:\n%s\nwant:\n%s", got, want)
		}
	})
}
