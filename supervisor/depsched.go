package supervisor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/deps"
)

// ErrCycle: a load or update would make the jobs' dependencies circular.
// The error text names the path ("a -> b -> a"). It is deps.ErrCycle, so
// either sentinel matches.
var ErrCycle = deps.ErrCycle

// Dependency scheduling (see the README's "Dependencies and health").
//
// A job with DependsOn starts only when every dependency's condition holds;
// until then it is held: it spawns nothing and shows "waiting for <dep>:
// <condition>" (the first unmet dependency). The loop keeps a reverse
// index, dependency name → dependents, and re-evaluates exactly the
// dependents of a job whose state changed (spawn, exit, program state,
// readiness, load, unload): they are marked dirty and settled at the start
// of each spawn batch, so dependents freed at once start in one batch. A
// "started" dependency with a delay arms the loop's single timer for
// spawn+delay; nothing polls.

// depFull resolves a dependency of j to a full job name: a name without a
// session is in j's session.
func depFull(j *job, d Dependency) string {
	if strings.ContainsAny(d.Job, "./") {
		sn, jn := ParseName(d.Job)
		return sn + "." + jn
	}
	return j.session + "." + d.Job
}

// indexDeps adds j's dependencies to the reverse index; unindexDeps removes
// them. Both use j.cfg, so call unindex before a config change and index
// after it.
func (s *Supervisor) indexDeps(j *job) {
	for _, d := range j.cfg.DependsOn {
		n := depFull(j, d)
		if !slices.Contains(s.dependents[n], j) {
			s.dependents[n] = append(s.dependents[n], j)
		}
	}
}

func (s *Supervisor) unindexDeps(j *job) {
	for _, d := range j.cfg.DependsOn {
		n := depFull(j, d)
		s.dependents[n] = slices.DeleteFunc(s.dependents[n], func(x *job) bool { return x == j })
		if len(s.dependents[n]) == 0 {
			delete(s.dependents, n)
		}
	}
}

// touch records that j's state changed: its dependents are re-evaluated
// before the next spawn batch.
func (s *Supervisor) touch(j *job) { s.touchName(j.full) }

func (s *Supervisor) touchName(full string) {
	for _, d := range s.dependents[full] {
		if !s.depDirtySet[d] {
			s.depDirtySet[d] = true
			s.depDirty = append(s.depDirty, d)
		}
	}
}

// settleDeps re-evaluates the dirty dependents: a held job whose
// dependencies now hold is started (its spawn joins the current batch), a
// held job still waiting gets its new reason.
func (s *Supervisor) settleDeps() {
	for range 1 << 16 {
		if len(s.depDirty) == 0 {
			return
		}
		dirty := s.depDirty
		s.depDirty, s.depDirtySet = nil, map[*job]bool{}
		for _, j := range dirty {
			if s.loaded(j) {
				s.retryHeld(j)
			}
		}
	}
}

// retryHeld starts j if it is held by its dependencies and they now hold.
func (s *Supervisor) retryHeld(j *job) {
	if !j.depHeld || s.shutting {
		return
	}
	if j.cfg.Program != nil {
		if j.stopped || !(j.prog.state.Stopped() || j.prog.state == StateBackoff) {
			j.depHeld = false
			s.setWaiting(j, "")
			return
		}
		if s.depsHold(j) {
			s.startProgramLater(j)
		}
		return
	}
	s.manage(j)
}

// depsHold evaluates j's dependencies now. When one is unmet, j is held
// (depHeld), shows the reason, and a delayed "started" dependency arms the
// timer; otherwise j is free to start.
func (s *Supervisor) depsHold(j *job) bool {
	if len(j.cfg.DependsOn) == 0 {
		j.depHeld, j.depAt = false, time.Time{}
		s.setWaiting(j, "")
		return true
	}
	reason, at := s.unmet(j, time.Now())
	j.depAt = at
	j.depHeld = reason != ""
	s.setWaiting(j, reason)
	return reason == ""
}

// setWaiting sets j's waiting reason and publishes a waiting event when it
// changes to a new non-empty reason.
func (s *Supervisor) setWaiting(j *job, reason string) {
	if reason == j.depWait {
		return
	}
	j.depWait = reason
	if reason == "" {
		return
	}
	s.log.Info("job waiting for a dependency", "job", j.full, "reason", reason)
	e := Event{Reason: reason}
	s.publish("waiting", j.full, e)
	s.publish("job."+j.full+".waiting", j.full, e)
}

// clearHeld forgets that j waits for its dependencies (it was stopped).
func (s *Supervisor) clearHeld(j *job) {
	j.depHeld, j.depAt = false, time.Time{}
	s.setWaiting(j, "")
}

