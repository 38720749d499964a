package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/internal/gaffertest/enginetest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

const wait = enginetest.Wait

// daemon is a real supervisor behind the REST API, as gafferd runs them.
type daemon struct {
	t   *testing.T
	sup *supervisor.Supervisor
	url string
}

// startDaemon runs a supervisor and its API for one test; at cleanup it
// stops both and checks that every process the test spawned is gone.
func startDaemon(t *testing.T, opts rest.Options) *daemon {
	t.Helper()
	e := enginetest.New(t, enginetest.Options{})
	srv := e.Serve(rest.New(e.Sup, opts), enginetest.ServeOptions{})
	return &daemon{t: t, sup: e.Sup, url: srv.URL}
}

// ctl runs gafferctl in-process with the given global flags and stdin.
func ctl(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs a command against d that must succeed, and returns its output.
func (d *daemon) ok(args ...string) string {
	d.t.Helper()
	return d.okIn("", args...)
}

func (d *daemon) okIn(stdin string, args ...string) string {
	d.t.Helper()
	code, out, errs := ctl(d.t, stdin, append([]string{"--host", d.url}, args...)...)
	if code != 0 || errs != "" {
		d.t.Fatalf("gafferctl %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errs, out)
	}
	return out
}

// fail runs a command that must fail with exit status code and one line
// "gafferctl: ..." on stderr, and returns that line.
func (d *daemon) fail(code int, args ...string) string {
	d.t.Helper()
	return failWith(d.t, code, append([]string{"--host", d.url}, args...)...)
}

func failWith(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errs := ctl(t, "", args...)
	if code != want || out != "" || !strings.HasPrefix(errs, "gafferctl: ") || strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") {
		t.Fatalf("gafferctl %s: exit %d (want %d), stdout %q, stderr %q (want one line)", strings.Join(args, " "), code, want, out, errs)
	}
	return strings.TrimSuffix(errs, "\n")
}

// jobFile writes a JSON job file running this test binary as helper.
func jobFile(t *testing.T, jobs ...map[string]any) string {
	t.Helper()
	var v any = jobs[0]
	if len(jobs) > 1 {
		v = map[string]any{"jobs": jobs}
	}
	b, _ := json.Marshal(v)
	p := filepath.Join(t.TempDir(), "job.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func helperJob(t *testing.T, name, helper string, extra map[string]any) map[string]any {
	return enginetest.HelperJob(t, name, helper, extra)
}

// rows splits aligned output into fields per line.
func rows(out string) [][]string {
	var r [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		r = append(r, strings.Fields(l))
	}
	return r
}

func waitExit(t *testing.T, sub *events.Sub, pid int) {
	t.Helper()
	gaffertest.WaitFor(t, sub, wait, enginetest.IsExit(pid))
}

func TestJobCommands(t *testing.T) {
	d := startDaemon(t, rest.Options{Version: "7.7"})
	sub := d.sup.Subscribe(1024, supervisor.DropOldest, "exit", "spawn")
	defer sub.Close()

	if out := d.ok("load", "--session", "shop", jobFile(t, helperJob(t, "worker", "sleep", map[string]any{"numprocesses": 2}))); out != "ok\n" {
		t.Fatalf("load = %q", out)
	}
	many, _ := json.Marshal(map[string]any{"jobs": []any{
		helperJob(t, "app.web", "sleep", nil),
		helperJob(t, "idle", "sleep", map[string]any{"start": false}),
	}})
	if out := d.okIn(string(many), "load", "-"); out != "ok\n" {
		t.Fatalf("load - = %q", out)
	}
	if out := d.ok("sessions"); out != "shop\napp\ndefault\n" {
		t.Fatalf("sessions = %q", out)
	}

	table := rows(d.ok("jobs"))
	if !reflect.DeepEqual(table[0], []string{"NAME", "STATE", "RUNNING", "TARGET", "PIDS"}) || len(table) != 4 {
		t.Fatalf("jobs table = %q", table)
	}
	if r := table[1]; r[0] != "shop.worker" || r[1] != "running" || r[2] != "2" || r[3] != "2" || len(strings.Split(r[4], ",")) != 2 {
		t.Errorf("shop.worker row = %q", r)
	}
	if r := table[3]; !reflect.DeepEqual(r, []string{"default.idle", "stopped", "0", "0", "-"}) {
		t.Errorf("default.idle row = %q", r)
	}
	if t2 := rows(d.ok("jobs", "app")); len(t2) != 2 || t2[1][0] != "app.web" {
		t.Errorf("jobs app = %q", t2)
	}
	var infos []supervisor.JobInfo
	if err := json.Unmarshal([]byte(d.ok("--json", "jobs")), &infos); err != nil || len(infos) != 3 || infos[0].Name != "shop.worker" {
		t.Errorf("jobs --json = %+v, %v", infos, err)
	}

	for _, s := range []struct{ arg, want string }{{"=3", "3"}, {"-1", "2"}, {"+2", "4"}, {"1", "1"}, {"2", "2"}} {
		if out := d.ok("scale", "shop.worker", s.arg); out != s.want+"\n" {
			t.Fatalf("scale %s = %q, want %s", s.arg, out, s.want)
		}
	}
	pids := strings.Fields(d.ok("pids", "shop.worker"))
	if len(pids) != 2 {
		t.Fatalf("pids = %q", pids)
	}

	once := strings.TrimSpace(d.ok("commit", "shop.worker", "-e", "ONCE=1", "--graceful-timeout", "3"))
	if _, err := strconv.Atoi(once); err != nil {
		t.Fatalf("commit printed %q", once)
	}
	info := d.ok("info", once)
	if !strings.Contains(info, "commited  true") || !strings.Contains(info, "ONCE=1") || !strings.Contains(info, "shop.worker") {
		t.Errorf("info %s = %q", once, info)
	}
	info = d.ok("info", "shop.worker")
	for _, want := range []string{"name           shop.worker", "state          running", "running        3", "running_out    1", "max_processes  2"} {
		if !strings.Contains(info, want+"\n") {
			t.Errorf("info shop.worker lacks %q:\n%s", want, info)
		}
	}

	st := rows(d.ok("stats", "shop.worker"))
	if len(st) != 5 || st[0][0] != "PID" || st[1][0] != pids[0] || st[3][0] != once || st[4][0] != "TOTAL" {
		t.Errorf("stats shop.worker = %q", st)
	}
	if st := rows(d.ok("stats", pids[0])); len(st) != 2 || st[1][0] != pids[0] || st[1][1] == "0" || len(st[1]) != 7 {
		t.Errorf("stats %s = %q", pids[0], st)
	}

	if out := d.ok("signal", "shop.worker", "CONT"); out != "ok\n" {
		t.Errorf("signal job = %q", out)
	}
	d.ok("signal", pids[0], "SIGCONT")

	// stop-process: replaced.
	d.ok("stop-process", pids[0])
	waitExit(t, sub, atoi(t, pids[0]))
	if now := strings.Fields(d.ok("pids", "shop.worker")); len(now) != 2 || now[0] == pids[0] || now[1] == pids[0] {
		t.Errorf("pids after stop-process = %q", now)
	}

	before := strings.Fields(d.ok("pids", "app.web"))
	d.ok("reload", "app.web")
	waitExit(t, sub, atoi(t, before[0]))
	if now := strings.Fields(d.ok("pids", "app.web")); len(now) != 1 || now[0] == before[0] {
		t.Errorf("pids after reload = %q (before %q)", now, before)
	}

	if out := d.ok("unload", "shop.worker", "app.web"); out != "ok\n" {
		t.Errorf("unload = %q", out)
	}
	if out := d.ok("jobs"); len(rows(out)) != 2 || !strings.HasPrefix(rows(out)[1][0], "default.idle") {
		t.Errorf("jobs after unload = %q", out)
	}
	if out := d.ok("ping"); out != "ok\n" {
		t.Errorf("ping = %q", out)
	}
	if v := rows(d.ok("version")); !reflect.DeepEqual(v, [][]string{{"gafferctl", version}, {"gafferd", "7.7"}}) {
		t.Errorf("version = %q", v)
	}
}

func TestLegacyCommands(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	d := startDaemon(t, rest.Options{})
	sub := d.sup.Subscribe(1024, supervisor.DropOldest, "exit")
	defer sub.Close()

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"add_process", "sleeper", sleep + " 30"}, "ok"},
		{[]string{"status", "sleeper"}, "stopped"},
		{[]string{"processes"}, "default.sleeper"},
		{[]string{"start", "sleeper"}, "ok"},
		{[]string{"status", "sleeper"}, "active"},
		{[]string{"add", "sleeper", "2"}, "3"},
		{[]string{"sub", "sleeper"}, "2"},
		{[]string{"add", "default.sleeper"}, "3"},
		{[]string{"sub", "sleeper", "2"}, "1"},
		{[]string{"add", "sleeper"}, "2"},
		{[]string{"numprocesses", "sleeper"}, "2"},
		{[]string{"running", "sleeper"}, "2"},
		{[]string{"kill", "sleeper", "CONT"}, "ok"},
	} {
		if out := d.ok(c.args...); out != c.want+"\n" {
			t.Fatalf("%q = %q, want %q", c.args, out, c.want)
		}
	}
	pids := strings.Fields(d.ok("pids", "sleeper"))
	if len(pids) != 2 {
		t.Fatalf("pids = %q", pids)
	}
	if running := strings.Fields(d.ok("processes", "--running")); !reflect.DeepEqual(running, pids) {
		t.Errorf("processes --running = %q, pids %q", running, pids)
	}
	d.ok("kill", pids[0], "TERM")
	waitExit(t, sub, atoi(t, pids[0]))

	var cfg map[string]any
	if err := json.Unmarshal([]byte(d.ok("get_process", "sleeper")), &cfg); err != nil || cfg["cmd"] != sleep+" 30" || cfg["name"] != "sleeper" {
		t.Errorf("get_process = %v, %v", cfg, err)
	}
	if out := d.ok("stop", "sleeper"); out != "ok\n" {
		t.Errorf("stop = %q", out)
	}
	if out := d.ok("status", "sleeper"); out != "stopped\n" {
		t.Errorf("status after stop = %q", out)
	}
	if out := d.ok("del_process", "sleeper"); out != "ok\n" {
		t.Errorf("del_process = %q", out)
	}
	if out := d.ok("processes"); out != "" {
		t.Errorf("processes after del_process = %q", out)
	}

	// load_process starts only when asked.
	d.ok("load_process", jobFile(t, helperJob(t, "app.lazy", "sleep", nil)))
	if out := d.ok("running", "app.lazy"); out != "0\n" {
		t.Errorf("load_process without --start runs %q", out)
	}
	d.ok("load_process", "--start", jobFile(t, helperJob(t, "eager", "sleep", nil)))
	if out := d.ok("running", "eager"); out != "1\n" {
		t.Errorf("load_process --start runs %q", out)
	}
	d.ok("add_process", "--start", "app.quick", sleep+" 30")
	if out := d.ok("status", "app.quick"); out != "active\n" {
		t.Errorf("add_process --start: status %q", out)
	}
	if out := d.ok("help", "add"); !strings.Contains(out, "Usage:") || !strings.Contains(out, "add NAME [N]") {
		t.Errorf("help add = %q", out)
	}
}

