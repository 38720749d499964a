package supervisor

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/logs"
	"github.com/gafferhq/gaffer/internal/proc"
)

// Event is one thing the supervisor did; see Subscribe.
type Event = events.Event

// Sub is a subscription to events or output.
type Sub = events.Sub

// Overflow policies for subscriptions.
const (
	DropOldest = events.DropOldest
	CloseSub   = events.CloseSub
)

// Options configure a Supervisor. The zero value is usable.
type Options struct {
	// ReapAll makes the supervisor the child subreaper of everything below it
	// and reap any pid (wait4(-1)), as gafferd does. Leave it off when the
	// embedding program starts other children of its own (tests, libraries):
	// then only the supervisor's own pids are reaped.
	ReapAll bool
	// Logger receives operational messages; slog.Default() when nil.
	Logger *slog.Logger
	// TailSize is the bytes of output kept in memory per stream (64 KiB when 0).
	TailSize int
	// OutputSinks, when set, returns extra writers for a process's stream
	// (log files). Called from the loop at spawn; the writers are used by the
	// stream's pump goroutine only, and never closed by the supervisor.
	OutputSinks func(job string, pid int, label string) []io.Writer
	// Identifier names this supervisor in AUTO log file names and event
	// listener headers (supervisord's identifier; "supervisor" when empty).
	Identifier string
	// NotifySocket is the path of the sd_notify socket opened when a job
	// has a notify readiness probe; a file in os.TempDir() unique to this
	// supervisor when empty.
	NotifySocket string
	// Observer, when set, receives spawn, exit and reap measurements (metrics).
	Observer Observer
}

// Supervisor keeps jobs' processes alive. All its state is owned by one
// goroutine (Run); every method sends a request to it and waits for the
// answer or the caller's context.
type Supervisor struct {
	opts   Options
	log    *slog.Logger
	reqs   chan func()
	events *events.Bus
	output *events.Bus
	done   chan struct{}
	start  chan struct{} // closed when Run starts

	// Owned by run.
	sessions        map[string]*session
	sessionSeq      []string
	procs           map[int]*process // every child not yet reaped, by internal id
	byOS            map[int]*process
	nextID          int
	shutting        bool
	timer           *time.Timer
	timerAt         time.Time
	pending         []*job                // jobs whose missing processes flushSpawns starts
	pendingSet      map[*job]bool         // membership of pending
	pendingPrograms []*job                // programs in STARTING whose process flushSpawns starts
	stopLevels      [][]*job              // shutdown: levels not yet stopping, in order
	stopLevel       map[*job]bool         // shutdown: the stop set of the level stopping now
	stopSet         []*job                // shutdown: that stop set, in order
	logFiles        map[string]*sharedLog // open log files by absolute path
	dependents      map[string][]*job     // full name of a dependency → jobs depending on it (loaded or not)
	depDirty        []*job                // dependents to re-evaluate before the next spawn batch
	depDirtySet     map[*job]bool         // membership of depDirty
	stopSignalled   map[*job]bool         // shutdown: jobs of the current stop set already signalled
	health          healthState           // probes and sd_notify

	sockets map[string]*listenSock // listening sockets by network+address (sockets.go)

	pumps sync.WaitGroup // output pumps still running; Run waits for them at the end
}

type session struct {
	name string
	jobs map[string]*job
	seq  []string
}

// New returns a supervisor. Call Run to start it.
func New(opts Options) *Supervisor {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Identifier == "" {
		opts.Identifier = "supervisor"
	}
	if opts.TailSize <= 0 {
		opts.TailSize = 64 << 10
	}
	return &Supervisor{
		opts:     opts,
		log:      opts.Logger,
		reqs:     make(chan func()),
		events:   events.NewBus(),
		output:   events.NewBus(),
		done:     make(chan struct{}),
		start:    make(chan struct{}),
		sessions: map[string]*session{},
		procs:    map[int]*process{},
		byOS:     map[int]*process{},

		pendingSet:  map[*job]bool{},
		logFiles:    map[string]*sharedLog{},
		dependents:  map[string][]*job{},
		depDirtySet: map[*job]bool{},
	}
}

// Run supervises until ctx is cancelled, then stops every process gracefully
// and returns once all are gone and their last output has reached the logs,
// the OutputSinks and the subscribers.
func (s *Supervisor) Run(ctx context.Context) error {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	if s.opts.ReapAll {
		if err := proc.SetSubreaper(); err != nil {
			s.log.Warn("cannot become child subreaper; escaped descendants will not be reaped", "err", err)
		}
	}
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	close(s.start)
	defer close(s.done)
	stop := ctx.Done()
	for !(s.shutting && len(s.procs) == 0) {
		select {
		case <-stop:
			stop = nil
			s.beginShutdown()
		case fn := <-s.reqs:
			fn()
		case <-sigchld:
			s.reap()
		case now := <-s.timer.C:
			s.timerAt = time.Time{}
			s.onDeadlines(now)
		}
		s.flushSpawns()
		s.armTimer()
	}
	s.timer.Stop()
	s.closeNotify()
	s.closeSockets()
	// Every process is gone; let the pumps deliver what was still in the
	// pipes (to logs, sinks and subscribers) before saying so. A pipe that a
	// stray descendant still holds open is not waited for beyond pumpDrain.
	drained := make(chan struct{})
	go func() { s.pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(pumpDrain):
		s.log.Warn("output still open after every process exited; not waiting for it", "after", pumpDrain)
	}
	return nil
}

