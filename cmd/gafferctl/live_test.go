package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/api/ws"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/internal/gaffertest/enginetest"
	"github.com/gafferhq/gaffer/supervisor"
)

// liveDaemon is a daemon whose websocket channel is routed as gafferd
// routes it.
type liveDaemon struct {
	*daemon
	h *ws.Handler
}

func startLiveDaemon(t *testing.T) *liveDaemon {
	t.Helper()
	e := enginetest.New(t, enginetest.Options{})
	h := ws.New(e.Sup, ws.Options{})
	api := rest.New(e.Sup, rest.Options{})
	srv := e.Serve(enginetest.Route(h, api), enginetest.ServeOptions{StopFirst: true, CloseClients: true})
	return &liveDaemon{&daemon{t: t, sup: e.Sup, url: srv.URL}, h}
}

// lineWriter hands every complete line written to it to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 10_000)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// next returns the next line, failing after wait.
func (w *lineWriter) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-w.lines:
		return l
	case <-time.After(wait):
		t.Fatal("no output line")
		return ""
	}
}

// background runs a long gafferctl command until stop is called; stop
// returns its exit status and stderr.
func (d *liveDaemon) background(stdin string, args ...string) (out *lineWriter, stop func() (int, string)) {
	out = newLineWriter()
	ctx, cancel := context.WithCancel(context.Background())
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--host", d.url}, args...), strings.NewReader(stdin), out, &errb)
	}()
	var code *int
	stop = func() (int, string) {
		if code == nil {
			cancel()
			select {
			case c := <-done:
				code = &c
			case <-time.After(wait):
				d.t.Fatalf("gafferctl %v did not stop", args)
			}
		}
		return *code, errb.String()
	}
	d.t.Cleanup(func() { stop() })
	return out, stop
}

// waitSubscribed waits until the channel's clients hold n subscriptions.
func (d *liveDaemon) waitSubscribed(n int) {
	d.t.Helper()
	gaffertest.Eventually(d.t, wait, fmt.Sprintf("%d subscriptions", n), func() bool { return d.h.Subscriptions() == n })
}

var watchLine = regexp.MustCompile(`^\d\d:\d\d:\d\d (\S+) \| (\S+) (\S+)$`)