func TestFailuresPrintOneLine(t *testing.T) {
	d := startDaemon(t, rest.Options{})
	file := jobFile(t, helperJob(t, "web", "sleep", map[string]any{"start": false}))
	d.ok("load", file)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"info", "nope"}, `gafferctl: job "default.nope": not_found`},
		{[]string{"status", "app.nope"}, `gafferctl: job "app.nope": not_found`},
		{[]string{"scale", "nope", "+1"}, "not_found"},
		{[]string{"info", "999"}, "process 999"},
		{[]string{"stop-process", "999"}, "not_found"},
		{[]string{"load", file}, "gafferctl: default.web: already loaded"},
		{[]string{"signal", "web", "BOGUS"}, "bad_signal"},
		{[]string{"load", filepath.Join(t.TempDir(), "missing.json")}, "no such file"},
		{[]string{"load", "-"}, "want a JSON object"},
		{[]string{"unload", "web", "nope"}, `job "default.nope": not_found`},
	} {
		if got := d.fail(1, c.args...); !strings.Contains(got, c.want) {
			t.Errorf("%q: %q does not contain %q", c.args, got, c.want)
		}
	}
	// The failed "unload web nope" still unloaded web.
	if out := d.ok("jobs"); len(rows(out)) != 1 {
		t.Errorf("jobs = %q", out)
	}

	for _, args := range [][]string{
		{"nope"},
		{"scal", "x", "1"},
		{"--bogus", "jobs"},
		{"jobs", "a", "b"},
		{"scale", "web"},
		{"scale", "web", "x"},
		{"scale", "web", "*3"},
		{"add", "web", "x"},
		{"sub", "web", "-1"},
		{"commit", "web", "-e", "NOEQUALS"},
		{"commit", "web", "--graceful-timeout", "soon"},
		{"stop-process", "abc"},
		{"info"},
		{"--unix", "/nowhere.sock", "ping"},
	} {
		d.fail(2, args...)
	}
	failWith(t, 2, "--host", "ftp://x", "ping")
	if got := failWith(t, 1, "--host", "http://127.0.0.1:1", "ping"); !strings.Contains(got, "cannot reach gafferd at http://127.0.0.1:1") {
		t.Errorf("unreachable: %q", got)
	}
}

