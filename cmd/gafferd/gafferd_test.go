package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

var gafferdBin string

// syncBuffer is a bytes.Buffer safe to read while exec copies into it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	dir, err := os.MkdirTemp("", "gafferd-test")
	if err != nil {
		panic(err)
	}
	gafferdBin = filepath.Join(dir, "gafferd")
	args := []string{"build", "-o", gafferdBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gafferd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testDaemon is a gafferd started by a test on a private unix socket.
type testDaemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	sock   string
	config string
	http   *http.Client
	stderr *syncBuffer
	waited chan error
	dir    string     // the working directory, holding sock and config
	opts   daemonOpts // how start runs gafferd
}

// daemonOpts say how a test runs gafferd.
type daemonOpts struct {
	config  string        // the config file's text
	bind    string        // listeners to add after the unix socket in --bind
	args    []string      // more gafferd arguments
	timeout time.Duration // of requests to gafferd; 0 is 10 s
	what    string        // what start waits for; "" is "gafferd answering"
	ready   func() bool   // besides /ping answering, for start to wait for
}

func startDaemon(t *testing.T, ini string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, daemonOpts{config: ini})
}

// startDaemonWith writes the config, starts gafferd and waits until it
// is ready.
func startDaemonWith(t *testing.T, opts daemonOpts) *testDaemon {
	t.Helper()
	d := newTestDaemon(t, opts)
	d.start()
	return d
}

// newTestDaemon writes the config of a gafferd in a new directory and
// makes its client; start runs it.
func newTestDaemon(t *testing.T, opts daemonOpts) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	d := &testDaemon{t: t, sock: filepath.Join(dir, "run", "gafferd.sock"), config: filepath.Join(dir, "gaffer.ini"),
		dir: dir, opts: opts}
	d.writeConfig(opts.config)
	timeout := opts.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d.http = &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
		}}}
	return d
}

// start runs gafferd, stopped at cleanup, and waits until it is ready; it
// may run again after gafferd has exited.
func (d *testDaemon) start() {
	d.t.Helper()
	bind := "unix:" + d.sock
	if d.opts.bind != "" {
		bind += "," + d.opts.bind
	}
	d.stderr, d.waited = &syncBuffer{}, make(chan error, 1)
	d.cmd = exec.Command(gafferdBin, append([]string{"-c", d.config, "--bind", bind}, d.opts.args...)...)
	d.cmd.Stderr, d.cmd.Dir = d.stderr, d.dir
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	cmd, waited, stderr := d.cmd, d.waited, d.stderr
	go func() { waited <- cmd.Wait() }()
	d.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
			waited <- nil // for a later cleanup of the same process
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			d.t.Error("gafferd did not stop on SIGTERM")
		}
		if d.t.Failed() {
			d.t.Logf("gafferd stderr:\n%s", stderr)
		}
	})
	what := d.opts.what
	if what == "" {
		what = "gafferd answering"
	}
	gaffertest.Eventually(d.t, 10*time.Second, what, func() bool {
		select {
		case err := <-waited:
			waited <- err
			d.t.Fatalf("gafferd exited: %v\n%s", err, stderr)
		default:
		}
		ready := d.opts.ready == nil || d.opts.ready()
		_, err := d.get("/ping")
		return err == nil && ready
	})
}

