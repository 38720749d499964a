package eventlistener

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// These tests run real listener processes (helpers of this test binary, see
// helpers_test.go) under a real supervisor, with a running Manager.

type harness struct {
	t      *testing.T
	sup    *supervisor.Supervisor
	m      *Manager
	logs   *syncBuffer
	dir    string
	states *supervisor.Sub
}

func runManager(t *testing.T, pools ...PoolConfig) *harness {
	t.Helper()
	sup := startSupervisor(t)
	states := sup.Subscribe(1000, supervisor.DropOldest, "state")
	t.Cleanup(states.Close)
	m, logs := newManager(t, sup, pools...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	h := &harness{t: t, sup: sup, m: m, logs: logs, dir: t.TempDir(), states: states}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return")
		}
		if t.Failed() {
			t.Logf("manager log:\n%s", logs)
			h.dumpStderr()
		}
	})
	return h
}

func (h *harness) dumpStderr() {
	files, _ := filepath.Glob(filepath.Join(h.dir, "*.stderr"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); len(b) > 0 {
			h.t.Logf("%s:\n%s", filepath.Base(f), b)
		}
	}
}

// job loads and starts a supervisor program running a helper of this test
// binary (env names which one); it returns the full job name.
func (h *harness) job(group, name string, env map[string]string, logs map[string]supervisor.LogFile, args ...string) string {
	h.t.Helper()
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(h.t))
	cfg.Args = args
	cfg.Env = env
	cfg.Program = supervisor.DefaultProgram(group)
	cfg.Program.StartSecs = 0
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	cfg.RedirectInput = true
	cfg.GracefulTimeout = 5 * time.Second
	if logs == nil {
		logs = map[string]supervisor.LogFile{}
	}
	if _, ok := logs["stderr"]; !ok {
		logs["stderr"] = supervisor.LogFile{Path: filepath.Join(h.dir, group+"."+name+".stderr")}
	}
	cfg.Logs = logs
	if err := h.sup.Load(context.Background(), group, cfg, true); err != nil {
		h.t.Fatal(err)
	}
	return group + "." + name
}

// listener starts a listener helper writing its records to
// <dir>/<group>.<name>.jsonl.
func (h *harness) listener(group, name string, args ...string) string {
	h.t.Helper()
	args = append([]string{"-out", h.out(group + "." + name)}, args...)
	return h.job(group, name, map[string]string{helperEnv: "listener"}, nil, args...)
}

func (h *harness) out(job string) string { return filepath.Join(h.dir, job+".jsonl") }

// gate makes a fifo a listener reads one byte from before each READY; the
// returned function lets n more READY through.
func (h *harness) gate(name string) (path string, open func(n int)) {
	h.t.Helper()
	path = filepath.Join(h.dir, name+".gate")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		h.t.Fatal(err)
	}
	// O_RDWR does not wait for the reader, and keeps the fifo open for it.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { f.Close() })
	return path, func(n int) {
		if _, err := f.Write([]byte(strings.Repeat("g", n))); err != nil {
			h.t.Fatal(err)
		}
	}
}

// barrier returns once the manager has applied every earlier call.
func (h *harness) barrier() {
	h.t.Helper()
	h.inLoop(func() {})
}

// inLoop runs fn in the manager's loop, after every earlier call.
func (h *harness) inLoop(fn func()) {
	h.t.Helper()
	done := make(chan struct{})
	h.m.enqueue(func() { fn(); close(done) })
	select {
	case <-done:
	case <-time.After(wait):
		h.t.Fatal("manager loop did not answer")
	}
}

