package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// twiddleScript drives twiddler.* and cache.* with Python's own XML-RPC
// client, as users' scripts do; it prints one line per step.
const twiddleScript = `
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy(sys.argv[1] + "/RPC2")
step = sys.argv[2]
def fault(f):
    try:
        f()
    except xmlrpc.client.Fault as e:
        return "%d %s" % (e.faultCode, e.faultString)
    return "no fault"
if step == "add":
    print(s.twiddler.getAPIVersion())
    print(s.twiddler.addGroup("dyn", 5))
    print("dyn" in s.twiddler.getGroupNames())
    print(s.twiddler.addProgramToGroup("dyn", "worker", {"command": "/bin/sleep 300", "startsecs": 0, "autostart": True}))
    print(fault(lambda: s.twiddler.addProgramToGroup("dyn", "worker", {"command": "/bin/sleep 300"})))
    print(fault(lambda: s.twiddler.addProgramToGroup("nogroup", "w", {"command": "/bin/sleep 300"})))
    print(fault(lambda: s.twiddler.addProgramToGroup("dyn", "bad", {"command": "/bin/sleep 300", "startsecs": "soon"})))
    print(fault(lambda: s.twiddler.addGroup("dyn", 5)))
    print(s.twiddler.log("twiddled dyn:worker", "WARN"))
    print(s.cache.store("k", "v"), s.cache.fetch("k"), s.cache.getKeys(), s.cache.getCount())
    print(fault(lambda: s.cache.fetch("missing")))
elif step == "running":
    print(fault(lambda: s.twiddler.removeProcessFromGroup("dyn", "worker")))
elif step == "remove":
    print(s.twiddler.removeProcessFromGroup("dyn", "worker"))
    print(fault(lambda: s.twiddler.removeProcessFromGroup("dyn", "worker")))
    print(s.cache.fetch("k"))
`

func TestTwiddlerAndCacheNamespaces(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	addr := gaffertest.FreeAddr(t)
	conf := filepath.Join(dir, "supervisord.conf")
	mainLog := filepath.Join(dir, "supervisord.log")
	if err := os.WriteFile(conf, []byte(`[supervisord]
logfile=`+mainLog+`
childlogdir=`+dir+`
[inet_http_server]
port=`+addr+`
[supervisorctl]
serverurl=http://`+addr+`
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[rpcinterface:twiddler]
supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface
[rpcinterface:cache]
supervisor.rpcinterface_factory = supervisor_cache.rpcinterface:make_cache_rpcinterface
[program:base]
command=/bin/sleep 300
`), 0o644); err != nil {
		t.Fatal(err)
	}
	startTCPDaemon(t, conf, "")
	py := func(step string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, python, "-c", twiddleScript, "http://"+addr, step).CombinedOutput()
		if err != nil {
			t.Fatalf("python %s: %v\n%s", step, err, out)
		}
		return string(out)
	}
	got := py("add")
	want := "1.0\nTrue\nTrue\nTrue\n" +
		"10 BAD_NAME: worker\n" +
		"10 BAD_NAME: group: nogroup\n" +
		"2 INCORRECT_PARAMETERS: bad program options: "
	if !strings.HasPrefix(got, want) {
		t.Fatalf("twiddler calls:\n%s\nwant it to start with\n%s", got, want)
	}
	for _, line := range []string{"startsecs", "10 BAD_NAME: dyn\nTrue\nTrue v ['k'] 1\n10 BAD_NAME: missing\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("twiddler calls:\n%s\nwant %q in it", got, line)
		}
	}

	// supervisorctl sees the added program as any other, and controls it.
	if ctl, err := exec.LookPath("supervisorctl"); err == nil {
		status := func(args ...string) string {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out, _ := exec.CommandContext(ctx, ctl, append([]string{"-c", conf}, args...)...).CombinedOutput()
			return string(out)
		}
		gaffertest.Eventually(t, 10*time.Second, "supervisorctl status shows dyn:worker RUNNING", func() bool {
			return strings.Contains(status("status", "dyn:worker"), "RUNNING")
		})
		if out := py("running"); out != "91 STILL_RUNNING: worker\n" {
			t.Errorf("removing a running process: %q", out)
		}
		if out := status("stop", "dyn:worker"); !strings.Contains(out, "stopped") {
			t.Fatalf("supervisorctl stop dyn:worker: %q", out)
		}
		if got := py("remove"); got != "True\n10 BAD_NAME: worker\nv\n" {
			t.Errorf("remove: %q", got)
		}
		if out := status("status"); strings.Contains(out, "worker") || !strings.Contains(out, "base") {
			t.Errorf("supervisorctl status after removeProcessFromGroup:\n%s", out)
		}
	}
	b, err := os.ReadFile(mainLog)
	if err != nil || !strings.Contains(string(b), "twiddled dyn:worker") {
		t.Errorf("main log has no twiddler.log message (%v):\n%s", err, b)
	}
}

func TestUnknownRPCInterfaceRefused(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "supervisord.conf")
	if err := os.WriteFile(conf, []byte("[supervisord]\n[rpcinterface:mine]\nsupervisor.rpcinterface_factory = my_ext.rpc:make\n[program:a]\ncommand=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, gafferdBin, "-c", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "[rpcinterface:mine]") || !strings.Contains(string(out), "my_ext.rpc:make") {
		t.Errorf("gafferd with an unknown factory: %v\n%s", err, out)
	}
}
