package eventlistener

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// Options configure a Manager.
type Options struct {
	// Identifier is supervisord's identifier, sent in the "server:" token of
	// every event header; "supervisor" when empty.
	Identifier string
	// Logger receives overflow, rejection and protocol messages;
	// slog.Default() when nil.
	Logger *slog.Logger
}

// PoolConfig is one [eventlistener:x] pool. Its listener processes are
// ordinary supervisor programs (jobs with a Program, loaded by gafferd from
// the config), named by full job name.
type PoolConfig struct {
	Name       string
	Events     []string // event type names, e.g. "PROCESS_STATE", "TICK_60"; abstract ones subscribe to subtypes
	BufferSize int      // buffer_size; 10 when 0
	Processes  []string // full job names of the listeners, in config order (dispatch order)
}

func (c PoolConfig) equal(o PoolConfig) bool {
	return c.Name == o.Name && c.BufferSize == o.BufferSize &&
		slices.Equal(c.Events, o.Events) && slices.Equal(c.Processes, o.Processes)
}

func (c PoolConfig) clone() PoolConfig {
	c.Events = slices.Clone(c.Events)
	c.Processes = slices.Clone(c.Processes)
	return c
}

const (
	// coreQueue and outputQueue size the subscriptions to the core. They
	// drop their oldest entries when full; a loss is logged (see doc.go).
	coreQueue   = 4096
	outputQueue = 4096
	// maxInbox bounds requests queued by callers before the loop takes them.
	maxInbox = 4096
)

// Manager runs supervisor's event listener pools on top of a Supervisor:
// it turns core events into supervisor events, buffers them per pool and
// feeds them to the pools' listener processes over their stdin, reading
// their answers from their stdout. See the package documentation for its
// concurrency contract.
type Manager struct {
	sup    *supervisor.Supervisor // immutable after New
	log    *slog.Logger           // immutable after New
	server string                 // immutable after New
	core   *supervisor.Sub        // state, spawn, exit, unload events; immutable after New

	// output is the subscription to all process output, created by New or
	// SetPools (under mu) once there is a pool, read by run.
	output atomic.Pointer[supervisor.Sub]

	mu      sync.Mutex
	inbox   []func() // requests for run, in call order; guarded by mu
	started bool     // Run was called; guarded by mu
	stopped bool     // Run returned: requests are dropped; guarded by mu
	wake    chan struct{}

	// Owned by run (set up by New before Run starts).
	ctx        context.Context
	pools      []*pool
	listeners  map[string]*listener // by full job name
	streams    map[string]*stream   // output bookkeeping of programs, by full job name
	serial     int64                // last global serial given; -1 = none yet
	wantOutput bool                 // some pool takes PROCESS_LOG_* or PROCESS_COMMUNICATION_*
	tickOn     map[string]bool      // TICK types some pool takes
	lastTick   map[string]int64     // per TICK type, the period start last seen
	timer      *time.Timer          // the one tick timer; armed only while tickOn is not empty
	timerAt    time.Time
	coreLost   uint64 // drops already reported
	outputLost uint64
}

// New returns a manager for pools. It subscribes to the supervisor at once,
// so that events of jobs loaded after New returns are not missed even if Run
// starts later; call Run promptly.
func New(sup *supervisor.Supervisor, pools []PoolConfig, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Identifier == "" {
		opts.Identifier = "supervisor"
	}
	m := &Manager{
		sup:       sup,
		log:       opts.Logger,
		server:    opts.Identifier,
		core:      sup.Subscribe(coreQueue, supervisor.DropOldest, "state", "spawn", "exit", "unload"),
		wake:      make(chan struct{}, 1),
		ctx:       context.Background(),
		listeners: map[string]*listener{},
		streams:   map[string]*stream{},
		serial:    -1,
		tickOn:    map[string]bool{},
		lastTick:  map[string]int64{},
		timer:     time.NewTimer(time.Hour),
	}
	m.timer.Stop()
	now := time.Now()
	for _, t := range ticks {
		m.lastTick[t.typ] = timeslice(t.period, now)
	}
	pools = clonePools(pools)
	if len(pools) > 0 {
		m.ensureOutput()
	}
	m.setPools(pools)
	return m
}

func clonePools(pools []PoolConfig) []PoolConfig {
	out := make([]PoolConfig, 0, len(pools))
	for _, p := range pools {
		out = append(out, p.clone())
	}
	return out
}

