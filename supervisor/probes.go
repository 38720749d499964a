package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/gafferhq/gaffer/internal/proc"
)

// Probes (readiness, liveness) and sd_notify.
//
// Each live supervised process of a job with a probe gets its own prober,
// started after the spawn and stopped when the process is reaped. A prober
// checks on its own goroutine and reports a decided status (and every later
// change) to the loop through the request channel; the loop owns the
// process's ready flag and health. A readiness change publishes healthy or
// unhealthy and re-evaluates the job's dependents. A liveness failure
// restarts the process (a graceful stop; the exit counts as a crash for
// flapping, backoff and autorestart).
//
// Exec probes are spawned through internal/proc and reaped by the loop's
// own reaper, which hands the exit status to the waiting prober: gafferd
// reaps every pid, so os/exec's Wait would race with it.
//
// A notify readiness probe is sd_notify: the engine opens one datagram
// socket (Options.NotifySocket), sets NOTIFY_SOCKET in the process's
// environment, and marks the process ready when READY=1 arrives from its
// OS pid or one of its descendants.

// stopper is a running prober.
type stopper interface{ Stop() }

// probeResult is what a prober reports: the decided status and its detail
// ("HTTP 200", "exit status 1").
type probeResult struct {
	healthy bool
	detail  string
}

// notifyMsg is one sd_notify datagram: its sender and variables.
type notifyMsg struct {
	pid  int
	vars map[string]string
}

// healthState is the loop's probe bookkeeping.
type healthState struct {
	notifier   notifier
	notifyPath string
	notifyErr  error
	waits      map[int]chan proc.Exit // exec probe pid → its waiter
}

type notifier interface {
	Path() string
	Close() error
}

// startProbes starts the probers of a freshly spawned supervised process.
func (s *Supervisor) startProbes(p *process) {
	cfg := &p.cfg
	p.ready = cfg.Readiness == nil
	if p.committed || (cfg.Readiness == nil && cfg.Liveness == nil) {
		return
	}
	p.health = HealthStarting
	env, dir := envList(p.env), cfg.Cwd
	for _, pr := range []struct {
		which string
		spec  *Probe
	}{{"readiness", cfg.Readiness}, {"liveness", cfg.Liveness}} {
		if pr.spec == nil || pr.spec.Kind == ProbeNotify {
			continue
		}
		var argv []string
		if pr.spec.Kind == ProbeExec {
			argv, _ = SplitCommand(pr.spec.Command) // validated at load
		}
		which := pr.which
		report := func(r probeResult) {
			select {
			case s.reqs <- func() { s.onProbe(p, which, r) }:
			case <-s.done:
			}
		}
		st, err := startProber(*pr.spec, argv, env, dir, s.runProbe, report)
		if err != nil {
			s.log.Error("cannot start probe", "job", p.job.full, "pid", p.id, "probe", which, "err", err)
			continue
		}
		p.probers = append(p.probers, st)
	}
}

// stopProbes stops a process's probers. Stop waits for a check in flight,
// whose report may be waiting for this very loop: it runs on its own
// goroutine, and reports that arrive later find the process gone.
func (s *Supervisor) stopProbes(p *process) {
	ps := p.probers
	p.probers = nil
	for _, pr := range ps {
		go pr.Stop()
	}
}

// onProbe applies a prober's report in the loop.
func (s *Supervisor) onProbe(p *process, which string, r probeResult) {
	if s.procs[p.id] != p || p.stopping {
		return // reaped or stopping meanwhile
	}
	detail := which + ": " + r.detail
	p.lastProbe = detail
	j := p.job
	switch {
	case which == "liveness" && !r.healthy:
		p.liveFails = true
		s.setHealth(p, HealthUnhealthy, detail+"; restarting")
		s.log.Warn("liveness probe failed; restarting the process", "job", j.full, "pid", p.id, "result", r.detail)
		s.restartProc(p)
	case which == "liveness":
		if j.cfg.Readiness == nil {
			s.setHealth(p, HealthHealthy, detail)
		}
	default:
		p.ready = r.healthy
		h := HealthUnhealthy
		if r.healthy {
			h = HealthHealthy
		}
		s.setHealth(p, h, detail)
		s.touch(j)
	}
}

// setHealth records a process's health and publishes its change.
func (s *Supervisor) setHealth(p *process, h, reason string) {
	if p.health == h {
		return
	}
	p.health = h
	j := p.job
	e := Event{Pid: p.id, OSPid: p.osPid, Reason: reason}
	s.publish(h, j.full, e)
	s.publish("job."+j.full+"."+h, j.full, e)
	s.publish("proc."+strconv.Itoa(p.id)+"."+h, j.full, e)
}

// restartProc stops a process that failed its liveness probe. It stays in
// the job's list until reaped, so its exit counts as a crash: flapping,
// backoff and (for a program) autorestart apply, and no replacement starts
// before it is gone.
func (s *Supervisor) restartProc(p *process) {
	s.publish("stop_process", p.job.full, Event{Pid: p.id})
	s.stopProc(p)
}

