// Package compat runs the same supervisorctl and XML-RPC scenarios against the
// real supervisord (Debian's supervisor 4.2.5) and against gafferd, each as
// subtests TestX/supervisord and TestX/gafferd. The supervisord subtest proves
// that a scenario's expectations are supervisor's behaviour; the gafferd one
// that gafferd reproduces it.
//
// Each subtest runs its own daemon in the foreground on a private temp dir
// (unix socket, logs, pidfile and scripts all live there), waits until it
// answers, and at cleanup shuts it down and checks that every process it
// started is gone. Processes are found by a marker variable in their
// environment, which every child inherits from its daemon.
//
// What is normalised away, because it legitimately differs between runs or
// between the two daemons:
//   - pids, uptimes and stop dates in supervisorctl output (normalize);
//   - the order of the lines of a group or "all" stop, restart or clear:
//     supervisord reports processes in the order they happened to exit
//     (sortRuns);
//   - the version string, and the wording of the main log (maintail);
//   - where log rotation cuts (supervisord rotates after the write that
//     reaches maxbytes, gafferd before the write that would pass it);
//   - the detail after NO_FILE in a fault string, and a program's serverurl
//     in getAllConfigInfo ("none" in 4.2.5, "auto" in later versions);
//   - whether startProcess(name, wait=false) of a program that dies at once
//     answers true or SPAWN_ERROR (supervisord reaps right after spawning).
package compat

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

var (
	gafferdBin    string // built by TestMain
	supervisord   string // "" when not installed
	supervisorctl string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	supervisord, _ = exec.LookPath("supervisord")
	supervisorctl, _ = exec.LookPath("supervisorctl")
	dir, err := os.MkdirTemp("", "compat-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	gafferdBin = filepath.Join(dir, "gafferd")
	args := []string{"build", "-o", gafferdBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/gafferd")...)
	build.Dir = ".." // the repository root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gafferd: %v\n%s", err, out)
		return 1
	}
	// The subtests mostly wait for daemons (supervisord acts on a one-second
	// tick), so run more of them at once than there are CPUs, unless told.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && runtime.GOMAXPROCS(0) < 8 {
		flag.Set("test.parallel", "8")
	}
	return m.Run()
}

// requireSupervisor skips a test when Debian's supervisor is not installed,
// except in CI, where scripts/test.sh must have installed it.
func requireSupervisor(t *testing.T) {
	t.Helper()
	if supervisord != "" && supervisorctl != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("supervisord/supervisorctl not found: the test script (scripts/test.sh) should have installed Debian's supervisor package")
	}
	t.Skip("supervisord/supervisorctl not installed (apt-get install supervisor); skipping the compatibility tests")
}

// kind is one implementation under test.
type kind struct {
	name string
	argv func(conf string) []string
}

var kinds = []kind{
	{"supervisord", func(conf string) []string { return []string{supervisord, "-n", "-c", conf} }},
	{"gafferd", func(conf string) []string { return []string{gafferdBin, "-c", conf} }},
}

// both runs f once per implementation, in parallel subtests named after it.
func both(t *testing.T, f func(t *testing.T, k kind)) {
	t.Helper()
	requireSupervisor(t)
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

// inet is an [inet_http_server] section.
type inet struct {
	Port               int
	Username, Password string
}

// setup describes a daemon's temp dir: config sections after the common
// header, an optional inet server, and files (scripts are made executable).
type setup struct {
	Sections []string
	Inet     *inet
	Files    map[string]string
}

var confTmpl = template.Must(template.ParseFiles(filepath.Join("testdata", "supervisord.conf.tmpl")))

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

// tagEnv marks every process a daemon of this package starts, so cleanup can
// find its descendants wherever they were reparented.
const tagEnv = "GAFFER_COMPAT_TAG"

// daemon is a supervisord or gafferd started by a subtest.
type daemon struct {
	t      *testing.T
	kind   kind
	dir    string
	conf   string
	sock   string
	tag    string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed once cmd.Wait returned
	http   *http.Client
	setup  setup
	once   sync.Once
}

var tagSeq struct {
	sync.Mutex
	n int
}

func newTag() string {
	tagSeq.Lock()
	defer tagSeq.Unlock()
	tagSeq.n++
	return fmt.Sprintf("%d-%d-%d", os.Getpid(), time.Now().UnixNano(), tagSeq.n)
}

// start writes the config and files into a fresh temp dir, starts the daemon
// there and waits until supervisorctl gets answers from it.
func start(t *testing.T, k kind, s setup) *daemon {
	t.Helper()
	// A short directory name: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "gc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &daemon{t: t, kind: k, dir: dir, conf: filepath.Join(dir, "supervisord.conf"),
		sock: filepath.Join(dir, "sock"), tag: newTag(), out: &syncBuffer{}, exited: make(chan struct{})}
	if err := os.Mkdir(filepath.Join(dir, "childlogs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range s.Files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d.writeConf(s)
	d.http = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
		}}}
	argv := k.argv(d.conf)
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Dir = dir
	d.cmd.Env = append(os.Environ(), tagEnv+"="+d.tag)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.shutdown()
		d.http.CloseIdleConnections()
		if t.Failed() {
			// Both daemons copy their main log to the console in the foreground.
			t.Logf("%s output:\n%s", k.name, lastBytes([]byte(d.out.String()), 8000))
		}
	})
	eventually(t, 20*time.Second, k.name+" answering XML-RPC", func() bool {
		select {
		case <-d.exited:
			t.Fatalf("%s exited at start-up:\n%s", k.name, d.out)
		default:
		}
		v, err := d.tryRPC("supervisor.getState")
		m, _ := v.(map[string]any)
		return err == nil && m["statename"] == "RUNNING"
	})
	eventually(t, 10*time.Second, "supervisorctl answering", func() bool {
		out, code := d.ctl("pid")
		return code == 0 && strings.TrimSpace(out) == strconv.Itoa(d.cmd.Process.Pid)
	})
	return d
}