// ensureOutput subscribes to process output the first time a pool exists.
// It runs in the caller of New or SetPools, before the jobs of the pool are
// loaded, so a listener's first "READY" is never missed. The subscription
// stays until Run returns.
func (m *Manager) ensureOutput() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped || m.output.Load() != nil {
		return
	}
	m.output.Store(m.sup.SubscribeOutput(outputQueue, supervisor.DropOldest, "."))
}

// ErrAlreadyRunning is returned by a second call to Run.
var ErrAlreadyRunning = errors.New("eventlistener: Run called twice")

// Run dispatches events until ctx is done. It returns nil then, having
// unsubscribed from the supervisor; events still buffered are dropped, as
// supervisord drops them when it exits.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return ErrAlreadyRunning
	}
	m.started = true
	m.mu.Unlock()
	m.ctx = ctx
	defer m.shutdown()
	coreC := m.core.C()
	for {
		m.armTimer()
		var outC <-chan supervisor.Event
		if s := m.output.Load(); s != nil {
			outC = s.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
			m.applyInbox()
		case e, ok := <-coreC:
			// Requests made before the action that caused an event come
			// first (a pool added before its listeners were loaded).
			m.applyInbox()
			if !ok {
				m.log.Error("eventlistener: core event subscription closed")
				coreC = nil
				continue
			}
			m.checkLost()
			m.onCore(e)
		case e, ok := <-outC:
			m.applyInbox()
			if !ok {
				m.log.Error("eventlistener: output subscription closed")
				m.output.Store(nil)
				continue
			}
			m.checkLost()
			m.onOutput(e)
		case now := <-m.timer.C:
			m.timerAt = time.Time{}
			m.applyInbox()
			m.onTick(now)
		}
		m.dispatch()
	}
}

func (m *Manager) shutdown() {
	m.mu.Lock()
	m.stopped = true
	m.inbox = nil
	out := m.output.Swap(nil)
	m.mu.Unlock()
	if out != nil {
		out.Close()
	}
	m.core.Close()
	m.timer.Stop()
}

