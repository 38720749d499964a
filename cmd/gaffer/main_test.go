package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// gafferBin is the gaffer binary, built once by TestMain.
var gafferBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gaffer-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gafferBin = filepath.Join(dir, "gaffer")
	out, err := exec.Command("go", "build", "-race", "-o", gafferBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// wait bounds every wait in these tests.
const wait = 20 * time.Second

// writeApp writes an app directory named name with a Procfile and a .env.
func writeApp(t *testing.T, name, procfile, dotenv string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if dotenv != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gaffer is a running gaffer binary whose stdout lines arrive on lines.
type gaffer struct {
	cmd   *exec.Cmd
	lines chan string
	out   bytes.Buffer // every line, for failure messages
	done  chan error
}

func startGaffer(t *testing.T, args ...string) *gaffer {
	t.Helper()
	g := &gaffer{cmd: exec.Command(gafferBin, args...), lines: make(chan string, 1024), done: make(chan error, 1)}
	g.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	g.cmd.Stderr = os.Stderr
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			g.lines <- sc.Text()
		}
		close(g.lines)
		g.done <- g.cmd.Wait()
	}()
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			_ = g.cmd.Process.Kill() // only when a test failed half-way
		}
	})
	return g
}

// until reads lines until match accepts one, failing after wait.
func (g *gaffer) until(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case l, ok := <-g.lines:
			if !ok {
				t.Fatalf("gaffer ended before %s; output:\n%s", what, g.out.String())
			}
			g.out.WriteString(l + "\n")
			if match(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %s within %v; output:\n%s", what, wait, g.out.String())
		}
	}
}

// exit waits for gaffer to end, reading the rest of its output, and
// returns its exit status.
func (g *gaffer) exit(t *testing.T) int {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case l, ok := <-g.lines:
			if ok {
				g.out.WriteString(l + "\n")
				continue
			}
			g.lines = nil
		case err := <-g.done:
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return 0
		case <-timeout:
			t.Fatalf("gaffer still running after %v; output:\n%s", wait, g.out.String())
		}
	}
}

var linePrefix = regexp.MustCompile(`^\d\d:\d\d:\d\d (\S+)\s* \| (.*)$`)

func TestStartPrefixesPortsAndCtrlC(t *testing.T) {
	dir := writeApp(t, "shop",
		"web: sh -c 'echo \"web port=$PORT ps=$PS greeting=$GREETING\"; exec sleep 60'\n"+
			"worker: sh -c 'echo \"worker port=$PORT\"; exec sleep 60'\n",
		"GREETING=\"hi there\"\n")
	g := startGaffer(t, "start", "-d", dir, "-c", "web=2", "--port", "6000")

	ports := map[string]string{}
	pids := map[string]int{}
	for len(ports) < 3 || len(pids) < 3 {
		l := g.until(t, "3 processes up", func(string) bool { return true })
		m := linePrefix.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q has no \"HH:MM:SS name | \" prefix", l)
		}
		name, text := m[1], m[2]
		// Names are padded to the longest, "worker.1".
		if want := fmt.Sprintf("%-8s |", name); !strings.Contains(l, " "+want+" ") {
			t.Errorf("line %q: name not padded to 8", l)
		}
		if p, ok := strings.CutPrefix(text, "spawn process with pid "); ok {
			pids[name], _ = strconv.Atoi(p)
		}
		if i := strings.Index(text, "port="); i >= 0 {
			ports[name] = text
		}
	}
	want := map[string]string{
		"web.1":    "web port=6000 ps=web.1 greeting=hi there",
		"web.2":    "web port=6001 ps=web.2 greeting=hi there",
		"worker.1": "worker port=6100",
	}
	for name, text := range want {
		if ports[name] != text {
			t.Errorf("%s printed %q, want %q", name, ports[name], text)
		}
	}

	if err := g.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := g.exit(t); code != 0 {
		t.Fatalf("exit status %d after Ctrl-C, want 0; output:\n%s", code, g.out.String())
	}
	if !strings.Contains(g.out.String(), "SIGINT received: sending SIGTERM to all processes") {
		t.Errorf("no shutdown message; output:\n%s", g.out.String())
	}
	for name, pid := range pids {
		if pid == 0 || !gaffertest.Gone(pid) {
			t.Errorf("%s (pid %d) still alive after gaffer exited", name, pid)
		}
		if !strings.Contains(g.out.String(), fmt.Sprintf("exit process with pid %d (killed by SIGTERM)", pid)) {
			t.Errorf("no exit line for %s (pid %d)", name, pid)
		}
	}
}

