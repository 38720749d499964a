package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/internal/proc"
	"golang.org/x/sys/unix"
)

// State is a supervisor process state, with supervisor's codes
// (supervisor-semantics.md §1), as XML-RPC reports them.
//
//	           start                 up > startsecs
//	STOPPED ─────────► STARTING ─────────────────────► RUNNING
//	EXITED  ─────────►   │   ▲                            │ exits by itself
//	FATAL   ─────────►   │   │ retry after n s            ▼
//	                     │   │                         EXITED ──autorestart──► STARTING
//	        exits early  ▼   │
//	                   BACKOFF ──n > startretries──► FATAL
//
//	STARTING, RUNNING ──stop──► STOPPING ──reaped──► STOPPED;  BACKOFF ──stop──► STOPPED
type State int

const (
	StateStopped  State = 0
	StateStarting State = 10
	StateRunning  State = 20
	StateBackoff  State = 30
	StateStopping State = 40
	StateExited   State = 100
	StateFatal    State = 200
	StateUnknown  State = 1000
)

var stateNames = map[State]string{
	StateStopped: "STOPPED", StateStarting: "STARTING", StateRunning: "RUNNING", StateBackoff: "BACKOFF",
	StateStopping: "STOPPING", StateExited: "EXITED", StateFatal: "FATAL", StateUnknown: "UNKNOWN",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// allowed is the transition table; a move outside it is a bug we want to see.
var allowed = map[State][]State{
	StateStopped:  {StateStarting},
	StateStarting: {StateRunning, StateBackoff, StateStopping},
	StateRunning:  {StateStopping, StateExited},
	StateBackoff:  {StateStarting, StateFatal, StateStopped},
	StateStopping: {StateStopped},
	StateExited:   {StateStarting},
	StateFatal:    {StateStarting},
	StateUnknown:  {StateStarting},
}

// Running reports supervisor's "running states": STARTING, RUNNING, BACKOFF.
func (s State) Running() bool {
	return s == StateStarting || s == StateRunning || s == StateBackoff
}

// Stopped reports supervisor's "stopped states": STOPPED, EXITED, FATAL, UNKNOWN.
func (s State) Stopped() bool {
	return s == StateStopped || s == StateExited || s == StateFatal || s == StateUnknown
}

// Signallable reports whether a process in s can be signalled.
func (s State) Signallable() bool {
	return s == StateStarting || s == StateRunning || s == StateStopping
}

// Errors of supervisor programs, mapped to XML-RPC faults by its transport.
var (
	ErrAlreadyStarted      = errors.New("already started")
	ErrNotRunning          = errors.New("not running")
	ErrNoFile              = errors.New("no such file")
	ErrNotExecutable       = errors.New("file is not executable")
	ErrSpawnError          = errors.New("spawn error")
	ErrAbnormalTermination = errors.New("abnormal termination")
	ErrNotProgram          = errors.New("not a supervisor program")
)

// programState is the supervisor view of a job with a Program; owned by run.
type programState struct {
	state      State
	tries      int // backoff counter
	spawnErr   string
	start      time.Time // last spawn
	stop       time.Time // last stop or exit
	exitStatus int
	lastSignal int       // signal that ended the last process, 0 when it exited
	pid        int       // OS pid of the live process, 0 when none
	runningAt  time.Time // STARTING becomes RUNNING at this deadline
	waiters    []func() bool
}

// ProgramInfo is a supervisor process as getProcessInfo reports it.
type ProgramInfo struct {
	Name       string // process name (the job name)
	Group      string // group (the session)
	State      State
	Start      time.Time
	Stop       time.Time
	SpawnErr   string
	ExitStatus int
	Pid        int               // OS pid of the live process, 0 when none
	ID         int               // gaffer's internal pid of the live process, 0 when none
	Logs       map[string]string // output label → log file path (AUTO names from the load on); shared: read only
	Priority   int
	// Waiting is why the program is held before its start, "waiting for
	// db: healthy"; "" when it is not.
	Waiting string
	// Health sums up its readiness: "", starting, healthy or unhealthy.
	Health string
	// Config is the job's config. Its maps and slices are shared with the
	// supervisor, which never modifies them (a config change replaces the
	// whole config): read them, never write to them.
	Config JobConfig
}

func (s *Supervisor) setState(j *job, to State, e Event) {
	ps := &j.prog
	from := ps.state
	if !slices.Contains(allowed[from], to) {
		s.log.Error("illegal state transition (bug)", "job", j.full, "from", from, "to", to)
	}
	ps.state = to
	e.From, e.To, e.Group, e.Process = from.String(), to.String(), j.session, j.name
	s.logTransition(j, from, to, e)
	if e.Pid == 0 && ps.pid != 0 && to != StateStopped && to != StateExited {
		e.OSPid = ps.pid
	}
	s.publish("state", j.full, e)
	s.touch(j)
	// Waiters decide on every transition whether they are done. A waiter may
	// cause transitions itself (a restart after a stop), so the list is taken
	// out while they run.
	ws := ps.waiters
	ps.waiters = nil
	kept := slices.DeleteFunc(ws, func(w func() bool) bool { return w() })
	ps.waiters = append(kept, ps.waiters...)
}

// logTransition writes supervisord's lifecycle lines to the daemon's log,
// so maintail shows what happened to each process.
func (s *Supervisor) logTransition(j *job, from, to State, e Event) {
	name := j.name
	if j.session != j.name {
		name = j.session + ":" + j.name
	}
	ps := &j.prog
	switch to {
	case StateStarting:
		if ps.pid != 0 {
			return
		}
	case StateRunning:
		s.log.Info(fmt.Sprintf("success: %s entered RUNNING state, process has stayed up for > than %d seconds (startsecs)",
			name, int(j.cfg.Program.StartSecs/time.Second)))
	case StateBackoff:
		if ps.spawnErr != "" && ps.pid == 0 {
			s.log.Info(fmt.Sprintf("spawnerr: %s: %s", name, ps.spawnErr))
		}
	case StateStopping:
		s.log.Info(fmt.Sprintf("waiting for %s to stop", name))
	case StateStopped:
		if from == StateStopping {
			s.log.Info(fmt.Sprintf("stopped: %s (%s)", name, exitText(ps.exitStatus, ps.lastSignal)))
		}
	case StateExited:
		expected := "not expected"
		if e.Expected {
			expected = "expected"
		}
		s.log.Info(fmt.Sprintf("exited: %s (%s; %s)", name, exitText(ps.exitStatus, ps.lastSignal), expected))
	case StateFatal:
		s.log.Info(fmt.Sprintf("gave up: %s entered FATAL state, too many start retries too quickly", name))
	}
}

func exitText(status, sig int) string {
	if sig != 0 {
		return "terminated by " + signalName(sig)
	}
	return fmt.Sprintf("exit status %d", status)
}

func signalName(sig int) string {
	if n := unix.SignalName(syscall.Signal(sig)); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", sig)
}

// updateProgram replaces a program's config: a running process is stopped
// and, once stopped, started again from the new config (as supervisorctl's
// update removes and re-adds a changed group).
func (s *Supervisor) updateProgram(j *job, cfg JobConfig) {
	ps := &j.prog
	wasUp := ps.state.Running() || ps.state == StateStopping
	j.cfg, j.cfgJSON = cfg.clone(), nil
	for _, p := range j.once {
		s.stopProc(p)
	}
	j.once = nil
	if !wasUp {
		return
	}
	if ps.state != StateStopping {
		_ = s.stopProgram(j, false)
	}
	restart := func() bool {
		if !ps.state.Stopped() {
			return false
		}
		if !s.shutting && s.sessions[j.session] != nil && s.sessions[j.session].jobs[j.name] == j {
			s.startProgramGated(j)
		}
		return true
	}
	if !restart() {
		ps.waiters = append(ps.waiters, restart)
	}
}

// startProgram spawns the program's process (state STARTING), or records a
// spawn failure (BACKOFF, then FATAL past startretries).
func (s *Supervisor) startProgram(j *job) {
	s.beginStart(j)
	p, err := s.spawn(j, false, 0, nil)
	s.endStart(j, p, err)
}

// startProgramGated starts the program if its dependencies hold; else it
// is held (waiting) and started once they do.
func (s *Supervisor) startProgramGated(j *job) {
	j.stopped = false
	if s.depsHold(j) {
		s.startProgram(j)
	}
}

// startProgramLater is startProgram with the spawn left to flushSpawns, so
// that a config's programs start in parallel batches at boot and reload.
func (s *Supervisor) startProgramLater(j *job) {
	s.beginStart(j)
	s.pendingPrograms = append(s.pendingPrograms, j)
}

func (s *Supervisor) beginStart(j *job) {
	ps := &j.prog
	ps.spawnErr = ""
	j.stopped = false
	j.target = 1
	j.restartAt = time.Time{}
	s.setState(j, StateStarting, Event{Tries: ps.tries})
}

// endStart records the spawn begun by beginStart: RUNNING at once or after
// startsecs, or BACKOFF when it failed.
func (s *Supervisor) endStart(j *job, p *process, err error) {
	ps := &j.prog
	if err != nil {
		ps.spawnErr = spawnErrText(err)
		s.log.Error("spawn failed", "job", j.full, "err", err)
		s.backoff(j)
		return
	}
	j.procs = append(j.procs, p)
	ps.start, ps.pid = p.started, p.osPid
	s.log.Info(fmt.Sprintf("spawned: '%s' with pid %d", j.name, p.osPid))
	if p.cfg.PIDFile != "" && !p.daemon.adopted {
		return // STARTING until its daemon is adopted; startsecs count from then (pidfile.go)
	}
	startsecs := j.cfg.Program.StartSecs
	if startsecs == 0 {
		ps.runningAt = time.Time{}
		s.setState(j, StateRunning, Event{Pid: p.id, OSPid: p.osPid})
		ps.tries = 0
		return
	}
	// "more than startsecs": the deadline is just past it.
	ps.runningAt = p.started.Add(startsecs + time.Millisecond)
}

func spawnErrText(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, proc.ErrNotFound):
		return "can't find command"
	case errors.Is(err, fs.ErrPermission):
		return "command is not executable"
	}
	return err.Error()
}