func (d *daemon) writeConf(s setup) {
	d.t.Helper()
	d.setup = s
	var b bytes.Buffer
	if err := confTmpl.Execute(&b, s); err != nil {
		d.t.Fatal(err)
	}
	// Write then rename: a daemon re-reading it never sees half a file.
	tmp := d.conf + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(tmp, d.conf); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemon) path(name string) string { return filepath.Join(d.dir, name) }

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// ctl runs supervisorctl against the daemon and returns its combined output
// and exit code. It runs in the temp dir: Python must not see the
// repository's supervisor/ directory.
func (d *daemon) ctl(args ...string) (string, int) {
	d.t.Helper()
	return d.ctlWith(append([]string{"-c", d.conf}, args...)...)
}

func (d *daemon) ctlWith(args ...string) (string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, supervisorctl, args...)
	cmd.Dir = d.dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		d.t.Fatalf("supervisorctl %q timed out; output:\n%s", args, out)
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			d.t.Fatalf("supervisorctl %q: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// expectCtl runs supervisorctl and compares its normalised output and exit code.
func (d *daemon) expectCtl(wantCode int, want string, args ...string) {
	d.t.Helper()
	out, code := d.ctl(args...)
	if got := normalize(out); got != want || code != wantCode {
		d.t.Errorf("supervisorctl %s:\n got (exit %d):\n%s\nwant (exit %d):\n%s", strings.Join(args, " "), code, got, wantCode, want)
	}
}

// shutdown stops the daemon: supervisorctl shutdown, then SIGTERM and SIGKILL
// by pid if it does not exit, then checks that its descendants are gone.
func (d *daemon) shutdown() {
	d.once.Do(func() {
		t := d.t
		select {
		case <-d.exited:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			cmd := exec.CommandContext(ctx, supervisorctl, "-c", d.conf, "shutdown")
			cmd.Dir = d.dir
			cmd.Run()
			cancel()
		}
		for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
			if sig != 0 {
				t.Errorf("%s did not exit; sending %v to pid %d", d.kind.name, sig, d.pid())
				d.cmd.Process.Signal(sig)
			}
			select {
			case <-d.exited:
			case <-time.After(15 * time.Second):
				continue
			}
			break
		}
		d.checkChildrenGone()
	})
}

// checkChildrenGone waits for every process carrying the daemon's tag to end,
// and kills (by pid) and reports those that do not.
func (d *daemon) checkChildrenGone() {
	t := d.t
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := taggedPids(d.tag)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s left processes running after it exited: %v", d.kind.name, pids)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// taggedPids lists the live processes whose environment holds tag.
func taggedPids(tag string) []int {
	needle := []byte("\x00" + tagEnv + "=" + tag + "\x00")
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || len(env) == 0 {
			continue // gone, not ours to read, or a zombie
		}
		env = append(append([]byte{0}, env...), 0)
		if bytes.Contains(env, needle) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// eventually polls cond every 50ms until it holds or the timeout passes:
// supervisord offers no event to wait on, so tests poll its state.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holds checks that cond stays true for d (polled every 50ms).
func holds(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`pid \d+`), "pid N"},
	{regexp.MustCompile(`uptime \d+:\d\d:\d\d`), "uptime U"},
	{regexp.MustCompile(`[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M`), "DATE"},
}

// normalize replaces pids, uptimes and dates in supervisorctl output.
func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// state returns a process's statename, failing the test on a fault.
func (d *daemon) state(name string) string {
	d.t.Helper()
	s, _ := d.info(name)["statename"].(string)
	return s
}

func (d *daemon) info(name string) map[string]any {
	d.t.Helper()
	m, _ := d.rpc("supervisor.getProcessInfo", name).(map[string]any)
	return m
}

// waitState polls until name is in state, within timeout.
func (d *daemon) waitState(name, state string, timeout time.Duration) {
	d.t.Helper()
	eventually(d.t, timeout, name+" "+state, func() bool { return d.state(name) == state })
}

// program returns a [program:name] section with the given keys.
func program(name string, keys ...string) string {
	return section("program:"+name, keys...)
}

func section(name string, keys ...string) string {
	return "[" + name + "]\n" + strings.Join(keys, "\n") + "\n"
}