// pumpDrain bounds how long Run waits for output pipes after the last exit.
const pumpDrain = 2 * time.Second

// Done is closed when Run has returned.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// do runs fn in the loop and waits for it, or for ctx.
func (s *Supervisor) do(ctx context.Context, fn func() error) error {
	var err error
	finished := make(chan struct{})
	req := func() {
		defer close(finished)
		if s.shutting {
			err = ErrShuttingDown
			return
		}
		err = fn()
		s.flushSpawns() // callers see the processes their request started
	}
	select {
	case s.reqs <- req:
	case <-s.done:
		return ErrShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once accepted, the request runs to completion without blocking; wait for it.
	<-finished
	return err
}

// Subscribe returns a subscription to events whose type matches any of the
// patterns (gaffer-events.md §1; "." = all), with a bounded queue.
func (s *Supervisor) Subscribe(size int, policy events.Overflow, patterns ...string) *Sub {
	return s.events.Subscribe(size, policy, patterns...)
}

// SubscribeOutput returns a subscription to process output. Patterns are
// "<pid>" (every stream of a process) or "<pid>.<label>"; "." = all output.
// Output events have Kind "output", Label and Data set. A stream in
// capture mode (LogFile.CaptureMaxBytes) also yields events of Kind "comm"
// and type "comm.<pid>.<label>", which only "." or "comm…" patterns match:
// Data is one captured block (supervisor's PROCESS_COMMUNICATION), whose
// bytes reached no output event, tail or log file.
func (s *Supervisor) SubscribeOutput(size int, policy events.Overflow, patterns ...string) *Sub {
	return s.output.Subscribe(size, policy, patterns...)
}

func (s *Supervisor) publish(typ, name string, e Event) {
	e.Type, e.Name = typ, name
	e.Kind = ""
	s.events.Publish(e)
}

// ---- the loop's handlers -------------------------------------------------

func (s *Supervisor) reap() {
	defer s.observeReap(time.Now())
	if s.opts.ReapAll {
		for range 1 << 20 {
			ex, ok := proc.ReapAny()
			if !ok {
				break
			}
			if p := s.byOS[ex.Pid]; p != nil {
				s.onExit(p, ex)
			} else {
				s.reapProbe(ex.Pid, ex) // an exec probe's exit goes to its waiter
			}
		}
	} else {
		for pid, p := range s.byOS {
			if ex, ok := proc.Reap(pid); ok {
				s.onExit(p, ex)
			}
		}
		s.reapOwnProbes()
	}
	if s.shutting {
		s.advanceShutdown()
	}
}

func (s *Supervisor) onDeadlines(now time.Time) {
	for _, p := range s.procs {
		if !p.killAt.IsZero() && !now.Before(p.killAt) {
			// supervisor re-sends SIGKILL each stopwaitsecs; once is enough
			// here, as the group kill reaches everything.
			p.killAt = time.Time{}
			s.log.Info("graceful timeout over, killing", "job", p.job.full, "pid", p.id, "os_pid", p.osPid)
			s.killTree(p, syscall.SIGKILL, p.cfg.Program == nil || p.cfg.Program.KillAsGroup)
		}
	}
	for _, sess := range s.sessions {
		for _, j := range sess.jobs {
			if j.depHeld && !j.depAt.IsZero() && !now.Before(j.depAt) {
				j.depAt = time.Time{}
				s.markDirty(j) // a delayed "started" dependency may hold now
			}
			if j.cfg.Program != nil {
				s.onProgramDeadlines(now, j)
				continue
			}
			if !j.retryAt.IsZero() && !now.Before(j.retryAt) {
				j.retryAt = time.Time{}
				j.stopped = false
				j.target = j.cfg.NumProcesses
				s.manage(j)
			}
			if !j.restartAt.IsZero() && !now.Before(j.restartAt) {
				j.restartAt = time.Time{}
				s.manage(j)
			}
		}
	}
}

// armTimer arms the one timer for the earliest pending deadline, or none:
// an idle supervisor has no timer and makes no wake-ups.
func (s *Supervisor) armTimer() {
	var next time.Time
	early := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, p := range s.procs {
		early(p.killAt)
	}
	for _, sess := range s.sessions {
		for _, j := range sess.jobs {
			early(j.retryAt)
			early(j.restartAt)
			early(j.prog.runningAt)
			if j.depHeld {
				early(j.depAt)
			}
		}
	}
	if next.Equal(s.timerAt) {
		return
	}
	s.timer.Stop()
	s.timerAt = next
	if !next.IsZero() {
		s.timer.Reset(max(time.Until(next), 0))
	}
}

// beginShutdown stops every job in levels, as supervisord stops its process
// groups: supervisor programs by group, from the highest group priority
// (Program.GroupPriority) down, one group at a time; gaffer jobs by
// Priority, from the highest number down, jobs of equal priority together.
// A level starts stopping once every process of the previous one is reaped
// (advanceShutdown, from the reap path), so no level waits longer than its
// own processes' graceful timeouts. Nothing is started or restarted
// meanwhile; processes of later levels keep running until their turn.
func (s *Supervisor) beginShutdown() {
	s.shutting = true
	var jobs []*job
	for _, name := range s.sessionSeq {
		sess := s.sessions[name]
		for _, jn := range sess.seq {
			j := sess.jobs[jn]
			jobs = append(jobs, j)
			if j.cfg.Program == nil {
				// No restart, no flapping retry: exits from now on are final.
				j.stopped, j.target = true, 0
				j.retryAt, j.restartAt = time.Time{}, time.Time{}
			}
		}
	}
	for _, p := range s.procs {
		if !s.loaded(p.job) {
			s.stopProc(p) // left over from an unloaded job: no level holds it
		}
	}
	s.stopLevels = shutdownLevels(jobs)
	s.advanceShutdown()
}

// shutdownLevels groups jobs into the order they stop in: descending level
// priority, then descending group name (supervisord sorts groups by
// priority then name and stops them in reverse). Within a level, jobs are
// signalled by descending priority, then name.
func shutdownLevels(jobs []*job) [][]*job {
	type key struct {
		prio  int
		group string // "" for gaffer jobs: all of one priority stop together
	}
	keyOf := func(j *job) key {
		if p := j.cfg.Program; p != nil {
			return key{p.GroupPriority, j.session}
		}
		return key{j.cfg.Priority, ""}
	}
	byKey := map[key][]*job{}
	var keys []key
	for _, j := range jobs {
		k := keyOf(j)
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], j)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(b.prio, a.prio), strings.Compare(b.group, a.group))
	})
	levels := make([][]*job, 0, len(keys))
	for _, k := range keys {
		level := byKey[k]
		slices.SortStableFunc(level, func(a, b *job) int {
			return cmp.Or(cmp.Compare(b.cfg.Priority, a.cfg.Priority), strings.Compare(b.name, a.name))
		})
		levels = append(levels, level)
	}
	return levels
}