func TestStartOneTypeAndExampleApp(t *testing.T) {
	// The README's example app, with only its web type.
	g := startGaffer(t, "start", "-d", filepath.Join("..", "..", "examples", "procfile"), "web")
	l := g.until(t, "the web line", func(l string) bool { return strings.Contains(l, "listening") })
	if !strings.Contains(l, "web.1  | web web.1 listening on port 5000 (hello from .env)") {
		t.Errorf("line %q", l)
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.exit(t); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if strings.Contains(g.out.String(), "worker") {
		t.Errorf("worker started though only web was asked for:\n%s", g.out.String())
	}
}

func TestStartFlappingTypeGivesUp(t *testing.T) {
	dir := writeApp(t, "crashy", "bad: sh -c 'echo boom; exit 3'\n", "")
	g := startGaffer(t, "start", "-d", dir, "--flapping", "2 5 0.1 2")
	code := g.exit(t)
	out := g.out.String()
	if code != 1 {
		t.Fatalf("exit status %d, want 1; output:\n%s", code, out)
	}
	for _, want := range []string{
		"bad.1  | exit process with pid ",
		"(exit status 3)",
		"bad.1  | crashing repeatedly: restarting in 100ms (flapping)",
		"bad.1  | crashing repeatedly: stopped (flapping)",
		"exiting with status 1: bad.1 crashing repeatedly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// 2 attempts, 2 pauses then giving up: 4 crashes. (The last one's
	// output may still be in its pipe when gaffer exits: the engine does
	// not say when a stream is drained.)
	if n := strings.Count(out, "(exit status 3)"); n != 4 {
		t.Errorf("%d crashes, want 4:\n%s", n, out)
	}
	if n := strings.Count(out, "| boom"); n < 3 {
		t.Errorf("%d lines of output, want at least 3:\n%s", n, out)
	}
}

func TestStartBadInput(t *testing.T) {
	for _, tt := range []struct {
		name, procfile, dotenv string
		args                   []string
		code                   int
		msg                    string
	}{
		{"bad procfile line", "web: x\nbad name: y\n", "", nil, 1, "Procfile:2: invalid process type name"},
		{"bad .env line", "web: x\n", "A=1\nB='open\n", nil, 1, ".env:2: unterminated quote"},
		{"unknown type", "web: x\n", "", []string{"worker"}, 2, `no process type "worker"`},
		{"bad concurrency", "web: x\n", "", []string{"-c", "web=x"}, 2, `concurrency "web=x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeApp(t, "app", tt.procfile, tt.dotenv)
			cmd := exec.Command(gafferBin, append([]string{"start", "-d", dir}, tt.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != tt.code {
				t.Fatalf("err = %v, want exit status %d; stderr %s", err, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.msg) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tt.msg)
			}
		})
	}
}

func TestRunExitStatusAndEnv(t *testing.T) {
	dir := writeApp(t, "app", "code: sh -c 'exit $CODE'\nweb: x\n", "CODE=5\nA=from-env\n")
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"exit status propagated", []string{"sh", "-c", "exit 7"}, 7},
		{"env from .env", []string{"sh", "-c", `test "$A" = from-env`}, 0},
		{"cwd is the root", []string{"sh", "-c", `test "$(pwd -P)" = "` + mustEval(t, dir) + `"`}, 0},
		{"process type", []string{"code"}, 5},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(gafferBin, append([]string{"run", "-d", dir}, tt.args...)...)
			cmd.Stderr = os.Stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					code = 128 + int(ws.Signal())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Fatalf("exit status %d, want %d", code, tt.code)
			}
		})
	}
}

func mustEval(t *testing.T, p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// gafferd is a real supervisor behind the REST API on loopback.
func gafferd(t *testing.T) (*supervisor.Supervisor, string) {
	t.Helper()
	sup, ts := gafferdWith(t, rest.Options{}, false)
	return sup, ts.URL
}

// gafferdWith is gafferd with REST options, over https when tls is set.
func gafferdWith(t *testing.T, opts rest.Options, tls bool) (*supervisor.Supervisor, *httptest.Server) {
	t.Helper()
	sup := supervisor.New(supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	spawns := sup.Subscribe(1<<12, supervisor.DropOldest, "spawn")
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	ts := httptest.NewUnstartedServer(rest.New(sup, opts))
	if tls {
		ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		ts.Close()
		cancel()
		select {
		case <-sup.Done():
		case <-time.After(wait):
			t.Error("supervisor did not stop")
		}
		spawns.Close()
		for e := range spawns.C() {
			if !gaffertest.Gone(e.OSPid) {
				t.Errorf("process %d (os pid %d) of %s still alive", e.Pid, e.OSPid, e.Name)
			}
		}
	})
	return sup, ts
}

// gafferIn runs one gaffer command in-process.
func gafferIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRemoteLoadScalePsStatusUnload(t *testing.T) {
	sup, url := gafferd(t)
	dir := writeApp(t, "shop", "web: sleep 60\nworker: sleep 61\n", "GREETING=hi\n")
	g := []string{"--host", url, "-d", dir}

	code, out, errOut := gafferIn(t, append(g, "load", "-c", "web=2")...)
	if code != 0 || out != "'shop' has been loaded in "+url+"\n" {
		t.Fatalf("load: %d %q %q", code, out, errOut)
	}
	info, err := sup.Info(t.Context(), "shop.web")
	if err != nil || info.Running != 2 || info.Config.Env["PORT"] != "5000" || info.Config.Env["GREETING"] != "hi" || info.Config.Cwd != dir {
		t.Fatalf("shop.web: %+v %v", info, err)
	}
	if info, _ := sup.Info(t.Context(), "shop.worker"); info.Running != 1 || info.Config.Env["PORT"] != "5100" {
		t.Fatalf("shop.worker: %+v", info)
	}

	code, out, _ = gafferIn(t, append(g, "load")...)
	if code != 1 || !strings.Contains(out, "'shop.web' already loaded") {
		t.Fatalf("second load: %d %q", code, out)
	}

	code, out, errOut = gafferIn(t, append(g, "scale", "web=3", "worker+2", "worker-1")...)
	want := "Scaling shop.web processes... done, now running 3\n" +
		"Scaling shop.worker processes... done, now running 3\n" +
		"Scaling shop.worker processes... done, now running 2\n"
	if code != 0 || out != want {
		t.Fatalf("scale: %d %q %q", code, out, errOut)
	}
	if pids, _ := sup.Pids(t.Context(), "shop.web"); len(pids) != 3 {
		t.Fatalf("shop.web has %d processes after scale, want 3", len(pids))
	}

	code, out, errOut = gafferIn(t, append(g, "ps")...)
	if code != 0 {
		t.Fatalf("ps: %d %q", code, errOut)
	}
	webPids, _ := sup.Pids(t.Context(), "shop.web")
	psRe := regexp.MustCompile("^=== web: `sleep 60`\nTotal CPU: \\d+\\.\\d\\d Total MEM: \\d+\\.\\d\\d\n\n" +
		fmt.Sprintf("web\\.%d: up for \\d+s\nweb\\.%d: up for \\d+s\nweb\\.%d: up for \\d+s\n", webPids[0], webPids[1], webPids[2]) +
		"\n=== worker: `sleep 61`\nTotal CPU: [0-9.]+ Total MEM: [0-9.]+\n\n(worker\\.\\d+: up for \\d+s\n){2}$")
	if !psRe.MatchString(out) {
		t.Fatalf("ps output:\n%s", out)
	}

	code, out, _ = gafferIn(t, append(g, "status")...)
	if code != 0 || out != "shop.web     running, 3/3 processes\nshop.worker  running, 2/2 processes\n" {
		t.Fatalf("status: %d %q", code, out)
	}

	code, out, errOut = gafferIn(t, append(g, "unload")...)
	if code != 0 || out != "'shop' unloaded\n" {
		t.Fatalf("unload: %d %q %q", code, out, errOut)
	}
	if sessions, _ := sup.Sessions(t.Context()); len(sessions) != 0 {
		t.Fatalf("sessions after unload: %v", sessions)
	}
	code, _, errOut = gafferIn(t, append(g, "unload")...)
	if code != 1 || !strings.Contains(errOut, `app "shop" is not loaded`) {
		t.Fatalf("unload again: %d %q", code, errOut)
	}
}

func TestRemoteUnreachable(t *testing.T) {
	dir := writeApp(t, "shop", "web: sleep 60\n", "")
	code, _, errOut := gafferIn(t, "--host", "http://127.0.0.1:1", "-d", dir, "status")
	if code != 1 || !strings.Contains(errOut, "cannot reach gafferd at http://127.0.0.1:1") {
		t.Fatalf("%d %q", code, errOut)
	}
}

func TestScaleSyntax(t *testing.T) {
	for in, want := range map[string][2]string{
		"web=3": {"web", "=3"}, "worker+2": {"worker", "+2"}, "my-worker-1": {"my-worker", "-1"}, "a-b=0": {"a-b", "=0"},
	} {
		typ, op, err := parseScale(in)
		if err != nil || typ != want[0] || op != want[1] {
			t.Errorf("parseScale(%q) = %q %q %v, want %q", in, typ, op, err, want)
		}
	}
	for _, bad := range []string{"web", "web=", "=3", "web=x", "web*2"} {
		if _, _, err := parseScale(bad); err == nil {
			t.Errorf("parseScale(%q) accepted", bad)
		}
	}
}

func TestExportCommand(t *testing.T) {
	dir := writeApp(t, "shop", "web: sleep 60\n", "")
	out := t.TempDir()
	code, stdout, errOut := gafferIn(t, "-d", dir, "export", "systemd", out)
	if code != 0 {
		t.Fatalf("%d %q", code, errOut)
	}
	for _, f := range []string{"shop.target", "shop-web@.service"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil || !strings.Contains(stdout, f) {
			t.Errorf("%s: %v (stdout %q)", f, err, stdout)
		}
	}
	code, stdout, _ = gafferIn(t, "-d", dir, "export", "json")
	if code != 0 || !strings.Contains(stdout, `"session": "shop"`) {
		t.Fatalf("json to stdout: %d %q", code, stdout)
	}
	if code, _, errOut = gafferIn(t, "-d", dir, "export", "systemd"); code != 2 {
		t.Fatalf("systemd without DIR: %d %q", code, errOut)
	}
}