// backoff enters BACKOFF and schedules the retry n seconds later, or gives up.
func (s *Supervisor) backoff(j *job) {
	ps := &j.prog
	ps.tries++
	ps.runningAt = time.Time{}
	s.setState(j, StateBackoff, Event{Tries: ps.tries})
	if ps.tries > j.cfg.Program.StartRetries {
		ps.tries = 0
		j.stopped, j.target = true, 0
		s.setState(j, StateFatal, Event{})
		return
	}
	j.restartAt = time.Now().Add(time.Duration(ps.tries) * time.Second)
}

// onProgramExit applies supervisor's rules to the exit of a program's process.
func (s *Supervisor) onProgramExit(j *job, p *process, ex proc.Exit) {
	ps := &j.prog
	j.procs = slices.DeleteFunc(j.procs, func(q *process) bool { return q == p })
	now := time.Now()
	ps.stop, ps.pid = now, 0
	ps.exitStatus, ps.lastSignal = ex.Code, ex.Signal
	if ex.Signal != 0 {
		ps.exitStatus = -1 // killed by a signal: never an expected exit
	}
	e := Event{Pid: p.id, OSPid: p.osPid}
	if ps.state != StateStopping {
		s.propagate(j) // it died: propagating dependents restart
	}
	switch ps.state {
	case StateStopping:
		s.setState(j, StateStopped, e)
		if j.propRestart && !s.shutting {
			// Stopped because a dependency went away: start again once
			// the dependencies hold, whatever autorestart says.
			j.propRestart = false
			j.depHeld = true
			j.stopped = false
			s.markDirty(j)
		}
		return
	case StateStarting:
		if p.cfg.PIDFile != "" && !p.daemon.adopted {
			// The launcher failed, or its daemon could not be adopted.
			ps.spawnErr = cmp.Or(p.daemon.err, "launcher ended before its daemon was adopted")
			s.backoff(j)
			return
		}
		if now.Sub(ps.start) <= j.cfg.Program.StartSecs {
			ps.spawnErr = "Exited too quickly (process log may have details)"
			s.backoff(j)
			return
		}
		// Up long enough, but the exit beat the promotion: both events.
		s.setState(j, StateRunning, e)
		ps.tries = 0
	}
	if ps.state != StateRunning {
		return
	}
	expected := ex.Signal == 0 && slices.Contains(j.cfg.Program.ExitCodes, ex.Code)
	ps.runningAt = time.Time{}
	e.Expected = expected
	s.setState(j, StateExited, e)
	ps.tries = 0
	if s.shutting || j.stopped {
		return
	}
	switch j.cfg.Program.AutoRestart {
	case RestartAlways:
		s.startProgramGated(j)
	case RestartUnexpected:
		if !expected {
			s.startProgramGated(j)
		}
	}
}