// advanceShutdown stops the next levels once no process of the current one
// is left; levels without live processes pass at once. A level's stop set
// is its jobs plus every job depending on them, directly or not (those
// must go first even if their own level comes later); within it, a job is
// signalled only once the jobs depending on it have no live process, so
// dependents stop before their dependencies.
func (s *Supervisor) advanceShutdown() {
	for range len(s.stopLevels) + 2 {
		s.signalStopSet()
		for _, p := range s.procs {
			if s.stopLevel[p.job] {
				return // still stopping
			}
		}
		if len(s.stopLevels) == 0 {
			s.stopLevel, s.stopSet, s.stopSignalled = nil, nil, nil
			return
		}
		level := s.stopLevels[0]
		s.stopLevels = s.stopLevels[1:]
		s.stopLevel = make(map[*job]bool, len(level))
		s.stopSignalled = map[*job]bool{}
		s.stopSet = nil
		for _, j := range level {
			s.addStopSet(j)
		}
	}
}

// addStopSet adds j and, transitively, the loaded jobs depending on it to
// the stop set of the current shutdown level.
func (s *Supervisor) addStopSet(j *job) {
	if s.stopLevel[j] || !s.loaded(j) {
		return
	}
	s.stopLevel[j] = true
	s.stopSet = append(s.stopSet, j)
	for _, d := range s.dependents[j.full] {
		s.addStopSet(d)
	}
}

// signalStopSet signals every job of the stop set whose dependents are
// gone, until no more can be.
func (s *Supervisor) signalStopSet() {
	for range len(s.stopSet) + 1 {
		progress := false
		for _, j := range s.stopSet {
			if s.stopSignalled[j] || !s.dependentsGone(j) {
				continue
			}
			s.stopSignalled[j] = true
			progress = true
			if j.cfg.Program != nil {
				_ = s.stopProgram(j, true) // not running is fine; BACKOFF becomes FATAL
			}
			j.stopped, j.target = true, 0
			j.retryAt, j.restartAt = time.Time{}, time.Time{}
			s.clearHeld(j)
			for _, p := range j.procs {
				s.stopProc(p)
			}
			for _, p := range j.once {
				s.stopProc(p)
			}
		}
		if !progress {
			return
		}
	}
}

// dependentsGone reports whether no loaded job depending on j has a live
// process.
func (s *Supervisor) dependentsGone(j *job) bool {
	for _, d := range s.dependents[j.full] {
		if d != j && d.alive > 0 && s.loaded(d) {
			return false
		}
	}
	return true
}

// loaded reports whether j is still a loaded job (not unloaded).
func (s *Supervisor) loaded(j *job) bool {
	sess := s.sessions[j.session]
	return sess != nil && sess.jobs[j.name] == j
}

// ---- jobs ----------------------------------------------------------------

