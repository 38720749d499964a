package compat

import (
	"strings"
	"testing"
	"time"
)

// TestCaptureModeLog: with stdout_capture_maxbytes, what a program writes
// between the XSUPERVISOR tokens stays out of its log file.
func TestCaptureModeLog(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		const out = `printf 'before, long enough to decide <!--XSUPER'; sleep 0.2; ` +
			`printf 'VISOR:BEGIN-->secret<!--XSUPERVISOR:END--> after, and more than a token of output\n'; exec sleep 1000`
		d := start(t, k, setup{Files: map[string]string{"capt.sh": "#!/bin/sh\n" + out + "\n"}, Sections: []string{
			program("capt", "command=%(here)s/capt.sh", "startsecs=0",
				"stdout_logfile=%(here)s/capt.log", "stdout_capture_maxbytes=1KB"),
		}})
		eventually(t, 10*time.Second, "the output after the block", func() bool {
			return strings.HasSuffix(d.readFile("capt.log"), "output\n")
		})
		const want = "before, long enough to decide  after, and more than a token of output\n"
		if got := d.readFile("capt.log"); got != want {
			t.Errorf("capt.log = %q, want %q", got, want)
		}
	})
}
