package compat

import (
	"os"
	"regexp"
	"testing"
)

// TestAutoLogNamedBeforeFirstStart: supervisord creates AUTO log files in
// childlogdir when it loads the config, so getProcessInfo of a program never
// started already names them.
func TestAutoLogNamedBeforeFirstStart(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Sections: []string{program("idle", "command=sleep 1000", "autostart=false")}})
		info := d.info("idle")
		if info["statename"] != "STOPPED" || info["description"] != "Not started" {
			t.Fatalf("idle: %v, want a program never started", info)
		}
		for _, ch := range []string{"stdout", "stderr"} {
			p, _ := info[ch+"_logfile"].(string)
			re := regexp.MustCompile("^" + regexp.QuoteMeta(d.path("childlogs")) + "/idle-" + ch + `---supervisor-[a-z0-9_]{8}\.log$`)
			if !re.MatchString(p) {
				t.Errorf("%s_logfile = %q, want %s", ch, p, re)
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s log of a never-started program: %v", ch, err)
			}
		}
		if info["logfile"] != info["stdout_logfile"] {
			t.Errorf("logfile %v, want stdout_logfile %v", info["logfile"], info["stdout_logfile"])
		}
	})
}