type job struct {
	session, name, full string
	cfg                 JobConfig // replaced whole on a change, never modified: readers may share its maps
	sessionEnv          map[string]string
	target              int
	stopped             bool
	procs               []*process // supervised, live, in spawn order
	once                []*process // committed, live
	fromConfig          bool

	flapHist  []time.Time
	retries   int
	retryAt   time.Time // flapping pause ends
	backoffN  int
	restartAt time.Time // backoff delay ends (gaffer backoff, or supervisor's BACKOFF retry)
	lastError string

	cfgJSON []byte       // cfg as JSON for job info; nil after any config change
	prog    programState // supervisor view, for jobs with a Program
	logs    *logSet      // log files per output label, opened at first spawn
	// autoLogs are the AUTO log files (by label) created in childlogdir
	// when the job was loaded or its logs changed, as supervisord names
	// them at config load; kept across restarts.
	autoLogs map[string]string
	logView  map[string]string // label → log file, shared read-only by ProgramInfo; nil = to rebuild

	// Dependencies (depsched.go).
	depHeld     bool      // a start is held until the dependencies hold
	depWait     string    // why, "waiting for db: healthy"; "" when not held
	depAt       time.Time // held by a delayed "started" dependency until then
	draining    int       // processes stopped by propagation, not yet reaped
	propRestart bool      // program stopped by propagation: start it again once reaped
	alive       int       // processes not yet reaped (supervised, committed, stopping)
	lastExit    proc.Exit // of the last reaped process
	lastExitSet bool

	socks   []*listenSock // the open sockets of sockCfg, one reference each (sockets.go)
	sockCfg []Socket
}

// logSet is one generation of a job's log files. Pumps of its processes hold
// it open (wg) so the last bytes of an exiting process still reach the file
// after the job is unloaded or its log settings change.
type logSet struct {
	ws     map[string]*logs.Writer // by output label; labels with one path share a Writer
	shared []*sharedLog            // the files the set holds a reference to, each once
	wg     sync.WaitGroup
}

// retire releases the set's files once every pump writing to it has finished.
func (l *logSet) retire() {
	if l == nil {
		return
	}
	go func() {
		l.wg.Wait()
		for _, sl := range l.shared {
			sl.release()
		}
	}()
}

// sharedLog is one open log file, shared by every stream configured with its
// path (stdout and stderr of a job, or several jobs): one Writer per file, so
// its size count and rotation see every byte and no two writes interleave.
// It is closed when the last logSet holding it is retired.
type sharedLog struct {
	w    *logs.Writer
	refs atomic.Int64 // 0 = closed (or closing) for good
}