// enqueue hands fn to the loop without blocking; before Run starts it
// waits in the inbox, after Run returns it is dropped.
func (m *Manager) enqueue(fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	if len(m.inbox) >= maxInbox {
		m.log.Error("eventlistener: request queue full; dropping a request")
		return
	}
	m.inbox = append(m.inbox, fn)
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) applyInbox() {
	m.mu.Lock()
	fns := m.inbox
	m.inbox = nil
	m.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// checkLost reports events the bus dropped because this loop fell behind.
func (m *Manager) checkLost() {
	if d := m.core.Dropped(); d != m.coreLost {
		m.log.Error("eventlistener: core events lost (queue overflow); listener states may be stale",
			"lost", d-m.coreLost)
		m.coreLost = d
	}
	if s := m.output.Load(); s != nil {
		if d := s.Dropped(); d != m.outputLost {
			m.log.Error("eventlistener: process output lost (queue overflow); listener protocol or log events may be incomplete",
				"lost", d-m.outputLost)
			m.outputLost = d
		}
	}
}

// ---- gafferd-level events ----------------------------------------------

// SupervisorState emits SUPERVISOR_STATE_CHANGE_RUNNING (running) or
// SUPERVISOR_STATE_CHANGE_STOPPING. It never blocks.
func (m *Manager) SupervisorState(running bool) {
	typ := "SUPERVISOR_STATE_CHANGE_STOPPING"
	if running {
		typ = "SUPERVISOR_STATE_CHANGE_RUNNING"
	}
	m.enqueue(func() { m.notify(typ, nil) })
}

// GroupAdded emits PROCESS_GROUP_ADDED. It never blocks.
func (m *Manager) GroupAdded(name string) {
	m.enqueue(func() { m.notify("PROCESS_GROUP_ADDED", []byte("groupname:"+name+"\n")) })
}

// GroupRemoved emits PROCESS_GROUP_REMOVED. It never blocks.
func (m *Manager) GroupRemoved(name string) {
	m.enqueue(func() { m.notify("PROCESS_GROUP_REMOVED", []byte("groupname:"+name+"\n")) })
}

// RemoteCommunication emits REMOTE_COMMUNICATION (XML-RPC
// supervisor.sendRemoteCommEvent). It never blocks.
func (m *Manager) RemoteCommunication(typ, data string) {
	m.enqueue(func() { m.notify("REMOTE_COMMUNICATION", []byte("type:"+typ+"\n"+data)) })
}

// SetPools replaces the pool set (reload). A pool whose config is unchanged
// keeps its buffer, serials and listeners; a changed pool starts afresh, as
// supervisord re-creates a changed group; a removed pool's buffered events
// are dropped. A listener process that stays in some pool keeps its
// protocol state. Call it before loading the new pools' listener jobs. It
// never blocks.
func (m *Manager) SetPools(pools []PoolConfig) {
	pools = clonePools(pools)
	if len(pools) > 0 {
		m.ensureOutput()
	}
	m.enqueue(func() { m.setPools(pools) })
}

// ---- pools ---------------------------------------------------------------

// pool is one listener pool: its buffer and serial. Owned by run.
type pool struct {
	cfg       PoolConfig
	subs      []string // subscribed types (valid, upper case, without repeats)
	size      int
	buf       []*entry // FIFO, oldest first
	serial    int64    // last poolserial given; -1 = none yet
	listeners []*listener
}

// entry is an event as buffered by one pool. A re-buffered entry keeps both
// serials.
type entry struct {
	ev         *event
	poolSerial int64
}

func (p *pool) takes(typ string) bool {
	for _, s := range p.subs {
		if isA(typ, s) {
			return true
		}
	}
	return false
}

// setPools applies a pool set. Called by New (before Run) and by run.
func (m *Manager) setPools(cfgs []PoolConfig) {
	old := map[string]*pool{}
	for _, p := range m.pools {
		old[p.cfg.Name] = p
	}
	var next []*pool
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Name] {
			m.log.Error("eventlistener: duplicate pool ignored", "pool", c.Name)
			continue
		}
		seen[c.Name] = true
		if p := old[c.Name]; p != nil && p.cfg.equal(c) {
			next = append(next, p)
			delete(old, c.Name)
			continue
		}
		next = append(next, m.newPool(c))
	}
	for name, p := range old {
		if len(p.buf) > 0 {
			m.log.Warn("eventlistener: pool removed or changed; dropping its buffered events",
				"pool", name, "events", len(p.buf))
		}
	}
	m.pools = next

	listeners := map[string]*listener{}
	for _, p := range m.pools {
		p.listeners = p.listeners[:0]
		for _, name := range p.cfg.Processes {
			if listeners[name] != nil {
				m.log.Error("eventlistener: process listed in two pools; kept in the first", "process", name, "pool", p.cfg.Name)
				continue
			}
			l := m.listeners[name]
			if l == nil {
				l = &listener{name: name, proto: newProtocol()}
			}
			l.pool = p
			listeners[name] = l
			p.listeners = append(p.listeners, l)
		}
	}
	for name, l := range m.listeners {
		if listeners[name] == nil && l.event != nil {
			m.log.Warn("eventlistener: listener removed while busy; its event is dropped",
				"process", name, "serial", l.event.ev.serial)
		}
	}
	m.listeners = listeners

	m.wantOutput = false
	now := time.Now()
	tickOn := map[string]bool{}
	for _, p := range m.pools {
		for _, t := range []string{"PROCESS_LOG_STDOUT", "PROCESS_LOG_STDERR",
			"PROCESS_COMMUNICATION_STDOUT", "PROCESS_COMMUNICATION_STDERR"} {
			m.wantOutput = m.wantOutput || p.takes(t)
		}
		for _, t := range ticks {
			if p.takes(t.typ) {
				tickOn[t.typ] = true
			}
		}
	}
	for _, t := range ticks {
		if tickOn[t.typ] && !m.tickOn[t.typ] {
			// First crossing counts from now, not from a stale period.
			m.lastTick[t.typ] = timeslice(t.period, now)
		}
	}
	m.tickOn = tickOn
}

func (m *Manager) newPool(c PoolConfig) *pool {
	p := &pool{cfg: c, size: c.BufferSize, serial: -1}
	if p.size <= 0 {
		p.size = 10
	}
	for _, ev := range c.Events {
		ev = strings.ToUpper(strings.TrimSpace(ev))
		if !IsEventType(ev) {
			m.log.Error("eventlistener: unknown event type ignored", "pool", c.Name, "event", ev)
			continue
		}
		if !slices.Contains(p.subs, ev) {
			p.subs = append(p.subs, ev)
		}
	}
	return p
}

// notify offers an event to every pool that takes its type. The global
// serial is given when the first pool accepts it.
func (m *Manager) notify(typ string, payload []byte) {
	ev := &event{serial: -1, typ: typ, payload: payload}
	for _, p := range m.pools {
		if !p.takes(typ) {
			continue
		}
		if ev.serial < 0 {
			m.serial++
			ev.serial = m.serial
		}
		p.serial++
		m.accept(p, &entry{ev: ev, poolSerial: p.serial}, false)
	}
}