// stopProgram stops the program: STARTING/RUNNING → STOPPING (stop signal),
// BACKOFF → STOPPED (or FATAL when the whole daemon stops).
func (s *Supervisor) stopProgram(j *job, shutdown bool) error {
	ps := &j.prog
	j.stopped, j.target = true, 0
	held := j.depHeld
	s.clearHeld(j)
	switch ps.state {
	case StateBackoff:
		j.restartAt = time.Time{}
		if shutdown {
			s.setState(j, StateFatal, Event{})
		} else {
			s.setState(j, StateStopped, Event{})
		}
		return nil
	case StateStarting, StateRunning:
		ps.runningAt = time.Time{}
		for _, p := range j.procs {
			s.setState(j, StateStopping, Event{Pid: p.id, OSPid: p.osPid})
			s.stopProc(p)
		}
		s.propagate(j)
		return nil
	}
	if held {
		return nil // it was waiting to start: now it will not
	}
	return fmt.Errorf("stop %q: %w", j.full, ErrNotRunning)
}

func (s *Supervisor) onProgramDeadlines(now time.Time, j *job) {
	ps := &j.prog
	if !ps.runningAt.IsZero() && !now.Before(ps.runningAt) && ps.state == StateStarting {
		ps.runningAt = time.Time{}
		var e Event
		if len(j.procs) > 0 {
			e = Event{Pid: j.procs[0].id, OSPid: j.procs[0].osPid}
		}
		s.setState(j, StateRunning, e)
		ps.tries = 0
	}
	if !j.restartAt.IsZero() && !now.Before(j.restartAt) {
		j.restartAt = time.Time{}
		if ps.state == StateBackoff && !s.shutting && s.depsHold(j) {
			s.startProgram(j)
		}
	}
}