func TestJSONOutput(t *testing.T) {
	d := startDaemon(t, rest.Options{})
	d.ok("load", jobFile(t, helperJob(t, "web", "sleep", nil)))
	for _, c := range []struct {
		args []string
		want any
	}{
		{[]string{"ping"}, map[string]any{"ok": true}},
		{[]string{"sessions"}, []any{"default"}},
		{[]string{"scale", "web", "=2"}, map[string]any{"numprocesses": 2.0}},
		{[]string{"status", "web"}, "active"},
		{[]string{"running", "web"}, 2.0},
		{[]string{"processes"}, []any{"default.web"}},
	} {
		var got any
		out := d.ok(append([]string{"--json"}, c.args...)...)
		if err := json.Unmarshal([]byte(out), &got); err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("--json %q = %s (%v), want %v", c.args, out, err, c.want)
		}
	}
	var st struct {
		Name  string
		CPU   any `json:"cpu"`
		Stats []map[string]any
	}
	if err := json.Unmarshal([]byte(d.ok("--json", "stats", "web")), &st); err != nil || st.Name != "default.web" || len(st.Stats) != 2 {
		t.Errorf("--json stats = %+v, %v", st, err)
	}
}

func TestAddressFromUnixFlagAndEnvironment(t *testing.T) {
	d := startDaemon(t, rest.Options{Authorize: func(r *http.Request, _ rest.Permission, _ string) error {
		if r.Header.Get("X-Api-Key") != "sesame" {
			return rest.ErrUnauthorized
		}
		return nil
	}})
	sock := filepath.Join(t.TempDir(), "gafferd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rest.New(d.sup, rest.Options{})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	if code, out, errs := ctl(t, "", "--unix", sock, "ping"); code != 0 || out != "ok\n" {
		t.Fatalf("--unix ping = %d %q %q", code, out, errs)
	}
	t.Setenv("GAFFERD_ADDRESS", "unix://"+sock)
	if code, out, errs := ctl(t, "", "sessions"); code != 0 || out != "" {
		t.Fatalf("sessions via $GAFFERD_ADDRESS = %d %q %q", code, out, errs)
	}

	// The TCP listener wants a key: flag, environment, or neither.
	if got := failWith(t, 1, "--host", d.url, "sessions"); !strings.Contains(got, "API key") {
		t.Errorf("without a key: %q", got)
	}
	if code, _, errs := ctl(t, "", "--host", d.url, "--api-key", "sesame", "sessions"); code != 0 {
		t.Errorf("--api-key: %d %q", code, errs)
	}
	t.Setenv("GAFFER_API_KEY", "sesame")
	if code, _, errs := ctl(t, "", "--host", d.url, "sessions"); code != 0 {
		t.Errorf("$GAFFER_API_KEY: %d %q", code, errs)
	}
	if code, out, _ := ctl(t, "", "--help"); code != 0 || strings.Contains(out, "sesame") {
		t.Errorf("help shows the key or fails: %d", code)
	}
}