func (h *harness) waitState(job, state string) supervisor.Event {
	h.t.Helper()
	return gaffertest.WaitFor(h.t, h.states, wait, func(e supervisor.Event) bool {
		return e.Name == job && e.To == state
	})
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// waitRecords waits until the records of a listener (full job name)
// satisfy done.
func (h *harness) waitRecords(job, what string, done func([]record) bool) []record {
	h.t.Helper()
	var recs []record
	gaffertest.Eventually(h.t, wait, what, func() bool {
		recs = readRecords(h.t, h.out(job))
		return done(recs)
	})
	return recs
}

func atLeast(n int) func([]record) bool {
	return func(rs []record) bool { return len(rs) >= n }
}

// checkHeader verifies a record's header line, token by token in
// supervisor's order, with len counting payload bytes.
func checkHeader(t *testing.T, r record, serial, poolSerial int64, pool string) {
	t.Helper()
	want := fmt.Sprintf("ver:3.0 server:testid serial:%d pool:%s poolserial:%d eventname:%s len:%d",
		serial, pool, poolSerial, r.Fields["eventname"], utf8.RuneCountInString(r.Payload))
	if r.Header != want {
		t.Errorf("header %q\nwant   %q", r.Header, want)
	}
}

func events(rs []record, keep func(record) bool) []string {
	var out []string
	for _, r := range rs {
		if keep(r) {
			out = append(out, r.Fields["eventname"]+" "+r.Payload)
		}
	}
	return out
}

func TestProcessStateEventsOfAnotherProgram(t *testing.T) {
	h := runManager(t, PoolConfig{Name: "watch", Events: []string{"PROCESS_STATE"}, BufferSize: 10,
		Processes: []string{"watch.l1"}})
	h.listener("watch", "l1")
	web := h.job("app", "web", map[string]string{gaffertest.HelperEnv: "sleep"}, nil)
	h.waitState(web, "RUNNING")
	info, err := h.sup.Program(context.Background(), web)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sup.StopProgram(context.Background(), web, true); err != nil {
		t.Fatal(err)
	}
	isWeb := func(r record) bool { return strings.HasPrefix(r.Payload, "processname:web ") }
	recs := h.waitRecords("watch.l1", "4 state events of web", func(rs []record) bool {
		return len(events(rs, isWeb)) == 4
	})
	for i, r := range recs {
		checkHeader(t, r, int64(i), int64(i), "watch")
		if r.Result != "OK" {
			t.Errorf("record %d: result %s", i, r.Result)
		}
	}
	pid := info.Pid
	want := []string{
		"PROCESS_STATE_STARTING processname:web groupname:app from_state:STOPPED tries:0",
		fmt.Sprintf("PROCESS_STATE_RUNNING processname:web groupname:app from_state:STARTING pid:%d", pid),
		fmt.Sprintf("PROCESS_STATE_STOPPING processname:web groupname:app from_state:RUNNING pid:%d", pid),
		fmt.Sprintf("PROCESS_STATE_STOPPED processname:web groupname:app from_state:STOPPING pid:%d", pid),
	}
	if got := events(recs, isWeb); !slices.Equal(got, want) {
		t.Errorf("web events\n%q\nwant\n%q", got, want)
	}
	// Nobody takes TICK events: the manager has no timer.
	var armed time.Time
	h.inLoop(func() { armed = h.m.timerAt })
	if !armed.IsZero() {
		t.Errorf("idle manager armed a timer for %v", armed)
	}
	// The listener hears about itself too, as under supervisord.
	self := events(recs, func(r record) bool { return strings.HasPrefix(r.Payload, "processname:l1 ") })
	if len(self) < 2 || !strings.HasPrefix(self[0], "PROCESS_STATE_STARTING processname:l1 groupname:watch from_state:STOPPED") ||
		!strings.HasPrefix(self[1], "PROCESS_STATE_RUNNING ") {
		t.Errorf("listener's own events: %q", self)
	}
}

func TestRejectedEventIsSentAgain(t *testing.T) {
	h := runManager(t, PoolConfig{Name: "p", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10,
		Processes: []string{"p.l"}})
	h.listener("p", "l", "-fail", "1")
	h.m.RemoteCommunication("greeting", "héllo wörld\n")
	recs := h.waitRecords("p.l", "the event twice", atLeast(2))
	for i, want := range []string{"FAIL", "OK"} {
		r := recs[i]
		checkHeader(t, r, 0, 0, "p")
		if r.Result != want || r.Payload != "type:greeting\nhéllo wörld\n" {
			t.Errorf("record %d: %s %q", i, r.Result, r.Payload)
		}
	}
	h.m.RemoteCommunication("next", "")
	recs = h.waitRecords("p.l", "the next event", atLeast(3))
	checkHeader(t, recs[2], 1, 1, "p")
	if recs[2].Payload != "type:next\n" || len(recs) != 3 {
		t.Errorf("records %+v", recs)
	}
}

func TestListenerCrashWhileBusyGetsEventAgainWhenRestarted(t *testing.T) {
	h := runManager(t, PoolConfig{Name: "p", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10,
		Processes: []string{"p.l"}})
	h.listener("p", "l", "-crash-once", filepath.Join(h.dir, "crashed"))
	h.m.RemoteCommunication("t", "once")
	recs := h.waitRecords("p.l", "the event after the restart", atLeast(2))
	if recs[0].Result != "crash" || recs[1].Result != "OK" || recs[0].Pid == recs[1].Pid {
		t.Fatalf("records %+v", recs)
	}
	for _, r := range recs[:2] {
		checkHeader(t, r, 0, 0, "p")
		if r.Payload != "type:t\nonce" {
			t.Errorf("payload %q", r.Payload)
		}
	}
}

func TestFullBufferDropsOldestEvent(t *testing.T) {
	h := runManager(t, PoolConfig{Name: "p", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 2,
		Processes: []string{"p.slow"}})
	gate, open := h.gate("slow")
	h.listener("p", "slow", "-gate", gate)
	for i := range 4 {
		h.m.RemoteCommunication("t", "r"+strconv.Itoa(i))
	}
	h.barrier()
	open(2)
	recs := h.waitRecords("p.slow", "two events", atLeast(2))
	for i, r := range recs {
		checkHeader(t, r, int64(i+2), int64(i+2), "p")
		if want := "type:t\nr" + strconv.Itoa(i+2); r.Payload != want {
			t.Errorf("record %d: %q, want %q", i, r.Payload, want)
		}
	}
	for _, serial := range []string{"serial=0", "serial=1"} {
		if !strings.Contains(h.logs.String(), "overflowed, discarding event\" pool=p "+serial) {
			t.Errorf("no overflow log line for %s", serial)
		}
	}
	open(1)
	h.m.RemoteCommunication("t", "r4")
	recs = h.waitRecords("p.slow", "the next event", atLeast(3))
	if len(recs) != 3 || recs[2].Payload != "type:t\nr4" {
		t.Fatalf("records %+v", recs)
	}
}

func TestSubscriptionIncludesSubtypes(t *testing.T) {
	h := runManager(t,
		PoolConfig{Name: "states", Events: []string{"PROCESS_STATE"}, BufferSize: 20, Processes: []string{"states.l"}},
		PoolConfig{Name: "all", Events: []string{"EVENT"}, BufferSize: 50, Processes: []string{"all.l"}})
	h.listener("states", "l")
	h.listener("all", "l")
	h.m.GroupAdded("app")
	h.m.SupervisorState(true)
	web := h.job("app", "web", map[string]string{gaffertest.HelperEnv: "sleep"}, nil)
	h.waitState(web, "RUNNING")
	h.m.RemoteCommunication("k", "v")
	webRunning := func(r record) bool {
		return r.Fields["eventname"] == "PROCESS_STATE_RUNNING" && strings.HasPrefix(r.Payload, "processname:web ")
	}
	has := func(f func(record) bool) func([]record) bool {
		return func(rs []record) bool { return slices.ContainsFunc(rs, f) }
	}
	remote := func(r record) bool { return r.Fields["eventname"] == "REMOTE_COMMUNICATION" }
	states := h.waitRecords("states.l", "web RUNNING in pool states", has(webRunning))
	all := h.waitRecords("all.l", "web RUNNING and the remote event in pool all", func(rs []record) bool {
		return has(webRunning)(rs) && has(remote)(rs)
	})
	for _, r := range states {
		if !strings.HasPrefix(r.Fields["eventname"], "PROCESS_STATE_") {
			t.Errorf("pool states got %s", r.Fields["eventname"])
		}
	}
	for _, want := range []string{
		"PROCESS_GROUP_ADDED groupname:app\n",
		"SUPERVISOR_STATE_CHANGE_RUNNING ",
		"REMOTE_COMMUNICATION type:k\nv",
	} {
		if !slices.Contains(events(all, func(record) bool { return true }), want) {
			t.Errorf("pool all did not get %q", want)
		}
	}
	// One event taken by both pools has one serial, and a pool serial in each.
	i := slices.IndexFunc(states, webRunning)
	j := slices.IndexFunc(all, webRunning)
	if states[i].Fields["serial"] != all[j].Fields["serial"] {
		t.Errorf("serials of the same event differ: %s, %s", states[i].Header, all[j].Header)
	}
	serial := func(r record) int { n, _ := strconv.Atoi(r.Fields["serial"]); return n }
	for k, r := range all {
		if r.Fields["poolserial"] != strconv.Itoa(k) || k > 0 && serial(r) <= serial(all[k-1]) {
			t.Errorf("pool all record %d: %s", k, r.Header)
		}
	}
}

func TestTick5(t *testing.T) {
	t.Parallel()
	h := runManager(t, PoolConfig{Name: "p", Events: []string{"TICK_5"}, BufferSize: 10, Processes: []string{"p.l"}})
	h.listener("p", "l")
	recs := h.waitRecords("p.l", "a TICK_5 (up to 5 s)", atLeast(1))
	r := recs[0]
	when, err := strconv.ParseInt(strings.TrimPrefix(r.Payload, "when:"), 10, 64)
	if r.Fields["eventname"] != "TICK_5" || err != nil || when%5 != 0 || time.Now().Unix()-when > 10 {
		t.Fatalf("tick %+v", r)
	}
	checkHeader(t, r, 0, 0, "p")
}

func TestProcessLogAndCommunicationEvents(t *testing.T) {
	h := runManager(t, PoolConfig{Name: "p", Events: []string{"PROCESS_LOG_STDOUT", "PROCESS_COMMUNICATION"},
		BufferSize: 20, Processes: []string{"p.l"}})
	h.listener("p", "l")
	echo := map[string]string{gaffertest.HelperEnv: "echo-stdin"}
	loud := h.job("app", "loud", echo, map[string]supervisor.LogFile{
		"stdout": {Path: filepath.Join(h.dir, "loud.log"), Events: true}})
	capt := h.job("app", "capt", echo, map[string]supervisor.LogFile{
		"stdout": {Path: filepath.Join(h.dir, "capt.log"), Events: true, CaptureMaxBytes: 1000}})
	quiet := h.job("app", "quiet", echo, map[string]supervisor.LogFile{
		"stdout": {Path: filepath.Join(h.dir, "quiet.log")}})
	ctx := context.Background()
	write := func(job, s string) {
		t.Helper()
		pids, err := h.sup.Pids(ctx, job)
		if err != nil || len(pids) != 1 {
			t.Fatalf("pids of %s: %v %v", job, pids, err)
		}
		if err := h.sup.Write(ctx, pids[0], "stdin", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	osPid := map[string]int{}
	for _, j := range []string{loud, capt, quiet} {
		h.waitState(j, "RUNNING")
		info, err := h.sup.Program(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		osPid[j] = info.Pid
	}
	write(quiet, "not an event\n")
	write(loud, "hello\n")
	write(capt, "before <!--XSUPERVISOR:BEGIN-->sec")
	// The second half goes out once the first was read: the block spans reads.
	h.waitRecords("p.l", "the output before the block", func(rs []record) bool {
		return slices.ContainsFunc(rs, func(r record) bool { return strings.HasSuffix(r.Payload, "channel:stdout\nbefore ") })
	})
	write(capt, "ret<!--XSUPERVISOR:END--> after, and enough output to pass a token's length\n")
	want := []string{
		fmt.Sprintf("PROCESS_LOG_STDOUT processname:loud groupname:app pid:%d channel:stdout\nhello\n", osPid[loud]),
		fmt.Sprintf("PROCESS_COMMUNICATION_STDOUT processname:capt groupname:app pid:%d\nsecret", osPid[capt]),
	}
	var got []string
	recs := h.waitRecords("p.l", "the log and communication events", func(rs []record) bool {
		got = events(rs, func(record) bool { return true })
		return slices.Contains(got, want[0]) && slices.Contains(got, want[1])
	})
	for _, e := range got {
		if strings.Contains(e, "not an event") || strings.HasPrefix(e, "PROCESS_LOG") && strings.Contains(e, "secret") {
			t.Errorf("unexpected event %q", e)
		}
	}
	// supervisord writes a block to the capture log, not to the log file.
	gaffertest.Eventually(t, wait, "the output after the block in the log", func() bool {
		b, _ := os.ReadFile(filepath.Join(h.dir, "capt.log"))
		return strings.Contains(string(b), "pass a token's length\n")
	})
	if b, _ := os.ReadFile(filepath.Join(h.dir, "capt.log")); string(b) !=
		"before  after, and enough output to pass a token's length\n" {
		t.Errorf("capt.log = %q, want the output without the block", b)
	}
	for i, r := range recs {
		checkHeader(t, r, int64(i), int64(i), "p")
	}
}

func TestUnknownListenerIsSkipped(t *testing.T) {
	h := runManager(t, PoolConfig{Name: "p", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10,
		Processes: []string{"p.bad", "p.good"}})
	gate, open := h.gate("good")
	h.listener("p", "bad", "-bad-result")
	h.listener("p", "good", "-gate", gate)
	h.m.RemoteCommunication("t", "r0")
	h.waitRecords("p.bad", "the event at the first listener", atLeast(1))
	gaffertest.Eventually(t, wait, "the first listener in UNKNOWN", func() bool {
		return strings.Contains(h.logs.String(), "UNKNOWN")
	})
	open(2)
	h.waitRecords("p.good", "the event again, at the second listener", atLeast(1))
	h.m.RemoteCommunication("t", "r1")
	recs := h.waitRecords("p.good", "the next event at the second listener", atLeast(2))
	for i, r := range recs {
		checkHeader(t, r, int64(i), int64(i), "p")
	}
	if bad := readRecords(t, h.out("p.bad")); len(bad) != 1 {
		t.Errorf("UNKNOWN listener got %d events", len(bad))
	}
}

func TestPoolAddedAtRuntime(t *testing.T) {
	h := runManager(t)
	h.m.SetPools([]PoolConfig{{Name: "late", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10,
		Processes: []string{"late.l"}}})
	h.listener("late", "l")
	h.m.RemoteCommunication("t", "hi")
	recs := h.waitRecords("late.l", "an event in the added pool", atLeast(1))
	checkHeader(t, recs[0], 0, 0, "late")
	h.m.SetPools(nil)
	h.m.RemoteCommunication("t", "nobody")
	var pools int
	h.inLoop(func() { pools = len(h.m.pools) })
	if pools != 0 {
		t.Fatal("pool still there")
	}
}