// acquire takes a reference unless the file was already released for good.
func (sl *sharedLog) acquire() bool {
	for range 1 << 10 { // a CAS fails only when another goroutine changed refs meanwhile
		n := sl.refs.Load()
		if n <= 0 {
			return false
		}
		if sl.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
	return false
}

func (sl *sharedLog) release() {
	if sl.refs.Add(-1) == 0 {
		sl.w.Close()
	}
}

func (s *Supervisor) lookup(full string) (*job, error) {
	sn, jn := ParseName(full)
	if sess := s.sessions[sn]; sess != nil {
		if j := sess.jobs[jn]; j != nil {
			return j, nil
		}
	}
	return nil, fmt.Errorf("job %q: %w", sn+"."+jn, ErrNotFound)
}

func (s *Supervisor) addJob(sessionName string, cfg JobConfig, env map[string]string) (*job, error) {
	if sessionName == "" {
		sessionName = DefaultSession
	}
	if err := validSessionName(sessionName); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sess := s.sessions[sessionName]
	if sess != nil && sess.jobs[cfg.Name] != nil {
		return nil, fmt.Errorf("load %q: %w", sessionName+"."+cfg.Name, ErrConflict)
	}
	if err := s.checkGraph(map[string]*JobConfig{sessionName + "." + cfg.Name: &cfg}); err != nil {
		return nil, fmt.Errorf("load %q: %w", sessionName+"."+cfg.Name, err)
	}
	if sess == nil {
		sess = &session{name: sessionName, jobs: map[string]*job{}}
		s.sessions[sessionName] = sess
		s.sessionSeq = append(s.sessionSeq, sessionName)
	}
	j := &job{session: sessionName, name: cfg.Name, full: sessionName + "." + cfg.Name,
		cfg: cfg.clone(), sessionEnv: env, stopped: true}
	sess.jobs[cfg.Name] = j
	sess.seq = append(sess.seq, cfg.Name)
	s.indexDeps(j)
	s.resolveAutoLogs(j)
	s.publish("load", j.full, Event{})
	s.touch(j) // dependents waiting for it to be loaded
	return j, nil
}

func validSessionName(n string) error {
	for _, c := range n {
		if c == '.' || c == '/' || c == ' ' {
			return fmt.Errorf("session %q: %w", n, ErrBadName)
		}
	}
	return nil
}

func (s *Supervisor) startJob(j *job) {
	if j.cfg.Program != nil {
		s.publish("start", j.full, Event{})
		s.publish("job."+j.full+".start", j.full, Event{})
		if !j.prog.state.Running() && j.prog.state != StateStopping {
			j.stopped = false
			if s.depsHold(j) {
				s.startProgramLater(j)
			}
		}
		return
	}
	j.stopped = false
	j.target = j.cfg.NumProcesses
	j.flapHist, j.retries, j.retryAt = nil, 0, time.Time{}
	j.backoffN, j.restartAt = 0, time.Time{}
	s.publish("start", j.full, Event{})
	s.publish("job."+j.full+".start", j.full, Event{})
	s.manage(j)
}

func (s *Supervisor) stopJob(j *job) {
	s.clearHeld(j)
	j.propRestart = false
	if j.cfg.Program != nil {
		s.publish("stop", j.full, Event{})
		s.publish("job."+j.full+".stop", j.full, Event{})
		_ = s.stopProgram(j, false) // not running is fine
		return
	}
	j.target, j.stopped = 0, true
	j.retryAt, j.restartAt = time.Time{}, time.Time{}
	s.publish("stop", j.full, Event{})
	s.publish("job."+j.full+".stop", j.full, Event{})
	s.stopAll(j)
}

// stopAll sends SIGTERM to every live process of j, committed ones too, and
// takes them off its live lists.
func (s *Supervisor) stopAll(j *job) {
	ps := append(j.procs, j.once...)
	j.procs, j.once = nil, nil
	for _, p := range ps {
		s.publish("stop_process", j.full, Event{Pid: p.id})
		s.stopProc(p)
	}
	if len(ps) > 0 {
		s.propagate(j)
		s.touch(j)
	}
}

func (s *Supervisor) removeJob(j *job) {
	s.releaseJobSockets(j) // live processes keep theirs until reaped
	s.unindexDeps(j)
	s.touch(j) // its dependents now wait for it to be loaded
	sess := s.sessions[j.session]
	delete(sess.jobs, j.name)
	sess.seq = slices.DeleteFunc(sess.seq, func(n string) bool { return n == j.name })
	if len(sess.jobs) == 0 {
		delete(s.sessions, j.session)
		s.sessionSeq = slices.DeleteFunc(s.sessionSeq, func(n string) bool { return n == j.session })
	}
}

// manage brings a job's supervised processes to its target: spawn the
// missing ones, reap the oldest surplus.
func (s *Supervisor) manage(j *job) {
	if !s.canSpawn(j) {
		return
	}
	if len(j.procs) < j.target && !s.pendingSet[j] && j.draining == 0 && s.depsHold(j) {
		s.pendingSet[j] = true
		s.pending = append(s.pending, j) // started by flushSpawns at the end of this step
	}
	for len(j.procs) > j.target {
		p := j.procs[0]
		j.procs = j.procs[1:]
		s.publish("reap", j.full, Event{Pid: p.id, OSPid: p.osPid})
		s.publish("job."+j.full+".reap", j.full, Event{Pid: p.id, OSPid: p.osPid})
		s.publish("proc."+strconv.Itoa(p.id)+".reap", j.full, Event{Pid: p.id, OSPid: p.osPid})
		s.stopProc(p)
	}
}

// canSpawn reports whether gaffer's rule may start processes of j now.
func (s *Supervisor) canSpawn(j *job) bool {
	if j.cfg.Program != nil {
		return false // supervisor rules: see program.go
	}
	if j.stopped || !j.retryAt.IsZero() || !j.restartAt.IsZero() || s.shutting {
		return false
	}
	return s.sessions[j.session] != nil && s.sessions[j.session].jobs[j.name] == j // not unloaded
}

// onExit handles a reaped child.
func (s *Supervisor) onExit(p *process, ex proc.Exit) {
	if s.launcherExited(p, ex) {
		return // a pidfile job's launcher: its daemon is awaited (pidfile.go)
	}
	s.observeExit(p, ex)
	delete(s.byOS, p.osPid)
	delete(s.procs, p.id)
	p.exited(ex)
	daemonExited(p)
	s.stopProbes(p)
	if !p.cfg.Detach {
		// Whatever is left of its group, and the descendants that left the
		// group while it was being stopped, go with it: no orphans.
		_ = proc.Signal(p.osPid, syscall.SIGKILL, true)
	}
	for _, d := range p.escapees {
		_ = proc.Signal(d, syscall.SIGKILL, false)
	}
	j := p.job
	j.alive--
	j.lastExit, j.lastExitSet = ex, true
	if p.propagated {
		j.draining--
	}
	defer s.touch(j)
	e := Event{Pid: p.id, OSPid: p.osPid, Once: p.committed, ExitStatus: ex.Code, TermSignal: ex.Signal}
	if ex.Signal != 0 {
		e.ExitStatus = 0 // gaffer reports exit_status 0 when killed; term_signal says which
	}
	s.publish("exit", j.full, e)
	s.publish("job."+j.full+".exit", j.full, e)
	if p.committed {
		j.once = slices.DeleteFunc(j.once, func(q *process) bool { return q == p })
		return
	}
	if j.cfg.Program != nil {
		s.onProgramExit(j, p, ex)
		return
	}
	if p.daemon.err != "" {
		j.lastError = p.daemon.err
		s.publish("spawn_error", j.full, Event{Pid: p.id, Reason: p.daemon.err})
	}
	crashed := slices.Contains(j.procs, p)
	j.procs = slices.DeleteFunc(j.procs, func(q *process) bool { return q == p })
	if crashed {
		s.propagate(j)
	}
	if j.stopped || s.shutting {
		return
	}
	// Only exits gaffer did not cause feed the flapping history: scaling
	// down, an update or a pid DELETE must not look like a crash loop (the
	// Python reference counted them too).
	if crashed && s.flapping(j) {
		return
	}
	if b := j.cfg.Backoff; b != nil && crashed {
		if time.Since(p.started) >= b.Reset {
			j.backoffN = 0
		}
		d := float64(b.Initial)
		for range min(j.backoffN, 64) {
			d *= b.Multiplier
			if d > float64(b.Max) {
				break
			}
		}
		d = min(d, float64(b.Max))
		// Jitter spreads the restarts of many processes that crashed together
		// (a lost database) so they do not hammer it in lockstep.
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
		j.backoffN++
		j.restartAt = time.Now().Add(time.Duration(d))
		return
	}
	s.manage(j)
}

// flapping applies gaffer's crash-loop rule (gaffer-config.md §8.2) to an
// exit of j; true means it paused or stopped the job.
// Reasons of a "flap" event: the job is paused until retry_in (Tries says
// which pause of max_retry), or given up until started again.
const (
	FlapPaused = "paused"
	FlapGaveUp = "gave up"
)

func (s *Supervisor) flapping(j *job) bool {
	f := j.cfg.Flapping
	if f == nil {
		return false
	}
	now := time.Now()
	j.flapHist = append(j.flapHist, now)
	if len(j.flapHist) > f.MaxRetry {
		j.flapHist = j.flapHist[len(j.flapHist)-f.MaxRetry:]
	}
	if len(j.flapHist) < f.Attempts || len(j.flapHist) == 0 {
		return false
	}
	if span := j.flapHist[len(j.flapHist)-1].Sub(j.flapHist[0]); span > f.Window {
		j.flapHist, j.retries = nil, 0
		return false
	}
	if j.retries < f.MaxRetry {
		j.retries++
		s.publish("flap", j.full, Event{Reason: FlapPaused, Tries: j.retries})
		j.stopped = true
		s.stopAll(j)
		j.retryAt = now.Add(f.RetryIn)
		s.log.Warn("job is flapping; pausing", "job", j.full, "retry_in", f.RetryIn, "retry", j.retries)
		return true
	}
	s.publish("flap", j.full, Event{Reason: FlapGaveUp, Tries: j.retries})
	j.flapHist, j.retries = nil, 0
	j.target, j.stopped = 0, true
	s.stopAll(j)
	s.log.Warn("job is flapping; giving up until started again", "job", j.full)
	return true
}

// ---- processes -------------------------------------------------------------

// spawnPlan is one process about to be started: prepared in the loop,
// started (proc.Start) possibly in parallel with others, registered in the
// loop again.
type spawnPlan struct {
	j         *job
	committed bool
	graceful  time.Duration
	prog      string
	args      []string
	env       map[string]string
	spec      proc.Spec
	socks     []*listenSock // passed to the child; the process holds them until reaped
	op        *proc.Process
	err       error
	took      time.Duration // proc.Start's fork/exec time, for Options.Observer
	adopt     int           // a live daemon of ours named by the job's pidfile: adopted, not launched
}

func (s *Supervisor) prepareSpawn(j *job, committed bool, graceful time.Duration, env map[string]string) (*spawnPlan, error) {
	cfg := &j.cfg
	adopt, err := s.checkPIDFile(j)
	if err != nil {
		return nil, fmt.Errorf("spawn %q: %w: %w", j.full, ErrSpawn, err)
	}
	penv := buildEnv(cfg, j.sessionEnv, env)
	if r := cfg.Readiness; r != nil && r.Kind == ProbeNotify && !committed {
		path, err := s.notifySocket()
		if err != nil {
			return nil, fmt.Errorf("spawn %q: %w", j.full, err)
		}
		penv["NOTIFY_SOCKET"] = path
	}
	socks, err := s.jobSockets(j)
	if err != nil {
		return nil, fmt.Errorf("spawn %q: %w", j.full, err)
	}
	stdinSock, listeners := socketSpawn(j.sockCfg, socks, penv)
	prog, args, err := commandLine(cfg, penv)
	if err != nil {
		return nil, fmt.Errorf("spawn %q: %w", j.full, err)
	}
	spec := proc.Spec{Path: prog, Args: args, Env: envList(penv), Dir: cfg.Cwd,
		User: cfg.UID, Group: cfg.GID, Detach: cfg.Detach, Umask: -1, Stdin: cfg.RedirectInput,
		ExtraStreams: len(cfg.CustomStreams), StdinFile: stdinSock, Listeners: listeners, ListenPID: len(listeners) > 0}
	if stdinSock != nil {
		spec.Stdin = false // the socket is stdin
	}
	labels := cfg.RedirectOutput
	if len(labels) > 0 {
		spec.Stdout = true
	}
	if len(labels) > 1 {
		spec.Stderr = true
		spec.MergeStderr = labels[0] == labels[1]
	}
	if cfg.UmaskSet {
		spec.Umask = cfg.Umask
	}
	if err := s.openLogs(j); err != nil {
		return nil, fmt.Errorf("spawn %q: %w", j.full, err)
	}
	return &spawnPlan{j: j, committed: committed, graceful: graceful, prog: prog, args: args, env: penv, spec: spec, socks: socks, adopt: adopt}, nil
}

func (pl *spawnPlan) start() {
	defer pl.timed(time.Now())
	if pl.adopt > 0 {
		pl.op = &proc.Process{Pid: pl.adopt}
		return
	}
	pl.op, pl.err = proc.Start(pl.spec)
	if pl.err != nil {
		pl.err = fmt.Errorf("spawn %q: %w: %w", pl.j.full, ErrSpawn, pl.err)
	}
}

// register records a started process and publishes its spawn.
func (s *Supervisor) register(pl *spawnPlan) *process {
	j := pl.j
	s.nextID++
	p := newProcess(s, s.nextID, j, pl.op, pl.committed, pl.prog, pl.args, pl.env)
	holdSockets(pl.socks)
	p.releaseSocks = func() { s.releaseSockets(pl.socks) }
	if pl.graceful > 0 {
		p.graceful = pl.graceful
	}
	s.procs[p.id] = p
	s.byOS[p.osPid] = p
	if pl.adopt > 0 {
		s.adopt(p, pl.adopt)
	}
	s.observeSpawn(pl)
	j.alive++
	j.lastError = ""
	e := Event{Pid: p.id, OSPid: p.osPid}
	s.publish("spawn", j.full, e)
	if !pl.committed {
		s.publish("job."+j.full+".spawn", j.full, e)
	}
	s.startProbes(p)
	s.touch(j)
	return p
}

// spawn starts one process of j at once. Committed processes are not supervised.
func (s *Supervisor) spawn(j *job, committed bool, graceful time.Duration, env map[string]string) (*process, error) {
	pl, err := s.prepareSpawn(j, committed, graceful, env)
	if err != nil {
		return nil, err
	}
	pl.start()
	if pl.err != nil {
		return nil, pl.err
	}
	return s.register(pl), nil
}

// flushSpawns starts the processes manage asked for during this loop step,
// several fork/execs at a time: a fork waits for its child's exec, so
// starting 1,000 jobs one by one would leave the other cores idle. The loop
// waits for the batch (milliseconds); pids are registered before any exit
// can be reaped, since reaping happens in this same loop.
func (s *Supervisor) flushSpawns() {
	// Each round may free dependents of what it spawned (a chain starts
	// one link per round); a spawn failure cannot re-queue in the same
	// step. Bounded anyway.
	for range 1 << 16 {
		s.settleDeps()
		if len(s.pending) == 0 && len(s.pendingPrograms) == 0 {
			return
		}
		jobs, programs := s.pending, s.pendingPrograms
		s.pending, s.pendingSet, s.pendingPrograms = nil, map[*job]bool{}, nil
		// Workers start processes while the loop prepares the next ones, so
		// the first child runs at once, not after 1,000 preparations.
		queue := make(chan *spawnPlan, 64)
		var wg sync.WaitGroup
		for range spawnWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pl := range queue {
					pl.start()
				}
			}()
		}
		var plans []*spawnPlan
		var serial []*spawnPlan // umask is process-wide: those start alone
		var progPlans []*spawnPlan
		for _, j := range programs {
			// Still waiting for its process (not stopped or unloaded meanwhile)?
			if j.prog.state != StateStarting || len(j.procs) > 0 || j.stopped || s.shutting ||
				s.sessions[j.session] == nil || s.sessions[j.session].jobs[j.name] != j {
				continue
			}
			pl, err := s.prepareSpawn(j, false, 0, nil)
			if err != nil {
				s.endStart(j, nil, err)
				continue
			}
			progPlans = append(progPlans, pl)
			if pl.spec.Umask >= 0 {
				serial = append(serial, pl)
				continue
			}
			queue <- pl
		}
		for _, j := range jobs {
			if !s.canSpawn(j) || j.draining > 0 || !s.depsHold(j) {
				continue
			}
			for n := j.target - len(j.procs); n > 0; n-- {
				pl, err := s.prepareSpawn(j, false, 0, nil)
				if err != nil {
					s.spawnFailed(j, err)
					break
				}
				if pl.spec.Umask >= 0 {
					serial = append(serial, pl)
					continue
				}
				plans = append(plans, pl)
				queue <- pl
			}
		}
		close(queue)
		wg.Wait()
		for _, pl := range serial {
			pl.start()
		}
		for _, pl := range progPlans {
			if pl.err != nil {
				s.endStart(pl.j, nil, pl.err)
				continue
			}
			s.endStart(pl.j, s.register(pl), nil)
		}
		serial = slices.DeleteFunc(serial, func(pl *spawnPlan) bool { return pl.j.cfg.Program != nil })
		for _, pl := range append(plans, serial...) {
			j := pl.j
			if pl.err != nil {
				if j.restartAt.IsZero() {
					s.spawnFailed(j, pl.err)
				}
				continue
			}
			j.procs = append(j.procs, s.register(pl))
		}
	}
}

