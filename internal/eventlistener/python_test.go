package eventlistener

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// pyListener is a listener as users write them, on supervisor.childutils
// (the way superlance's crashmail reads PROCESS_STATE_EXITED). It records
// each event as a JSON line, and rejects the first REMOTE_COMMUNICATION.
const pyListener = `import json, sys
from supervisor import childutils

def main():
    out = sys.argv[1]
    rejected = False
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        rec = {"headers": headers, "payload": payload}
        if headers["eventname"].startswith("PROCESS_STATE"):
            pheaders, pdata = childutils.eventdata(payload + "\n")
            rec["pheaders"] = pheaders
        elif headers["eventname"] == "REMOTE_COMMUNICATION":
            pheaders, pdata = childutils.eventdata(payload)
            rec["pheaders"], rec["pdata"] = pheaders, pdata
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if headers["eventname"] == "REMOTE_COMMUNICATION" and not rejected:
            rejected = True
            childutils.listener.fail(sys.stdout)
            continue
        childutils.listener.ok(sys.stdout)

main()
`

// pythonWithSupervisor finds a python3 that can import supervisor.childutils
// ($GAFFER_TEST_PYTHON, else python3 on PATH), or skips the test.
func pythonWithSupervisor(t *testing.T) string {
	t.Helper()
	py := os.Getenv("GAFFER_TEST_PYTHON")
	if py == "" {
		p, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("no python3 on PATH")
		}
		py = p
	}
	cmd := exec.Command(py, "-c", "import supervisor.childutils")
	// Not in the repository root, whose supervisor/ directory would shadow
	// the Python package.
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("%s cannot import supervisor.childutils (install Debian's supervisor package, or set GAFFER_TEST_PYTHON): %v\n%s",
			py, err, out)
	}
	return py
}

type pyRecord struct {
	Headers  map[string]string `json:"headers"`
	Payload  string            `json:"payload"`
	PHeaders map[string]string `json:"pheaders"`
	PData    string            `json:"pdata"`
}

func TestPythonChildutilsListener(t *testing.T) {
	py := pythonWithSupervisor(t)
	h := runManager(t, PoolConfig{Name: "py", Events: []string{"PROCESS_STATE_EXITED", "REMOTE_COMMUNICATION"},
		BufferSize: 10, Processes: []string{"py.listener"}})
	script := filepath.Join(h.dir, "listener.py")
	if err := os.WriteFile(script, []byte(pyListener), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(h.dir, "py.jsonl")
	ctx := context.Background()

	cfg := supervisor.NewJobConfig("listener", py)
	cfg.Args = []string{script, out}
	cfg.OSEnv = true // python may need its environment (pyenv, locale)
	cfg.Cwd = h.dir
	cfg.Program = supervisor.DefaultProgram("py")
	cfg.Program.StartSecs = 0
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	cfg.RedirectInput = true
	cfg.GracefulTimeout = 5 * time.Second
	cfg.Logs = map[string]supervisor.LogFile{"stderr": {Path: filepath.Join(h.dir, "py.listener.stderr")}}
	if err := h.sup.Load(ctx, "py", cfg, true); err != nil {
		t.Fatal(err)
	}

	crashy := helperProgram(t, "crashy", "app", "exit", "3")
	if err := h.sup.Load(ctx, "app", crashy, true); err != nil {
		t.Fatal(err)
	}
	exited := h.waitState("app.crashy", "EXITED")
	var recs []pyRecord
	waitRecords := func(n int) {
		t.Helper()
		gaffertest.Eventually(t, 20*time.Second, "the python listener's records", func() bool {
			b, err := os.ReadFile(out)
			if err != nil {
				return false
			}
			recs = nil
			for line := range bytes.Lines(b) {
				var r pyRecord
				if err := json.Unmarshal(line, &r); err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				recs = append(recs, r)
			}
			return len(recs) >= n
		})
	}
	// One at a time: a call made just after an event was published may
	// overtake it in the manager (see doc.go), which is not tested here.
	waitRecords(1)
	h.m.RemoteCommunication("py-test", "hello from gaffer\nsecond line")
	waitRecords(3)
	ex := recs[0]
	if ex.Headers["eventname"] != "PROCESS_STATE_EXITED" || ex.Headers["ver"] != "3.0" || ex.Headers["server"] != "testid" ||
		ex.Headers["pool"] != "py" || ex.Headers["serial"] != "0" {
		t.Errorf("headers %v", ex.Headers)
	}
	want := map[string]string{"processname": "crashy", "groupname": "app", "from_state": "RUNNING",
		"expected": "0", "pid": fmt.Sprint(exited.OSPid)}
	if fmt.Sprint(ex.PHeaders) != fmt.Sprint(want) {
		t.Errorf("payload headers %v, want %v", ex.PHeaders, want)
	}
	for _, r := range recs[1:3] {
		if r.Headers["eventname"] != "REMOTE_COMMUNICATION" || r.Headers["serial"] != "1" || r.Headers["poolserial"] != "1" ||
			r.PHeaders["type"] != "py-test" || r.PData != "hello from gaffer\nsecond line" {
			t.Errorf("remote event (sent twice, rejected once): %+v", r)
		}
	}
}

// helperProgram is a supervisor program running a gaffertest helper that
// is never restarted.
func helperProgram(t *testing.T, name, group, helper string, args ...string) supervisor.JobConfig {
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(t))
	cfg.Args = args
	cfg.Env = map[string]string{gaffertest.HelperEnv: helper}
	cfg.Program = supervisor.DefaultProgram(group)
	cfg.Program.StartSecs = 0
	cfg.Program.AutoRestart = supervisor.RestartNever
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	return cfg
}