// unmet returns the reason of j's first unmet dependency ("" when all
// hold) and, when that one is a "started" dependency whose delay has not
// passed yet, the time it will.
func (s *Supervisor) unmet(j *job, now time.Time) (string, time.Time) {
	for _, d := range j.cfg.DependsOn {
		dep := s.jobByFull(depFull(j, d))
		if dep == nil {
			return fmt.Sprintf("waiting for %s: not loaded", d.Job), time.Time{}
		}
		if ok, at := s.holds(dep, d, now); !ok {
			return fmt.Sprintf("waiting for %s: %s", d.Job, d.condition()), at
		}
	}
	return "", time.Time{}
}

func (s *Supervisor) jobByFull(full string) *job {
	sn, jn := ParseName(full)
	if sess := s.sessions[sn]; sess != nil {
		return sess.jobs[jn]
	}
	return nil
}

// holds reports whether dependency d on dep is met at now; when it is not
// only because of d.Delay, at is when it will be.
func (s *Supervisor) holds(dep *job, d Dependency, now time.Time) (ok bool, at time.Time) {
	switch d.condition() {
	case Completed:
		return dep.completed(), time.Time{}
	case Healthy:
		if dep.cfg.Readiness != nil {
			return dep.healthy(), time.Time{}
		}
	}
	first := dep.upSince()
	if first.IsZero() {
		return false, time.Time{}
	}
	if t := first.Add(d.Delay); now.Before(t) {
		return false, t
	}
	return true, time.Time{}
}

// upSince is when j's oldest live supervised process was spawned, zero when
// it has none (or, for a program, when it is not RUNNING).
func (j *job) upSince() time.Time {
	if len(j.procs) == 0 {
		return time.Time{}
	}
	if j.cfg.Program != nil && j.prog.state != StateRunning {
		return time.Time{}
	}
	return j.procs[0].started
}

// healthy: at least one live supervised process, and every one is ready.
func (j *job) healthy() bool {
	if len(j.procs) == 0 {
		return false
	}
	for _, p := range j.procs {
		if !p.ready {
			return false
		}
	}
	return true
}

// completed: a program in EXITED after an expected exit status 0 (so not
// restarted); a gaffer job with no target (numprocesses 0 or stopped), no
// live process, whose last process (committed or not) exited with status 0.
func (j *job) completed() bool {
	if j.cfg.Program != nil {
		return j.prog.state == StateExited && j.prog.exitStatus == 0 && j.prog.lastSignal == 0 &&
			slices.Contains(j.cfg.Program.ExitCodes, 0)
	}
	return (j.target == 0 || j.stopped) && j.alive == 0 && j.lastExitSet && j.lastExit.Code == 0 && j.lastExit.Signal == 0
}

// propagate stops, at once, the running dependents of dep that depend on it
// with Propagate, and starts them again once their dependencies hold
// (regardless of their own restart rules). Operator-stopped dependents are
// left alone. Called when dep dies, is stopped or is restarted; cascades
// through the dependents' own propagating dependents.
func (s *Supervisor) propagate(dep *job) {
	if s.shutting {
		return
	}
	for _, d := range slices.Clone(s.dependents[dep.full]) {
		if d == dep || !s.loaded(d) || !propagatesFrom(d, dep.full) {
			continue
		}
		s.restartDependent(d, dep)
	}
}

func propagatesFrom(d *job, full string) bool {
	for _, dd := range d.cfg.DependsOn {
		if dd.Propagate && depFull(d, dd) == full {
			return true
		}
	}
	return false
}

func (s *Supervisor) restartDependent(d, dep *job) {
	if d.cfg.Program != nil {
		switch st := d.prog.state; {
		case st == StateStarting || st == StateRunning:
			s.log.Info("dependency went away; stopping its dependent", "job", d.full, "dependency", dep.full)
			_ = s.stopProgram(d, false)
			d.propRestart = true // started again when reaped (onProgramExit)
		case (st == StateExited || st == StateStopped) && !d.stopped:
			// Down already (exited, or not yet started): started again
			// once the dependency is back, as gaggled does.
			d.depHeld = true
			s.markDirty(d)
		}
		return
	}
	if d.stopped {
		return
	}
	ps := d.procs
	d.procs = nil
	if len(ps) > 0 {
		s.log.Info("dependency went away; restarting its dependent", "job", d.full, "dependency", dep.full)
	}
	for _, p := range ps {
		p.propagated = true
		d.draining++
		s.publish("stop_process", d.full, Event{Pid: p.id})
		s.stopProc(p)
	}
	if len(ps) > 0 {
		s.propagate(d)
	}
	d.depHeld = true
	s.markDirty(d)
}

func (s *Supervisor) markDirty(j *job) {
	if !s.depDirtySet[j] {
		s.depDirtySet[j] = true
		s.depDirty = append(s.depDirty, j)
	}
}