// accept buffers an entry at the tail, or at the head when it is sent again;
// a full buffer first loses its oldest entry (supervisor's _acceptEvent).
func (m *Manager) accept(p *pool, e *entry, head bool) {
	if len(p.buf) >= p.size && len(p.buf) > 0 {
		old := p.buf[0]
		p.buf = p.buf[1:]
		m.log.Error("eventlistener: pool event buffer overflowed, discarding event",
			"pool", p.cfg.Name, "serial", old.ev.serial, "eventname", old.ev.typ)
	}
	if head {
		p.buf = slices.Insert(p.buf, 0, e)
	} else {
		p.buf = append(p.buf, e)
	}
}

// dispatch sends buffered events, oldest first, to the first listener of
// each pool (config order) that is RUNNING and READY, until none is left.
func (m *Manager) dispatch() {
	for _, p := range m.pools {
		for len(p.buf) > 0 && m.send(p, p.buf[0]) {
			p.buf[0] = nil
			p.buf = p.buf[1:]
		}
		if len(p.buf) == 0 {
			p.buf = nil
		}
	}
}

func (m *Manager) send(p *pool, e *entry) bool {
	for _, l := range p.listeners {
		if !l.ready() {
			continue
		}
		data := envelope(m.server, p.cfg.Name, e.ev.serial, e.poolSerial, e.ev.typ, e.ev.payload)
		if err := m.sup.Write(m.ctx, l.pid, "stdin", data); err != nil {
			// supervisor skips a listener whose stdin write fails (EPIPE)
			// and leaves its state alone; its exit will follow. An error
			// that lasts as long as the process stops further attempts.
			m.log.Debug("eventlistener: cannot write event to listener", "process", l.name,
				"serial", e.ev.serial, "err", err)
			if errors.Is(err, supervisor.ErrNotFound) || errors.Is(err, supervisor.ErrStdinClosed) ||
				errors.Is(err, supervisor.ErrProcessFinished) {
				l.unwritable = true
			}
			continue
		}
		l.proto.sent()
		l.event = e
		m.log.Debug("eventlistener: event sent", "process", l.name, "serial", e.ev.serial, "eventname", e.ev.typ)
		return true
	}
	return false
}

// ---- listeners -----------------------------------------------------------

// listener is one listener process slot (a job); each process started for
// it is an instance with its own internal pid and protocol state. Owned by
// run.
type listener struct {
	name       string
	pool       *pool
	pid        int  // internal pid of the newest instance seen; 0 = none
	exited     bool // the instance pid has exited
	runningPid int  // pid whose program state is RUNNING; 0 = not RUNNING
	unwritable bool // writing to the instance's stdin failed for good
	proto      protocol
	event      *entry // in flight while BUSY
}

func (l *listener) ready() bool {
	return l.pid != 0 && !l.exited && !l.unwritable && l.runningPid == l.pid && l.proto.state == listenerReady
}

// newInstance starts tracking a new process of l. Events and output of the
// core reach us on two queues, so a new process may show up first by its
// output, its spawn or its RUNNING state: whichever comes first starts it,
// and internal pids only grow, so older ones are recognised as stale.
func (m *Manager) newInstance(l *listener, pid int) {
	if l.event != nil {
		m.requeue(l, "listener replaced while busy")
	}
	l.pid, l.exited, l.unwritable, l.proto = pid, false, false, newProtocol()
}

// requeue puts the event in flight back at the head of its pool's buffer.
func (m *Manager) requeue(l *listener, why string) {
	e := l.event
	l.event = nil
	m.log.Warn("eventlistener: event will be sent again", "process", l.name, "serial", e.ev.serial,
		"eventname", e.ev.typ, "reason", why)
	m.accept(l.pool, e, true)
}

func (m *Manager) onCore(e supervisor.Event) {
	l := m.listeners[e.Name]
	switch e.Type {
	case "state":
		if l != nil {
			if e.Pid > l.pid {
				m.newInstance(l, e.Pid)
			}
			if e.To == "RUNNING" {
				l.runningPid = e.Pid
			} else {
				l.runningPid = 0
			}
		}
		if typ, payload, ok := stateEvent(e); ok {
			m.notify(typ, payload)
		}
	case "spawn":
		if l != nil && e.Pid > l.pid {
			m.newInstance(l, e.Pid)
		}
	case "exit":
		if l == nil || e.Pid < l.pid {
			return
		}
		if e.Pid > l.pid {
			m.newInstance(l, e.Pid)
		}
		// The result may already be queued on the output side: read what
		// is there before deciding the event was lost (supervisor drains
		// a process's pipes before handling its exit).
		m.drainOutput()
		if l.pid != e.Pid {
			return // the output read meanwhile came from its successor
		}
		l.exited = true
		if l.event != nil {
			m.requeue(l, "listener exited while busy")
		}
	case "unload":
		delete(m.streams, e.Name)
	}
}