func (s *Supervisor) programJob(name string) (*job, error) {
	j, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if j.cfg.Program == nil {
		return nil, fmt.Errorf("%q: %w", j.full, ErrNotProgram)
	}
	return j, nil
}

// checkCommand is supervisor's pre-spawn check: NO_FILE or NOT_EXECUTABLE.
func checkCommand(j *job) error {
	env := buildEnv(&j.cfg, j.sessionEnv, nil)
	prog, _, err := commandLine(&j.cfg, env)
	if err != nil {
		return fmt.Errorf("%q: %w: %v", j.full, ErrNoFile, err)
	}
	if _, err := proc.LookPath(prog, env["PATH"], j.cfg.Cwd); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%s: %w", prog, ErrNotExecutable)
		}
		return fmt.Errorf("%s: %w", prog, ErrNoFile)
	}
	return nil
}

// StartProgram starts a supervisor program. With wait, it returns once the
// process is RUNNING, or ErrSpawnError / ErrAbnormalTermination when it is not
// going to be (supervisor's startProcess).
func (s *Supervisor) StartProgram(ctx context.Context, name string, wait bool) error {
	done := make(chan error, 1)
	err := s.do(ctx, func() error {
		j, err := s.programJob(name)
		if err != nil {
			return err
		}
		ps := &j.prog
		if ps.state.Running() {
			return fmt.Errorf("%q: %w", j.full, ErrAlreadyStarted)
		}
		if ps.state == StateStopping {
			// supervisord tries, finds the process still there and does
			// nothing: a waiting caller learns it did not start.
			if wait {
				return fmt.Errorf("%q is stopping: %w", j.full, ErrAbnormalTermination)
			}
			done <- nil
			return nil
		}
		if err := checkCommand(j); err != nil {
			return err
		}
		s.startProgramGated(j)
		check := func() bool {
			switch {
			case j.depHeld && !j.stopped:
				return false // waiting for its dependencies
			case ps.spawnErr != "":
				done <- fmt.Errorf("%q: %s: %w", j.full, ps.spawnErr, ErrSpawnError)
			case ps.state == StateRunning:
				done <- nil
			case ps.state != StateStarting:
				done <- fmt.Errorf("%q: %w", j.full, ErrAbnormalTermination)
			default:
				return false
			}
			return true
		}
		if !wait {
			if ps.spawnErr != "" {
				return fmt.Errorf("%q: %s: %w", j.full, ps.spawnErr, ErrSpawnError)
			}
			done <- nil
			return nil
		}
		if !check() {
			ps.waiters = append(ps.waiters, check)
		}
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StopProgram stops a supervisor program; with wait it returns once the
// process is in a stopped state.
func (s *Supervisor) StopProgram(ctx context.Context, name string, wait bool) error {
	done := make(chan error, 1)
	err := s.do(ctx, func() error {
		j, err := s.programJob(name)
		if err != nil {
			return err
		}
		if !j.prog.state.Running() && !j.depHeld {
			return fmt.Errorf("%q: %w", j.full, ErrNotRunning)
		}
		if err := s.stopProgram(j, false); err != nil {
			return err
		}
		check := func() bool {
			if j.prog.state.Stopped() {
				done <- nil
				return true
			}
			return false
		}
		if !wait {
			done <- nil
		} else if !check() {
			j.prog.waiters = append(j.prog.waiters, check)
		}
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StopPrograms stops several programs in one step, signalling them in the
// order given, as supervisord's stopProcessGroup and stopAllProcesses do in
// one pass (callers pass reverse priority order). With wait it returns once
// every program it stopped is in a stopped state. The result has one entry
// per name: nil, or why that program was not stopped (ErrNotFound,
// ErrNotProgram, ErrNotRunning).
func (s *Supervisor) StopPrograms(ctx context.Context, names []string, wait bool) ([]error, error) {
	errs := make([]error, len(names))
	done := make(chan struct{})
	err := s.do(ctx, func() error {
		var stopping []*job
		for i, name := range names {
			j, err := s.programJob(name)
			if err == nil && !j.prog.state.Running() && !j.depHeld {
				err = fmt.Errorf("%q: %w", j.full, ErrNotRunning)
			}
			if err == nil {
				err = s.stopProgram(j, false)
			}
			if errs[i] = err; err == nil && wait && !j.prog.state.Stopped() && !slices.Contains(stopping, j) {
				stopping = append(stopping, j)
			}
		}
		// Every signal is sent: now wait for the processes to go.
		left := len(stopping)
		if left == 0 {
			close(done)
		}
		for _, j := range stopping {
			j.prog.waiters = append(j.prog.waiters, func() bool {
				if !j.prog.state.Stopped() {
					return false
				}
				if left--; left == 0 {
					close(done)
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	select {
	case <-done:
		return errs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SignalProgram sends sig to a program's process (supervisor's
// signalProcess): ErrNotRunning unless it is STARTING, RUNNING or STOPPING.
func (s *Supervisor) SignalProgram(ctx context.Context, name string, sig syscall.Signal) error {
	return s.do(ctx, func() error {
		j, err := s.programJob(name)
		if err != nil {
			return err
		}
		if !j.prog.state.Signallable() || len(j.procs) == 0 {
			return fmt.Errorf("%q: %w", j.full, ErrNotRunning)
		}
		for _, p := range j.procs {
			s.signal(p, sig)
		}
		return nil
	})
}

// Programs describes supervisor programs (every job with a Program), sorted
// by group then name.
func (s *Supervisor) Programs(ctx context.Context) ([]ProgramInfo, error) {
	var out []ProgramInfo
	err := s.do(ctx, func() error {
		var jobs []*job
		for _, sn := range s.sessionSeq {
			sess := s.sessions[sn]
			for _, jn := range sess.seq {
				if j := sess.jobs[jn]; j.cfg.Program != nil {
					jobs = append(jobs, j)
				}
			}
		}
		// Sort the jobs, not the infos: those are large to move.
		slices.SortFunc(jobs, func(a, b *job) int {
			return cmp.Or(strings.Compare(a.session, b.session), strings.Compare(a.name, b.name))
		})
		out = make([]ProgramInfo, len(jobs))
		for i, j := range jobs {
			out[i] = s.programInfo(j)
		}
		return nil
	})
	return out, err
}

func (s *Supervisor) programInfo(j *job) ProgramInfo {
	ps := &j.prog
	info := ProgramInfo{Name: j.name, Group: j.session, State: ps.state, Start: ps.start, Stop: ps.stop,
		SpawnErr: ps.spawnErr, ExitStatus: ps.exitStatus, Pid: ps.pid, Logs: j.logPaths(),
		Priority: j.cfg.Priority, Waiting: j.depWait, Health: j.health(), Config: j.cfg}
	if len(j.procs) > 0 && ps.pid != 0 {
		info.ID = j.procs[0].id
	}
	return info
}

// Program describes one supervisor program by full job name.
func (s *Supervisor) Program(ctx context.Context, name string) (ProgramInfo, error) {
	var info ProgramInfo
	err := s.do(ctx, func() error {
		j, err := s.programJob(name)
		if err != nil {
			return err
		}
		info = s.programInfo(j)
		return nil
	})
	return info, err
}

// ClearLogs truncates a job's log files and removes their backups
// (supervisor's clearProcessLogs).
func (s *Supervisor) ClearLogs(ctx context.Context, name string) error {
	var ws []interface{ Clear() error }
	err := s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		if j.logs != nil {
			for _, sl := range j.logs.shared {
				ws = append(ws, sl.w)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// File I/O happens outside the loop.
	var errs []error
	for _, w := range ws {
		errs = append(errs, w.Clear())
	}
	return errors.Join(errs...)
}

// FollowLog streams a job's log file for one output label, from offset
// (negative: the last -offset bytes) and then as it grows, until ctx ends or
// the log is closed (supervisorctl tail -f).
func (s *Supervisor) FollowLog(ctx context.Context, name, label string, offset int64) (<-chan []byte, error) {
	var w interface {
		Follow(context.Context, int64) (<-chan []byte, error)
	}
	err := s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		if j.logs == nil || j.logs.ws[label] == nil {
			return fmt.Errorf("%q has no %s log: %w", j.full, label, ErrNoFile)
		}
		w = j.logs.ws[label]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w.Follow(ctx, offset)
}