// checkGraph refuses a change that would create a dependency cycle.
// override maps full job names to their new config (nil: removed); other
// loaded jobs keep theirs. Dependencies on jobs that are not loaded are
// allowed (the dependent waits) and ignored here.
func (s *Supervisor) checkGraph(override map[string]*JobConfig) error {
	anyDeps := false
	for _, c := range override {
		if c != nil && len(c.DependsOn) > 0 {
			anyDeps = true
		}
	}
	if !anyDeps {
		return nil // no new edge, no new cycle
	}
	type node struct {
		session string
		cfg     *JobConfig
	}
	nodes := map[string]node{}
	var names []string
	for _, sn := range s.sessionSeq {
		sess := s.sessions[sn]
		for _, jn := range sess.seq {
			j := sess.jobs[jn]
			if _, ok := override[j.full]; ok {
				continue
			}
			nodes[j.full] = node{j.session, &j.cfg}
			names = append(names, j.full)
		}
	}
	for _, full := range slices.Sorted(maps.Keys(override)) {
		if c := override[full]; c != nil {
			sn, _ := ParseName(full)
			nodes[full] = node{sn, c}
			names = append(names, full)
		}
	}
	edges := map[string][]string{}
	for _, n := range names {
		nd := nodes[n]
		fake := &job{session: nd.session}
		for _, d := range nd.cfg.DependsOn {
			if t := depFull(fake, d); nodes[t].cfg != nil {
				edges[n] = append(edges[n], t)
			}
		}
	}
	if _, err := deps.New(names, edges); err != nil {
		var cycles []string
		for _, e := range unwrapAll(err) {
			if errors.Is(e, deps.ErrCycle) {
				cycles = append(cycles, strings.TrimPrefix(e.Error(), deps.ErrCycle.Error()+": "))
			}
		}
		if len(cycles) > 0 {
			return fmt.Errorf("%w: %s", ErrCycle, strings.Join(cycles, "; "))
		}
		return err
	}
	return nil
}

func unwrapAll(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{err}
}

// DependencyInfo is one job in the dependency view (GET /deps).
type DependencyInfo struct {
	Name string `json:"name"` // full job name
	// State is RUNNING, STOPPED, WAITING (held by a dependency), PAUSED
	// (flapping or backoff), IDLE (started with nothing to run), or a
	// supervisor program's state name.
	State     string             `json:"state"`
	Waiting   string             `json:"waiting,omitempty"` // "waiting for db: healthy"
	Health    string             `json:"health,omitempty"`  // "", starting, healthy, unhealthy
	DependsOn []DependencyStatus `json:"depends_on"`
}

// DependencyStatus is one dependency of a job and whether it holds now.
type DependencyStatus struct {
	Job       string    `json:"job"` // full name of the dependency
	Condition Condition `json:"condition"`
	Delay     float64   `json:"delay"` // seconds
	Propagate bool      `json:"propagate"`
	Loaded    bool      `json:"loaded"`
	Satisfied bool      `json:"satisfied"`
}

// Dependencies describes every job with its dependencies, in session then
// load order.
func (s *Supervisor) Dependencies(ctx context.Context) ([]DependencyInfo, error) {
	out := []DependencyInfo{}
	err := s.do(ctx, func() error {
		now := time.Now()
		for _, sn := range s.sessionSeq {
			sess := s.sessions[sn]
			for _, jn := range sess.seq {
				j := sess.jobs[jn]
				di := DependencyInfo{Name: j.full, State: j.stateWord(), Waiting: j.depWait,
					Health: j.health(), DependsOn: []DependencyStatus{}}
				for _, d := range j.cfg.DependsOn {
					full := depFull(j, d)
					st := DependencyStatus{Job: full, Condition: d.condition(), Delay: d.Delay.Seconds(), Propagate: d.Propagate}
					if dep := s.jobByFull(full); dep != nil {
						st.Loaded = true
						st.Satisfied, _ = s.holds(dep, d, now)
					}
					di.DependsOn = append(di.DependsOn, st)
				}
				out = append(out, di)
			}
		}
		return nil
	})
	return out, err
}

// stateWord is a job's state in one word, for the dependency view.
func (j *job) stateWord() string {
	switch {
	case j.depWait != "":
		return "WAITING"
	case j.cfg.Program != nil:
		return j.prog.state.String()
	case len(j.procs) > 0:
		return "RUNNING"
	case j.stopped:
		return "STOPPED"
	case !j.retryAt.IsZero() || !j.restartAt.IsZero():
		return "PAUSED"
	}
	return "IDLE"
}

// health sums up the readiness of j's live processes: "" without a
// readiness probe or process, "unhealthy" if one is, "healthy" if all are,
// else "starting".
func (j *job) health() string {
	if j.cfg.Readiness == nil || len(j.procs) == 0 {
		return ""
	}
	all := true
	for _, p := range j.procs {
		switch p.health {
		case HealthUnhealthy:
			return HealthUnhealthy
		case HealthHealthy:
		default:
			all = false
		}
	}
	if all {
		return HealthHealthy
	}
	return HealthStarting
}

// Process health, as ProcessInfo.Health shows it.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)