func (d *testDaemon) writeConfig(ini string) {
	if err := os.WriteFile(d.config, []byte(ini), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *testDaemon) get(path string) ([]byte, error) {
	resp, err := d.http.Get("http://gafferd" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return b, fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b, err
}

// osPids returns the OS pids of a job's processes, in spawn order.
func (d *testDaemon) osPids(job string) []int {
	d.t.Helper()
	s, j, _ := strings.Cut(job, ".")
	b, err := d.get("/jobs/" + s + "/" + j)
	if err != nil {
		d.t.Fatal(err)
	}
	var info struct{ Processes []int }
	if err := json.Unmarshal(b, &info); err != nil {
		d.t.Fatal(err)
	}
	var out []int
	for _, p := range info.Processes {
		b, err := d.get(fmt.Sprintf("/%d", p))
		if err != nil {
			d.t.Fatal(err)
		}
		var pi struct {
			OSPid int `json:"os_pid"`
		}
		json.Unmarshal(b, &pi)
		out = append(out, pi.OSPid)
	}
	return out
}

func (d *testDaemon) jobs() []string {
	b, err := d.get("/jobs")
	if err != nil {
		d.t.Fatal(err)
	}
	var v struct{ Jobs []string }
	json.Unmarshal(b, &v)
	slices.Sort(v.Jobs)
	return v.Jobs
}

func TestConfigTestReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ini")
	os.WriteFile(good, []byte("[job:web]\ncmd = sleep 10\nnumprocesses = 2\n"), 0o644)
	out, err := exec.Command(gafferdBin, "-t", "-c", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "config OK") {
		t.Fatalf("-t on a good config: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(bad, []byte("[job:web]\ncmd = sleep 10\nnumprocesses = many\n"), 0o644)
	out, err = exec.Command(gafferdBin, "-t", "-c", bad).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("-t on a bad config exited %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"bad.ini", "job:web", "numprocesses"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("-t output does not name %q:\n%s", want, out)
		}
	}
	// Starting with it fails the same way, before anything runs.
	out, err = exec.Command(gafferdBin, "-c", bad, "--bind", "unix:"+filepath.Join(dir, "s")).CombinedOutput()
	if exitCode(err) == 0 || !strings.Contains(string(out), "numprocesses") {
		t.Fatalf("gafferd with a bad config: %v\n%s", err, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func TestPriorityOrder(t *testing.T) {
	d := startDaemon(t, `
[job:last]
cmd = sleep 300
[job:second]
cmd = sleep 300
priority = 2
[job:first]
cmd = sleep 300
priority = 1
`)
	order := map[string]int{}
	for _, j := range []string{"first", "second", "last"} {
		b, err := d.get("/jobs/default/" + j)
		if err != nil {
			t.Fatal(err)
		}
		var info struct{ Processes []int }
		json.Unmarshal(b, &info)
		if len(info.Processes) != 1 {
			t.Fatalf("%s: processes %v", j, info.Processes)
		}
		order[j] = info.Processes[0]
	}
	if !(order["first"] < order["second"] && order["second"] < order["last"]) {
		t.Fatalf("spawn order by internal pid = %v, want first < second < last", order)
	}
}

func TestSighupAppliesOnlyTheDifference(t *testing.T) {
	d := startDaemon(t, `
[job:keep]
cmd = sleep 300
[job:change]
cmd = sleep 300
[job:drop]
cmd = sleep 300
`)
	keep, change, drop := d.osPids("default.keep"), d.osPids("default.change"), d.osPids("default.drop")

	// A broken file changes nothing.
	d.writeConfig("[job:keep]\ncmd = sleep 300\nnumprocesses = x\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	gaffertest.Eventually(t, 10*time.Second, "reload error logged", func() bool {
		return strings.Contains(d.stderr.String(), "nothing changed")
	})
	if got := d.jobs(); !slices.Equal(got, []string{"default.change", "default.drop", "default.keep"}) {
		t.Fatalf("jobs after a broken reload = %v", got)
	}

	d.writeConfig(`
[job:keep]
cmd = sleep 300
[job:change]
cmd = sleep 301
numprocesses = 2
[job:new]
cmd = sleep 300
`)
	d.cmd.Process.Signal(syscall.SIGHUP)
	gaffertest.Eventually(t, 10*time.Second, "reload applied", func() bool {
		return slices.Equal(d.jobs(), []string{"default.change", "default.keep", "default.new"}) &&
			len(d.osPids("default.change")) == 2
	})
	if got := d.osPids("default.keep"); !slices.Equal(got, keep) {
		t.Errorf("untouched job's processes changed: %v -> %v", keep, got)
	}
	for _, p := range d.osPids("default.change") {
		if slices.Contains(change, p) {
			t.Errorf("changed job kept old process %d", p)
		}
	}
	gaffertest.Eventually(t, 10*time.Second, "removed and replaced processes gone", func() bool {
		return gaffertest.Gone(drop[0]) && gaffertest.Gone(change[0])
	})
	if len(d.osPids("default.new")) != 1 {
		t.Error("new job not started")
	}
}

func TestSigtermStopsChildrenAndExitsZero(t *testing.T) {
	d := startDaemon(t, "[job:w]\ncmd = sleep 300\nnumprocesses = 3\n")
	pids := d.osPids("default.w")
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.waited:
		if err != nil {
			t.Fatalf("gafferd exited with %v", err)
		}
		d.waited <- err
	case <-time.After(20 * time.Second):
		t.Fatal("gafferd did not exit")
	}
	for _, p := range pids {
		if !gaffertest.Gone(p) {
			t.Errorf("child %d survived", p)
		}
	}
	if _, err := os.Stat(d.sock); err == nil {
		t.Error("unix socket left behind")
	}
}

func TestSigkillLeavesNoChild(t *testing.T) {
	d := startDaemon(t, "[job:w]\ncmd = sleep 300\nnumprocesses = 3\n")
	pids := d.osPids("default.w")
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.waited
	d.waited <- nil
	gaffertest.Eventually(t, 10*time.Second, "children gone after gafferd was killed", func() bool {
		for _, p := range pids {
			if !gaffertest.Gone(p) {
				return false
			}
		}
		return true
	})
}

func TestUnixSocketIsPrivate(t *testing.T) {
	d := startDaemon(t, "")
	fi, err := os.Stat(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(d.sock))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v, want 0700", di.Mode().Perm())
	}
}

func TestRefusesNonLoopbackWithoutAuth(t *testing.T) {
	out, err := exec.Command(gafferdBin, "--bind", "0.0.0.0:0").CombinedOutput()
	if exitCode(err) == 0 || !strings.Contains(string(out), "non-loopback") {
		t.Fatalf("gafferd --bind 0.0.0.0:0: %v\n%s", err, out)
	}
}

func TestDaemonWritesPidfileAndRefusesASecondCopy(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "gaffer.ini")
	os.WriteFile(ini, []byte("[job:w]\ncmd = sleep 300\n"), 0o644)
	pidfile := filepath.Join(dir, "gafferd.pid")
	sock := filepath.Join(dir, "run", "s.sock")
	args := []string{"-c", ini, "--daemon", "--pidfile", pidfile, "--bind", "unix:" + sock, "--error-log", filepath.Join(dir, "log")}
	if out, err := exec.Command(gafferdBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("gafferd --daemon: %v\n%s", err, out)
	}
	var pid int
	gaffertest.Eventually(t, 10*time.Second, "pidfile", func() bool {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return false
		}
		_, err = fmt.Sscanf(string(b), "%d\n", &pid)
		return err == nil && pid > 0
	})
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		gaffertest.Eventually(t, 20*time.Second, "daemon gone", func() bool { return gaffertest.Gone(pid) })
		if _, err := os.Stat(pidfile); err == nil {
			t.Error("pidfile left behind")
		}
	})
	out, err := exec.Command(gafferdBin, "-c", ini, "--pidfile", pidfile, "--bind", "unix:"+filepath.Join(dir, "other.sock")).CombinedOutput()
	if exitCode(err) == 0 || !strings.Contains(string(out), fmt.Sprintf("Already running on PID %d", pid)) {
		t.Fatalf("second gafferd with the same pidfile: %v\n%s", err, out)
	}
}