// drainOutput handles the output events already queued, without waiting.
func (m *Manager) drainOutput() {
	s := m.output.Load()
	if s == nil {
		return
	}
	for range outputQueue {
		select {
		case e, ok := <-s.C():
			if !ok {
				return
			}
			m.onOutput(e)
		default:
			return
		}
	}
}

func (m *Manager) onOutput(e supervisor.Event) {
	if l := m.listeners[e.Name]; l != nil && e.Label == "stdout" {
		m.onListenerOutput(l, e)
		return
	}
	if m.wantOutput {
		m.onProgramOutput(e)
	}
}

func (m *Manager) onListenerOutput(l *listener, e supervisor.Event) {
	switch {
	case e.Pid < l.pid:
		return // an earlier process's last words
	case e.Pid > l.pid:
		m.newInstance(l, e.Pid)
	}
	was := l.proto.state
	out := l.proto.feed(e.Data)
	switch {
	case out == noOutcome:
	case l.event == nil:
		// Its event was already given up (its exit was seen first).
	case out == processed:
		m.log.Debug("eventlistener: event processed", "process", l.name, "serial", l.event.ev.serial)
		l.event = nil
	case out == rejected:
		m.requeue(l, "rejected by listener (result "+strconv.Quote(l.proto.lastResult())+")")
	case out == broken:
		m.requeue(l, "bad result from listener")
	}
	if l.proto.state == listenerUnknown && was != listenerUnknown {
		m.log.Warn("eventlistener: listener in UNKNOWN state; it gets no events until restarted",
			"process", l.name, "reason", l.proto.reason)
	}
}

// ---- program output: PROCESS_LOG and PROCESS_COMMUNICATION ---------------

// stream is what the loop knows about a program's output: its log settings
// for its latest process.
type stream struct {
	pid            int
	process, group string
	logs           map[string]supervisor.LogFile
}

// onProgramOutput turns a program's output into PROCESS_LOG_* (ordinary
// output, with stdout_events_enabled) and its captured blocks (events of
// Kind "comm", split off by the core in capture mode) into
// PROCESS_COMMUNICATION_*.
func (m *Manager) onProgramOutput(e supervisor.Event) {
	if e.Label != "stdout" && e.Label != "stderr" {
		return // only supervisor programs' channels have log events
	}
	s := m.streams[e.Name]
	if s == nil || e.Pid > s.pid {
		s = &stream{pid: e.Pid}
		if info, err := m.sup.Program(m.ctx, e.Name); err == nil {
			s.process, s.group, s.logs = info.Name, info.Group, info.Config.Logs
		}
		m.streams[e.Name] = s
	}
	upper := strings.ToUpper(e.Label)
	switch e.Kind {
	case "comm":
		m.notify("PROCESS_COMMUNICATION_"+upper, outputPayload(s.process, s.group, e.OSPid, "", e.Data))
	case "output":
		if s.logs[e.Label].Events {
			m.notify("PROCESS_LOG_"+upper, outputPayload(s.process, s.group, e.OSPid, e.Label, e.Data))
		}
	}
}

// ---- TICK ----------------------------------------------------------------

// armTimer arms the one timer for the next period boundary of a TICK type
// some pool takes, or none: without such a pool the manager never wakes up
// by itself.
func (m *Manager) armTimer() {
	var next time.Time
	if len(m.tickOn) > 0 {
		now := time.Now()
		for _, t := range ticks {
			if m.tickOn[t.typ] {
				b := time.Unix(timeslice(t.period, now)+t.period, 0)
				if next.IsZero() || b.Before(next) {
					next = b
				}
			}
		}
	}
	if next.Equal(m.timerAt) {
		return
	}
	m.timer.Stop()
	m.timerAt = next
	if !next.IsZero() {
		m.timer.Reset(time.Until(next))
	}
}

// onTick emits TICK_<period> for each period boundary crossed since the last
// look, with when: the start of the period just entered.
func (m *Manager) onTick(now time.Time) {
	for _, t := range ticks {
		slice := timeslice(t.period, now)
		if slice == m.lastTick[t.typ] {
			continue
		}
		m.lastTick[t.typ] = slice
		if m.tickOn[t.typ] {
			m.notify(t.typ, []byte("when:"+strconv.FormatInt(slice, 10)))
		}
	}
}