// spawnWorkers bounds parallel fork/execs: a few per core keeps every core
// busy while children exec.
var spawnWorkers = 2 * runtime.GOMAXPROCS(0)

// spawnFailed retries a job that cannot start after a growing delay, never
// in a tight loop.
func (s *Supervisor) spawnFailed(j *job, err error) {
	j.lastError = err.Error()
	delay := time.Duration(1<<min(j.backoffN, 6)) * time.Second
	j.backoffN++
	j.restartAt = time.Now().Add(delay)
	s.log.Error("spawn failed", "job", j.full, "err", err, "retry_in", delay)
	s.publish("spawn_error", j.full, Event{Reason: err.Error()})
}

// stopProc begins a graceful stop: SIGTERM (and SIGCONT, so a stopped
// process can act on it) to the process group, and the same to descendants
// that left the group; SIGKILL for all at the graceful timeout.
func (s *Supervisor) stopProc(p *process) {
	if !p.killAt.IsZero() || p.stopping {
		return
	}
	p.stopping = true
	p.escapees = proc.Descendants(p.osPid)
	sig := p.cfg.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	group := p.cfg.Program == nil || p.cfg.Program.StopAsGroup
	s.killTree(p, sig, group)
	s.killTree(p, syscall.SIGCONT, group)
	p.killAt = time.Now().Add(p.graceful)
}