// runProbe runs an exec probe's command: started by the loop, so that its
// pid is known to the reaper before it can exit, and waited for through the
// loop's reaper. It returns the exit status (128+signal when killed) and up
// to 4 KiB of combined output.
func (s *Supervisor) runProbe(ctx context.Context, argv, env []string, dir string) (int, string, error) {
	if len(argv) == 0 {
		return -1, "", fmt.Errorf("exec probe without a command")
	}
	type started struct {
		op  *proc.Process
		ch  chan proc.Exit
		err error
	}
	res := make(chan started, 1)
	req := func() {
		op, err := proc.Start(proc.Spec{Path: argv[0], Args: argv[1:], Env: env, Dir: dir, Umask: -1,
			Stdout: true, Stderr: true, MergeStderr: true})
		if err != nil {
			res <- started{err: err}
			return
		}
		ch := make(chan proc.Exit, 1)
		if s.health.waits == nil {
			s.health.waits = map[int]chan proc.Exit{}
		}
		s.health.waits[op.Pid] = ch
		res <- started{op: op, ch: ch}
	}
	select {
	case s.reqs <- req:
	case <-s.done:
		return -1, "", ErrShuttingDown
	case <-ctx.Done():
		return -1, "", ctx.Err()
	}
	st := <-res
	if st.err != nil {
		return -1, "", st.err
	}
	out := make(chan string, 1)
	go func() {
		defer st.op.Stdout.Close()
		buf := make([]byte, 4096)
		n := 0
		for n < len(buf) {
			m, err := st.op.Stdout.Read(buf[n:])
			n += m
			if err != nil {
				break
			}
		}
		out <- string(buf[:n])
		_, _ = io.Copy(io.Discard, st.op.Stdout) // the rest, so a chatty probe never blocks
	}()
	select {
	case ex := <-st.ch:
		code := ex.Code
		if ex.Signal != 0 {
			code = 128 + ex.Signal
		}
		return code, <-out, nil
	case <-ctx.Done():
		// Killed in the loop, where the pid is known to be unreaped.
		pid := st.op.Pid
		kill := func() {
			if s.health.waits[pid] != nil {
				_ = proc.Signal(pid, syscall.SIGKILL, true)
			}
		}
		select {
		case s.reqs <- kill:
		case <-s.done:
		}
		return -1, "", ctx.Err()
	case <-s.done:
		return -1, "", ErrShuttingDown
	}
}

// reapProbe hands the exit of an exec probe's pid to its waiter; false
// when pid is not a probe.
func (s *Supervisor) reapProbe(pid int, ex proc.Exit) bool {
	ch := s.health.waits[pid]
	if ch == nil {
		return false
	}
	delete(s.health.waits, pid)
	ch <- ex
	return true
}

// reapOwnProbes reaps the exec probes (when the supervisor reaps only its
// own pids).
func (s *Supervisor) reapOwnProbes() {
	for pid := range s.health.waits {
		if ex, ok := proc.Reap(pid); ok {
			s.reapProbe(pid, ex)
		}
	}
}

// notifySocket returns the sd_notify socket path, opening the socket on
// first use.
func (s *Supervisor) notifySocket() (string, error) {
	if s.health.notifier != nil {
		return s.health.notifyPath, nil
	}
	path := s.opts.NotifySocket
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("gaffer-notify-%d-%p.sock", os.Getpid(), s))
	}
	n, err := listenNotify(path, func(m notifyMsg) {
		select {
		case s.reqs <- func() { s.onNotify(m) }:
		case <-s.done:
		}
	})
	if err != nil {
		return "", fmt.Errorf("sd_notify socket %s: %w", path, err)
	}
	s.health.notifier, s.health.notifyPath = n, n.Path()
	return s.health.notifyPath, nil
}

// closeNotify closes the sd_notify socket, if open.
func (s *Supervisor) closeNotify() {
	if n := s.health.notifier; n != nil {
		_ = n.Close()
		if s.opts.NotifySocket == "" {
			_ = os.Remove(s.health.notifyPath)
		}
		s.health.notifier = nil
	}
}

// onNotify marks ready the process that sent READY=1: the one with the
// sender's pid, else the one the sender descends from.
func (s *Supervisor) onNotify(m notifyMsg) {
	if m.vars["READY"] != "1" {
		return
	}
	p := s.byOS[m.pid]
	if p == nil {
		for _, q := range s.procs {
			if r := q.cfg.Readiness; r != nil && r.Kind == ProbeNotify && !q.stopping &&
				slices.Contains(proc.Descendants(q.osPid), m.pid) {
				p = q
				break
			}
		}
	}
	if p == nil || p.stopping || p.cfg.Readiness == nil || p.cfg.Readiness.Kind != ProbeNotify || p.ready {
		return
	}
	p.ready = true
	p.lastProbe = "readiness: READY=1"
	s.setHealth(p, HealthHealthy, p.lastProbe)
	s.touch(p.job)
}
