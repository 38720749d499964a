package supervisor

import (
	"context"
	"slices"
	"time"

	"github.com/gafferhq/gaffer/internal/proc"
)

// Observer receives the measurements the supervisor takes for metrics
// (internal/metrics turns them into Prometheus counters and histograms).
// Set it in Options.Observer.
//
// Every method is called from the supervisor's loop: an Observer must
// return at once (an atomic add, a histogram observation), never block and
// never call the Supervisor. Readers of what it records run on other
// goroutines, so it must be safe for concurrent use.
type Observer interface {
	// Spawned reports one successful fork/exec of a process of job (full
	// name) and how long proc.Start took.
	Spawned(job string, d time.Duration)
	// Exited reports one reaped process of job: status is its exit code, or
	// 128+signal when a signal ended it (signal is then that signal, else 0).
	Exited(job string, status, signal int)
	// Reaped reports one SIGCHLD wake-up of the loop: the time from the loop
	// taking the signal to every exited child being reaped and handled.
	Reaped(d time.Duration)
}

// timed records how long the plan's proc.Start took; deferred by start.
func (pl *spawnPlan) timed(t0 time.Time) { pl.took = time.Since(t0) }

// observeSpawn reports a registered process's fork/exec time.
func (s *Supervisor) observeSpawn(pl *spawnPlan) {
	if s.opts.Observer != nil {
		s.opts.Observer.Spawned(pl.j.full, pl.took)
	}
}

// observeExit reports a reaped process.
func (s *Supervisor) observeExit(p *process, ex proc.Exit) {
	if s.opts.Observer != nil {
		s.opts.Observer.Exited(p.job.full, ex.Code, ex.Signal)
	}
}

// observeReap reports one reap pass that began at t0; deferred by reap.
func (s *Supervisor) observeReap(t0 time.Time) {
	if s.opts.Observer != nil {
		s.opts.Observer.Reaped(time.Since(t0))
	}
}

// Census is every job and every unreaped process at one instant, as cheap
// to take as the loop can make it: no config is copied, no JSON built. It
// is what a metrics scrape reads, in one request to the loop.
type Census struct {
	Jobs      []JobCensus     // in session then load order
	Processes []ProcessCensus // every child not yet reaped (stopping ones too), by pid
	Events    BusCounts       // the event bus (Subscribe)
	Output    BusCounts       // the output bus (SubscribeOutput)
}

// JobCensus is one loaded job.
type JobCensus struct {
	Name    string // full name, session.job
	Session string
	Running int  // live processes, committed ones included
	Desired int  // the target number of supervised processes
	Stopped bool // stopped by a user, flapping, or never started
	Program bool // a supervisor program: State is its state
	State   State
	Logs    []LogCount // bytes written to each output label's log file, by label
}

// LogCount is the bytes written to the log file of one output label since
// the file was opened (its first spawn, or the last change of its log
// settings). Labels logging to the same file share one count.
type LogCount struct {
	Label string
	Bytes uint64
}

// ProcessCensus is one process not yet reaped.
type ProcessCensus struct {
	Pid       int // gaffer's pid, as the API names it
	OSPid     int
	Job       string // full job name
	Session   string
	State     State // the program's state; RUNNING or STOPPING for gaffer jobs
	Started   time.Time
	Committed bool
}

// BusCounts are an event bus's totals since the supervisor was created.
type BusCounts struct {
	Published uint64 // events published
	Dropped   uint64 // events a full subscriber queue lost (dropped, or closed on)
}

// Census takes a census of jobs and processes in one step of the loop.
func (s *Supervisor) Census(ctx context.Context) (Census, error) {
	var c Census
	err := s.do(ctx, func() error {
		n := 0
		for _, sess := range s.sessions {
			n += len(sess.jobs)
		}
		c.Jobs = make([]JobCensus, 0, n)
		for _, sn := range s.sessionSeq {
			sess := s.sessions[sn]
			for _, jn := range sess.seq {
				j := sess.jobs[jn]
				jc := JobCensus{Name: j.full, Session: j.session, Running: len(j.procs) + len(j.once), Desired: j.target, Stopped: j.stopped, Program: j.cfg.Program != nil, State: j.prog.state}
				if j.logs != nil {
					jc.Logs = make([]LogCount, 0, len(j.logs.ws))
					for label, w := range j.logs.ws {
						jc.Logs = append(jc.Logs, LogCount{Label: label, Bytes: w.BytesWritten()})
					}
				}
				c.Jobs = append(c.Jobs, jc)
			}
		}
		c.Processes = make([]ProcessCensus, 0, len(s.procs))
		for _, p := range s.procs {
			pc := ProcessCensus{Pid: p.id, OSPid: p.osPid, Job: p.job.full, Session: p.job.session,
				State: StateRunning, Started: p.started, Committed: p.committed}
			switch {
			case p.stopping:
				pc.State = StateStopping
			case p.job.cfg.Program != nil && !p.committed:
				pc.State = p.job.prog.state
			}
			c.Processes = append(c.Processes, pc)
		}
		slices.SortFunc(c.Processes, func(a, b ProcessCensus) int { return a.Pid - b.Pid })
		return nil
	})
	c.Events = BusCounts{s.events.Published(), s.events.Dropped()}
	c.Output = BusCounts{s.output.Published(), s.output.Dropped()}
	return c, err
}