// killTree signals a process, or its group, and the descendants that left
// the group. Those are signalled even when the group is not: a stop must
// not leave orphans behind.
func (s *Supervisor) killTree(p *process, sig syscall.Signal, group bool) {
	group = p.groupSignal(group)
	if !group || proc.Signal(p.osPid, sig, true) != nil {
		_ = proc.Signal(p.osPid, sig, false)
	}
	for _, d := range p.escapees {
		_ = proc.Signal(d, sig, false)
	}
}

func (s *Supervisor) findProc(id int) (*process, error) {
	p := s.procs[id]
	if p == nil || p.stopping {
		return nil, fmt.Errorf("process %d: %w", id, ErrNotFound)
	}
	return p, nil
}

// autoChannel is the channel an AUTO log of label is named after: stderr
// for the second redirected stream, when it is not merged into the first.
func autoChannel(cfg *JobConfig, label string) string {
	if len(cfg.RedirectOutput) > 1 && label == cfg.RedirectOutput[1] && label != cfg.RedirectOutput[0] {
		return "stderr"
	}
	return "stdout"
}

// resolveAutoLogs creates the job's missing AUTO log files in childlogdir.
// A failure is logged and tried again at the next spawn, which then fails
// with it.
func (s *Supervisor) resolveAutoLogs(j *job) {
	j.logView = nil // the logs changed, or their AUTO names may
	for label, lf := range j.cfg.Logs {
		if lf.Path != "" || lf.AutoDir == "" || j.autoLogs[label] != "" {
			continue
		}
		p, err := logs.AutoPath(lf.AutoDir, j.name, autoChannel(&j.cfg, label), s.opts.Identifier)
		if err != nil {
			s.log.Error("cannot create AUTO log file", "job", j.full, "label", label, "err", err)
			continue
		}
		if j.autoLogs == nil {
			j.autoLogs = map[string]string{}
		}
		j.autoLogs[label] = p
	}
}