func TestCompletion(t *testing.T) {
	d := startDaemon(t, rest.Options{})
	d.ok("load", jobFile(t, helperJob(t, "app.web", "sleep", map[string]any{"start": false})))
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := d.ok("completion", shell); !strings.Contains(out, "gafferctl") {
			t.Errorf("completion %s printed no script", shell)
		}
	}
	// Job names come from gafferd.
	// (cobra reports the directive on stderr.)
	if code, out, _ := ctl(t, "", "--host", d.url, "__complete", "info", ""); code != 0 || !strings.HasPrefix(out, "app.web\n") {
		t.Errorf("completing a job name = %d %q", code, out)
	}
}

// TestBinaryExitStatus checks main's wiring of exit statuses with the
// built command.
func TestBinaryExitStatus(t *testing.T) {
	bin := buildCtl(t)
	d := startDaemon(t, rest.Options{})
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--host", d.url, "ping"}, 0},
		{[]string{"--host", d.url, "info", "nope"}, 1},
		{[]string{"--host", d.url, "nope"}, 2},
	} {
		cmd := exec.Command(bin, c.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || (code != 0) != (stderr.Len() > 0) {
			t.Errorf("gafferctl %q: exit %d, stderr %q; want exit %d", c.args, code, stderr.String(), c.code)
		}
	}
}

// buildCtl builds the gafferctl command into a temporary directory and
// returns its path; it skips the test without a go tool.
func buildCtl(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	bin := filepath.Join(t.TempDir(), "gafferctl")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