// TestSeedSession replays the seed's gafferctl session with today's
// commands: load_process a JSON file, add, sub, status, and watch printing
// the spawn and exit lines as they happen.
func TestSeedSession(t *testing.T) {
	d := startLiveDaemon(t)
	out, stop := d.background("", "watch")
	d.waitSubscribed(1)

	d.ok("load_process", "--start", jobFile(t, helperJob(t, "dummy", "sleep", nil)))
	if got := d.ok("add", "dummy", "2"); got != "3\n" {
		t.Fatalf("add = %q", got)
	}
	if got := d.ok("sub", "dummy", "1"); got != "2\n" {
		t.Fatalf("sub = %q", got)
	}
	if got := d.ok("status", "dummy"); got != "active\n" {
		t.Fatalf("status = %q", got)
	}
	// Every line is "HH:MM:SS <job> | <type> <job>"; the job's spawns and
	// the exit of the process sub stopped come in order.
	var types []string
	for !slicesContains(types, "exit") || !slicesContains(types, "job.default.dummy.exit") {
		l := out.next(t)
		m := watchLine.FindStringSubmatch(l)
		if m == nil || m[1] != "default.dummy" || m[3] != "default.dummy" {
			t.Fatalf("watch printed %q", l)
		}
		types = append(types, m[2])
	}
	want := []string{"load", "start", "job.default.dummy.start", "spawn", "job.default.dummy.spawn",
		"update", "spawn", "job.default.dummy.spawn", "spawn", "job.default.dummy.spawn", "update"}
	if fmt.Sprint(types[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("watch printed %v, want it to start with %v", types, want)
	}
	if code, errs := stop(); code != 0 || errs != "" {
		t.Errorf("watch ended with %d, stderr %q", code, errs)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestWatchPatternAndColours(t *testing.T) {
	d := startLiveDaemon(t)
	out, stop := d.background("", "watch", "job.default.b")
	d.waitSubscribed(1)
	d.ok("load", jobFile(t, helperJob(t, "a", "sleep", nil)))
	d.ok("load", jobFile(t, helperJob(t, "b", "sleep", nil)))
	for _, want := range []string{"job.default.b.start", "job.default.b.spawn"} {
		if l := out.next(t); !strings.HasSuffix(l, " default.b | "+want+" default.b") || strings.Contains(l, "\x1b") {
			t.Fatalf("watch job.default.b printed %q, want %s", l, want)
		}
	}
	stop()

	paint := newPalette(true)
	a1, b1, a2 := paint("a", "x"), paint("b", "x"), paint("a", "y")
	if a1 != "\x1b[32mx\x1b[0m" || b1 != "\x1b[33mx\x1b[0m" || a2 != "\x1b[32my\x1b[0m" {
		t.Errorf("palette: %q %q %q", a1, b1, a2)
	}
	for i := range 12 {
		paint(fmt.Sprint("n", i), "")
	}
	if got := paint("n11", "z"); got == paint("n0", "z") {
		t.Errorf("12 names should get 12 colours")
	}
}

func TestTailFollowAndSend(t *testing.T) {
	d := startLiveDaemon(t)
	cfg := helperJob(t, "echo", "echo-stdin", map[string]any{"redirect_output": []string{"out"}, "redirect_input": true})
	d.ok("load", jobFile(t, cfg))
	pid := atoi(t, strings.TrimSpace(d.ok("pids", "echo")))
	p := fmt.Sprint(pid)

	// -n 0: only new output (what tail -f prints first is tested below).
	out, stop := d.background("", "tail", "-f", "-n", "0", p)
	d.waitSubscribed(2) // JOB:default.echo and STREAM:<pid>
	if got := d.ok("send", p, "hello"); got != "" {
		t.Errorf("send printed %q", got)
	}
	if l := out.next(t); l != "hello" {
		t.Fatalf("tail -f printed %q", l)
	}
	d.okIn("raw\x00bytes\nsecond line\n", "send", p, "-")
	if l := out.next(t); l != "raw\x00bytes" {
		t.Fatalf("tail -f printed %q", l)
	}
	if l := out.next(t); l != "second line" {
		t.Fatalf("tail -f printed %q", l)
	}
	// Without -f: the last lines kept.
	if got := d.ok("tail", "-n", "2", p); got != "raw\x00bytes\nsecond line\n" {
		t.Errorf("tail -n 2 = %q", got)
	}
	// tail -f of a process ends when the process exits.
	sub := d.sup.Subscribe(16, events.DropOldest, "exit")
	defer sub.Close()
	d.ok("stop-process", p)
	if code, errs := stop(); code != 0 || errs != "" {
		t.Errorf("tail -f ended with %d, %q", code, errs)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "999", "x"}, "not_found"},
		{[]string{"send", "abc", "x"}, "want PID"},
	} {
		if l := d.fail(map[bool]int{true: 2, false: 1}[c.want == "want PID"], c.args...); !strings.Contains(l, c.want) {
			t.Errorf("%v: %q", c.args, l)
		}
	}
}

func TestTailJobPrefixesLines(t *testing.T) {
	d := startLiveDaemon(t)
	cfg := helperJob(t, "echo", "echo-stdin", map[string]any{"redirect_output": []string{"out"}, "redirect_input": true, "numprocesses": 2})
	d.ok("load", jobFile(t, cfg))
	pids := strings.Fields(d.ok("pids", "echo"))
	// Output written before tail -f starts is printed once, from what
	// gafferd keeps.
	output := d.sup.SubscribeOutput(16, supervisor.DropOldest, pids[0])
	defer output.Close()
	d.ok("send", pids[0], "before")
	gaffertest.WaitFor(t, output, wait, func(e events.Event) bool { return string(e.Data) == "before\n" })
	out, stop := d.background("", "tail", "-f", "echo")
	d.waitSubscribed(1 + 2)
	if l := out.next(t); l != "default.echo."+pids[0]+" | before" {
		t.Fatalf("tail -f echo printed %q first", l)
	}
	d.ok("send", pids[1], "two")
	if l := out.next(t); l != "default.echo."+pids[1]+" | two" {
		t.Fatalf("tail -f echo printed %q", l)
	}
	// A process the job starts later is followed too.
	d.ok("add", "echo")
	all := strings.Fields(d.ok("pids", "echo"))
	d.waitSubscribed(1 + 3)
	d.ok("send", all[2], "three")
	if l := out.next(t); l != "default.echo."+all[2]+" | three" {
		t.Fatalf("tail -f echo printed %q", l)
	}
	if code, errs := stop(); code != 0 || errs != "" {
		t.Errorf("tail -f ended with %d, %q", code, errs)
	}
	if got := d.fail(1, "send", pids[0]+".nope", "x"); !strings.Contains(got, "no such stream") {
		t.Errorf("send to a missing stream: %q", got)
	}
}

func TestStatsWatch(t *testing.T) {
	d := startLiveDaemon(t)
	d.ok("load", jobFile(t, helperJob(t, "web", "sleep", map[string]any{"numprocesses": 2})))
	out, stop := d.background("", "stats", "--watch", "--interval", "20ms", "web")
	if h := strings.Fields(out.next(t)); fmt.Sprint(h) != "[TIME PID OS_PID CPU MEM RSS VSZ CTIME]" {
		t.Fatalf("header %v", h)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		f := strings.Fields(out.next(t))
		if len(f) != 8 {
			t.Fatalf("stats line %v", f)
		}
		seen[f[1]] = true
	}
	if code, errs := stop(); code != 0 || errs != "" {
		t.Errorf("stats --watch ended with %d, %q", code, errs)
	}
}

// TestWatchExitsZeroOnSignal runs the built gafferctl: interrupted, watch
// exits 0.
func TestWatchExitsZeroOnSignal(t *testing.T) {
	bin := buildCtl(t)
	d := startLiveDaemon(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(bin, "--host", d.url, "watch")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		d.waitSubscribed(1)
		cmd.Process.Signal(sig)
		if err := cmd.Wait(); err != nil || stderr.Len() > 0 {
			t.Errorf("watch after %v: %v, stderr %q", sig, err, stderr.String())
		}
		d.waitSubscribed(0)
	}
}