// logPath is the file a label of j is logged to ("" = none): the configured
// path, or the AUTO file created for it.
func (j *job) logPath(label string) string {
	lf := j.cfg.Logs[label]
	if lf.Path != "" {
		return lf.Path
	}
	return j.autoLogs[label]
}

// logPaths returns the file of each label of j that has one. The map is
// built once per log configuration and shared: never modify it.
func (j *job) logPaths() map[string]string {
	if j.logView == nil {
		j.logView = make(map[string]string, len(j.cfg.Logs))
		for label := range j.cfg.Logs {
			if path := j.logPath(label); path != "" {
				j.logView[label] = path
			}
		}
	}
	return j.logView
}

// openLogs opens the job's log files on its first spawn; they stay open
// across restarts (appending) until the job is unloaded or its logs change.
// Labels configured with the same file share one Writer, as do jobs.
func (s *Supervisor) openLogs(j *job) error {
	if len(j.cfg.Logs) == 0 || j.logs != nil {
		return nil
	}
	s.resolveAutoLogs(j)
	set := &logSet{ws: map[string]*logs.Writer{}}
	byPath := map[string]*sharedLog{}
	for label, lf := range j.cfg.Logs {
		if lf.Path == "" && lf.AutoDir == "" {
			continue // events only, no file (stdout_logfile=NONE)
		}
		path := j.logPath(label)
		if path == "" {
			for _, sl := range set.shared {
				sl.release()
			}
			return fmt.Errorf("AUTO log for %s in %s: cannot be created (see the log)", label, lf.AutoDir)
		}
		key, err := filepath.Abs(path)
		if err != nil {
			key = filepath.Clean(path)
		}
		sl := byPath[key]
		if sl == nil {
			if sl, err = s.acquireLog(key, path, lf); err != nil {
				for _, sl := range set.shared {
					sl.release()
				}
				return err
			}
			byPath[key] = sl
			set.shared = append(set.shared, sl)
		}
		set.ws[label] = sl.w
	}
	j.logs = set
	return nil
}

// acquireLog returns the open log file at key with a new reference, opening
// it if no live Writer has it. The first opener's rotation settings apply.
func (s *Supervisor) acquireLog(key, path string, lf LogFile) (*sharedLog, error) {
	if sl := s.logFiles[key]; sl != nil {
		if sl.acquire() {
			return sl, nil
		}
		delete(s.logFiles, key) // released for good
	}
	w, err := logs.Open(path, lf.MaxBytes, lf.Backups)
	if err != nil {
		return nil, err
	}
	sl := &sharedLog{w: w}
	sl.refs.Store(1)
	s.logFiles[key] = sl
	return sl, nil
}

// forgetLogs drops the registry entries of files no set holds any more.
func (s *Supervisor) forgetLogs() {
	for key, sl := range s.logFiles {
		if sl.refs.Load() <= 0 {
			delete(s.logFiles, key)
		}
	}
}
