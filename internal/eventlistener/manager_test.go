package eventlistener

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

const wait = 15 * time.Second

// syncBuffer collects log output from the manager's goroutine.
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

// startSupervisor runs a supervisor for the test and stops it, and every
// process it started, at cleanup.
func startSupervisor(t *testing.T) *supervisor.Supervisor {
	t.Helper()
	sup := supervisor.New(supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	t.Cleanup(func() {
		cancel()
		select {
		case <-sup.Done():
		case <-time.After(30 * time.Second):
			t.Error("supervisor did not stop")
		}
	})
	return sup
}

// newManager returns a manager that is not running: the test goroutine is
// its loop and may call its handlers directly.
func newManager(t *testing.T, sup *supervisor.Supervisor, pools ...PoolConfig) (*Manager, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	m := New(sup, pools, Options{Identifier: "testid",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(m.shutdown)
	return m, logs
}

func (m *Manager) pool(name string) *pool {
	for _, p := range m.pools {
		if p.cfg.Name == name {
			return p
		}
	}
	return nil
}

// buffered lists a pool's buffer as "serial/poolserial:TYPE" words.
func buffered(p *pool) string {
	var w []string
	for _, e := range p.buf {
		w = append(w, strings.Join([]string{itoa(e.ev.serial) + "/" + itoa(e.poolSerial), e.ev.typ}, ":"))
	}
	return strings.Join(w, " ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSerialIsGlobalPoolSerialPerPool(t *testing.T) {
	m, _ := newManager(t, startSupervisor(t),
		PoolConfig{Name: "a", Events: []string{"PROCESS_GROUP"}, BufferSize: 10},
		PoolConfig{Name: "b", Events: []string{"REMOTE_COMMUNICATION", "PROCESS_GROUP_ADDED"}, BufferSize: 10})
	m.notify("PROCESS_GROUP_ADDED", []byte("groupname:x\n")) // both: serial 0
	m.notify("TICK_5", []byte("when:5"))                     // nobody: no serial
	m.notify("REMOTE_COMMUNICATION", nil)                    // b: serial 1
	m.notify("PROCESS_GROUP_REMOVED", nil)                   // a: serial 2
	if got, want := buffered(m.pool("a")), "0/0:PROCESS_GROUP_ADDED 2/1:PROCESS_GROUP_REMOVED"; got != want {
		t.Errorf("pool a: %s, want %s", got, want)
	}
	if got, want := buffered(m.pool("b")), "0/0:PROCESS_GROUP_ADDED 1/1:REMOTE_COMMUNICATION"; got != want {
		t.Errorf("pool b: %s, want %s", got, want)
	}
	if m.pool("a").buf[0].ev != m.pool("b").buf[0].ev {
		t.Error("one event accepted by two pools is not shared")
	}
}

func TestFullBufferDropsOldestAndRequeueGoesToHead(t *testing.T) {
	m, logs := newManager(t, startSupervisor(t),
		PoolConfig{Name: "p", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 2})
	p := m.pool("p")
	for range 3 {
		m.notify("REMOTE_COMMUNICATION", nil)
	}
	if got := buffered(p); got != "1/1:REMOTE_COMMUNICATION 2/2:REMOTE_COMMUNICATION" {
		t.Fatalf("buffer %s", got)
	}
	if !strings.Contains(logs.String(), "overflowed") || !strings.Contains(logs.String(), "serial=0") {
		t.Fatalf("no overflow log line naming serial 0:\n%s", logs)
	}
	// An event sent again goes to the head, and a full buffer still loses
	// its oldest entry for it (supervisor's _acceptEvent).
	l := &listener{name: "p.l", pool: p, event: &entry{ev: &event{serial: 9, typ: "REMOTE_COMMUNICATION"}, poolSerial: 9}}
	m.requeue(l, "test")
	if got := buffered(p); got != "9/9:REMOTE_COMMUNICATION 2/2:REMOTE_COMMUNICATION" {
		t.Fatalf("after requeue: %s", got)
	}
}

func TestListenerInstanceFollowsNewestPid(t *testing.T) {
	m, _ := newManager(t, startSupervisor(t),
		PoolConfig{Name: "p", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10, Processes: []string{"p.l"}})
	l := m.listeners["p.l"]
	out := func(pid int, s string) {
		m.onOutput(supervisor.Event{Type: itoa(int64(pid)) + ".stdout", Name: "p.l", Pid: pid, Label: "stdout", Data: []byte(s)})
	}
	// Output of process 5 before its spawn event: it starts the instance.
	out(5, "READY\n")
	m.onCore(supervisor.Event{Type: "spawn", Name: "p.l", Pid: 5})
	m.onCore(supervisor.Event{Type: "state", Name: "p.l", Pid: 5, To: "RUNNING", From: "STARTING"})
	if l.pid != 5 || !l.ready() {
		t.Fatalf("instance %d ready %v (state %v, running pid %d)", l.pid, l.ready(), l.proto.state, l.runningPid)
	}
	// Pretend an event was sent, then the process dies while BUSY.
	m.notify("REMOTE_COMMUNICATION", []byte("type:t\nx"))
	e := m.pool("p").buf[0]
	m.pool("p").buf = nil
	l.proto.sent()
	l.event = e
	out(5, "RESULT 2\n")
	m.onCore(supervisor.Event{Type: "exit", Name: "p.l", Pid: 5})
	if l.event != nil || len(m.pool("p").buf) != 1 || m.pool("p").buf[0] != e {
		t.Fatalf("event of a dead BUSY listener not back at the head: %s", buffered(m.pool("p")))
	}
	out(5, "OK") // its last words arrive late: ignored
	m.onCore(supervisor.Event{Type: "state", Name: "p.l", Pid: 5, To: "EXITED", From: "RUNNING"})
	if l.ready() {
		t.Fatal("dead listener is ready")
	}
	// The restarted process starts ACKNOWLEDGED.
	m.onCore(supervisor.Event{Type: "state", Name: "p.l", To: "STARTING", From: "EXITED"})
	m.onCore(supervisor.Event{Type: "spawn", Name: "p.l", Pid: 6})
	if l.pid != 6 || l.exited || l.proto.state != listenerAcknowledged {
		t.Fatalf("new instance: pid %d exited %v state %v", l.pid, l.exited, l.proto.state)
	}
	out(5, "READY\n") // stale
	if l.proto.state != listenerAcknowledged {
		t.Fatal("output of the old process changed the new one's state")
	}
}

func TestLogAndCommunicationEventsFollowJobConfig(t *testing.T) {
	sup := startSupervisor(t)
	dir := t.TempDir()
	ctx := context.Background()
	job := func(name string, lf supervisor.LogFile) {
		cfg := supervisor.NewJobConfig(name, gaffertest.Self(t)) // never started
		cfg.Program = supervisor.DefaultProgram("app")
		cfg.RedirectOutput = []string{"stdout", "stderr"}
		lf.Path = dir + "/" + name + ".log"
		cfg.Logs = map[string]supervisor.LogFile{"stdout": lf}
		if err := sup.Load(ctx, "app", cfg, false); err != nil {
			t.Fatal(err)
		}
	}
	job("loud", supervisor.LogFile{Events: true})
	job("quiet", supervisor.LogFile{})
	job("capt", supervisor.LogFile{CaptureMaxBytes: 100})
	m, _ := newManager(t, sup, PoolConfig{Name: "p", Events: []string{"PROCESS_LOG", "PROCESS_COMMUNICATION"}, BufferSize: 10})
	// The core splits capture blocks off the output: "comm" events.
	out := func(kind, name string, pid int, label, s string) {
		m.onOutput(supervisor.Event{Type: itoa(int64(pid)) + "." + label, Kind: kind, Name: name, Pid: pid,
			OSPid: 1000 + pid, Label: label, Data: []byte(s)})
	}
	out("output", "app.loud", 1, "stdout", "hello\n")
	out("output", "app.loud", 1, "stderr", "no log config for stderr\n")
	out("output", "app.quiet", 2, "stdout", "hello\n")
	out("output", "app.capt", 3, "stdout", "x")
	out("comm", "app.capt", 3, "stdout", "secret")
	out("output", "app.capt", 3, "stdout", "and now the usual output\n")
	out("output", "default.gafferjob", 4, "stdout", "not a program\n")
	var got []string
	for _, e := range m.pool("p").buf {
		got = append(got, e.ev.typ+" "+string(e.ev.payload))
	}
	want := []string{
		"PROCESS_LOG_STDOUT processname:loud groupname:app pid:1001 channel:stdout\nhello\n",
		"PROCESS_COMMUNICATION_STDOUT processname:capt groupname:app pid:1003\nsecret",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
}

func TestTickTimerOnlyWhileSubscribed(t *testing.T) {
	sup := startSupervisor(t)
	m, _ := newManager(t, sup, PoolConfig{Name: "p", Events: []string{"PROCESS_STATE"}, BufferSize: 10})
	m.armTimer()
	if !m.timerAt.IsZero() {
		t.Fatalf("timer armed for %v without a TICK subscription", m.timerAt)
	}
	m.setPools([]PoolConfig{{Name: "p", Events: []string{"TICK_60"}, BufferSize: 10}})
	m.armTimer()
	if m.timerAt.IsZero() || m.timerAt.Unix()%60 != 0 || time.Until(m.timerAt) > time.Minute {
		t.Fatalf("timer at %v, want the next minute", m.timerAt)
	}
	m.setPools(nil)
	m.armTimer()
	if !m.timerAt.IsZero() {
		t.Fatal("timer still armed after the pool went")
	}
}

func TestTickOnPeriodBoundary(t *testing.T) {
	m, _ := newManager(t, startSupervisor(t), PoolConfig{Name: "p", Events: []string{"TICK"}, BufferSize: 10})
	for _, t := range ticks {
		m.lastTick[t.typ] = timeslice(t.period, time.Unix(3599, 0))
	}
	m.onTick(time.Unix(3599, 900)) // no boundary crossed
	m.onTick(time.Unix(3600, 1))   // all three
	m.onTick(time.Unix(3604, 0))   // none
	m.onTick(time.Unix(3611, 0))   // 5 s only, once though two periods passed
	var got []string
	for _, e := range m.pool("p").buf {
		got = append(got, e.ev.typ+" "+string(e.ev.payload))
	}
	want := "TICK_5 when:3600|TICK_60 when:3600|TICK_3600 when:3600|TICK_5 when:3610"
	if strings.Join(got, "|") != want {
		t.Fatalf("ticks %q, want %q", got, want)
	}
}

func TestSetPoolsKeepsUnchangedPools(t *testing.T) {
	a := PoolConfig{Name: "a", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10, Processes: []string{"a.l"}}
	b := PoolConfig{Name: "b", Events: []string{"REMOTE_COMMUNICATION"}, BufferSize: 10}
	m, _ := newManager(t, startSupervisor(t), a, b)
	m.notify("REMOTE_COMMUNICATION", nil)
	la := m.listeners["a.l"]
	la.proto.feed([]byte("READY\n"))
	b2 := b
	b2.BufferSize = 5
	m.setPools([]PoolConfig{a, b2, {Name: "c", Events: []string{"TICK_5"}}})
	if len(m.pools) != 3 || len(m.pool("a").buf) != 1 || len(m.pool("b").buf) != 0 || m.pool("c").size != 10 {
		t.Fatalf("pools after reload: a %d b %d", len(m.pool("a").buf), len(m.pool("b").buf))
	}
	if m.listeners["a.l"] != la || la.proto.state != listenerReady {
		t.Fatal("listener of an unchanged pool lost its state")
	}
	m.setPools(nil)
	if len(m.pools) != 0 || len(m.listeners) != 0 {
		t.Fatal("pools remain")
	}
}
