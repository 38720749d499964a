package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// JobInfo is a job as GET /jobs/<s>/<j> shows it (gaffer-http-api.md §4.1).
type JobInfo struct {
	Name         string    `json:"name"`
	Active       bool      `json:"active"`
	Running      int       `json:"running"`
	RunningOut   int       `json:"running_out"`
	MaxProcesses int       `json:"max_processes"`
	Processes    []int     `json:"processes"`
	Config       JobConfig `json:"config"`
	// Beyond gaffer: whether the job is stopped, paused by flapping or
	// backoff, and the last spawn error.
	Stopped   bool   `json:"stopped"`
	Waiting   string `json:"waiting,omitempty"` // flapping/backoff pause, or "waiting for db: healthy"
	LastError string `json:"last_error,omitempty"`
	// Health sums up the readiness of its processes: "" (no readiness
	// probe or no process), starting, healthy (all ready) or unhealthy.
	Health string `json:"health,omitempty"`

	configJSON []byte // Config as JSON, cached by the job while its config is unchanged
}

// MarshalJSON writes the info with the job's cached config JSON: listing
// every job is the most frequent call, and the config is its largest, least
// changing part.
func (i JobInfo) MarshalJSON() ([]byte, error) { return i.AppendJSON(nil) }

// AppendJSON appends the info's JSON to b. Callers that write many infos
// (the REST API's job list) use it directly: encoding/json re-scans what a
// MarshalJSON method returns, which costs more than building it.
func (i JobInfo) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, i.Name)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, i.Active)
	b = append(b, `,"running":`...)
	b = strconv.AppendInt(b, int64(i.Running), 10)
	b = append(b, `,"running_out":`...)
	b = strconv.AppendInt(b, int64(i.RunningOut), 10)
	b = append(b, `,"max_processes":`...)
	b = strconv.AppendInt(b, int64(i.MaxProcesses), 10)
	b = append(b, `,"processes":[`...)
	for k, p := range i.Processes {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p), 10)
	}
	b = append(b, `],"stopped":`...)
	b = strconv.AppendBool(b, i.Stopped)
	if i.Waiting != "" {
		b = append(b, `,"waiting":`...)
		b = appendJSONString(b, i.Waiting)
	}
	if i.LastError != "" {
		b = append(b, `,"last_error":`...)
		b = appendJSONString(b, i.LastError)
	}
	if i.Health != "" {
		b = append(b, `,"health":`...)
		b = appendJSONString(b, i.Health)
	}
	cfg := i.configJSON
	if cfg == nil {
		var err error
		if cfg, err = json.Marshal(i.Config); err != nil {
			return b, err
		}
	}
	b = append(b, `,"config":`...)
	b = append(b, cfg...)
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string; plain ASCII (the usual job
// name) is copied, anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for k := 0; k < len(s); k++ {
		if c := s[k]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func nonNilInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// ProcessInfo is a process as GET /<pid> shows it (gaffer-http-api.md §4.2).
type ProcessInfo struct {
	Pid            int               `json:"pid"`
	Name           string            `json:"name"`
	Cmd            string            `json:"cmd"`
	Args           []string          `json:"args"`
	Env            map[string]string `json:"env"`
	UID            *string           `json:"uid"`
	GID            *string           `json:"gid"`
	OSPid          int               `json:"os_pid"`
	CreateTime     float64           `json:"create_time"`
	Commited       bool              `json:"commited"` // sic: gaffer's spelling
	RedirectOutput []string          `json:"redirect_output"`
	RedirectInput  bool              `json:"redirect_input"`
	CustomStreams  []string          `json:"custom_streams"`
	Active         bool              `json:"active"`
	// Health is the process's probe status: "" (no probe), starting,
	// healthy or unhealthy; Probe the last probe result ("readiness: HTTP
	// 200").
	Health  string    `json:"health,omitempty"`
	Probe   string    `json:"probe,omitempty"`
	Started time.Time `json:"-"`
}

// JobSpec is a job and the session it belongs to, as a config file lists it.
type JobSpec struct {
	Session string
	Config  JobConfig
}

// Load adds a job to a session ("" = default) and starts it when start is set.
// A job of the same name is ErrConflict.
func (s *Supervisor) Load(ctx context.Context, sessionName string, cfg JobConfig, start bool) error {
	return s.LoadEnv(ctx, sessionName, cfg, nil, start)
}

// LoadEnv is Load with a session environment overlaid on every process.
func (s *Supervisor) LoadEnv(ctx context.Context, sessionName string, cfg JobConfig, env map[string]string, start bool) error {
	return s.do(ctx, func() error {
		j, err := s.addJob(sessionName, cfg, env)
		if err != nil {
			return err
		}
		if start {
			s.startJob(j)
		}
		return nil
	})
}

// LoadAll loads jobs in the order given (a config's priority order), starting
// those whose Start is set. Jobs already loaded are skipped with an error in
// the joined result; the others still load.
func (s *Supervisor) LoadAll(ctx context.Context, jobs []JobSpec) error {
	return s.do(ctx, func() error {
		var errs []error
		for _, js := range jobs {
			j, err := s.addJob(js.Session, js.Config, nil)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			j.fromConfig = true
			if js.Config.Start {
				s.startJob(j)
			}
		}
		return joinErrs(errs)
	})
}

// Unload stops a job's processes and removes it (and its session when empty).
func (s *Supervisor) Unload(ctx context.Context, name string) error {
	return s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		s.unload(j)
		return nil
	})
}

func (s *Supervisor) unload(j *job) {
	s.removeJob(j)
	s.publish("unload", j.full, Event{})
	s.stopJob(j)
	j.logs.retire()
	j.logs = nil
	s.forgetLogs()
}

// Update replaces a job's config: every process gets SIGTERM and is replaced
// from the new config as it exits; the target becomes max(new numprocesses,
// current target). With start, a stopped job is started.
func (s *Supervisor) Update(ctx context.Context, sessionName string, cfg JobConfig, start bool) error {
	if sessionName == "" {
		sessionName = DefaultSession
	}
	if err := validSessionName(sessionName); err != nil {
		return err
	}
	return s.do(ctx, func() error {
		j, err := s.lookup(sessionName + "." + cfg.Name)
		if err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		if err := s.checkGraph(map[string]*JobConfig{j.full: &cfg}); err != nil {
			return fmt.Errorf("update %q: %w", j.full, err)
		}
		s.update(j, cfg, max(cfg.NumProcesses, j.target))
		if start && j.stopped {
			s.startJob(j)
		}
		return nil
	})
}

func (s *Supervisor) update(j *job, cfg JobConfig, target int) {
	s.unindexDeps(j)
	defer func() {
		s.indexDeps(j)
		s.markDirty(j) // its dependencies may have changed
		s.touch(j)
	}()
	if !logsEqual(j.cfg.Logs, cfg.Logs) {
		j.logs.retire()
		j.logs, j.autoLogs = nil, nil
		defer s.resolveAutoLogs(j) // new AUTO names, as supervisord re-creates a changed group
	}
	if (cfg.Program == nil) != (j.cfg.Program == nil) {
		// Changing between gaffer's and supervisor's rules: start afresh.
		if j.cfg.Program != nil {
			_ = s.stopProgram(j, false)
		}
		s.stopAll(j)
		j.cfg, j.cfgJSON, j.prog, j.stopped, j.target = cfg.clone(), nil, programState{}, true, 0
		if cfg.Start {
			s.startJob(j)
		}
		return
	}
	if cfg.Program != nil {
		s.updateProgram(j, cfg)
		return
	}
	j.cfg, j.cfgJSON = cfg.clone(), nil
	if !j.stopped {
		j.target = target
	}
	ps := append(j.procs, j.once...)
	j.procs, j.once = nil, nil
	for _, p := range ps {
		s.publish("stop_process", j.full, Event{Pid: p.id})
		s.stopProc(p)
	}
	if len(ps) > 0 {
		s.propagate(j) // restarted: propagating dependents restart too
	}
	// Replacements come from onExit as the old processes go; if there were
	// none, start now.
	if len(ps) == 0 {
		s.manage(j)
	}
}

// Reload resets the job's target to its config and replaces every process:
// fresh ones are spawned at once while the old ones get SIGTERM.
func (s *Supervisor) Reload(ctx context.Context, name string) error {
	return s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		old := append(j.procs, j.once...)
		j.procs, j.once = nil, nil
		if !j.stopped {
			j.target = j.cfg.NumProcesses
		}
		for _, p := range old {
			s.publish("stop_process", j.full, Event{Pid: p.id})
			s.stopProc(p)
		}
		if len(old) > 0 {
			s.propagate(j)
			s.touch(j)
		}
		s.manage(j)
		return nil
	})
}

// StartJob starts a loaded job: its target is reset to numprocesses and its
// flapping history cleared.
func (s *Supervisor) StartJob(ctx context.Context, name string) error {
	return s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		s.startJob(j)
		return nil
	})
}

// StopJob stops every process of a job (committed ones too) and keeps it
// stopped; a pending flapping retry is cancelled.
func (s *Supervisor) StopJob(ctx context.Context, name string) error {
	return s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		s.stopJob(j)
		return nil
	})
}

// StopAll sends SIGTERM to every process of a job without stopping the job,
// so they are replaced (gaffer's stopall).
func (s *Supervisor) StopAll(ctx context.Context, name string) error {
	return s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		s.stopAll(j)
		return nil
	})
}

// Scale changes a job's target and returns the new one. A stopped job only
// records it.
func (s *Supervisor) Scale(ctx context.Context, name string, op ScaleOp) (int, error) {
	var n int
	err := s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		j.target = op.Apply(j.target)
		n = j.target
		s.publish("update", j.full, Event{})
		s.manage(j)
		return nil
	})
	return n, err
}

// Commit spawns a one-off process of a job: never restarted, not counted in
// the target. graceful 0 = the job's graceful_timeout. Returns its pid.
func (s *Supervisor) Commit(ctx context.Context, name string, graceful time.Duration, env map[string]string) (int, error) {
	var id int
	err := s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		p, err := s.spawn(j, true, graceful, env)
		if err != nil {
			return err
		}
		j.once = append(j.once, p)
		id = p.id
		return nil
	})
	return id, err
}

// StopProcess stops one process. A supervised one is replaced (the target is
// unchanged); a committed one is not.
func (s *Supervisor) StopProcess(ctx context.Context, pid int) error {
	return s.do(ctx, func() error {
		p, err := s.findProc(pid)
		if err != nil {
			return err
		}
		j := p.job
		j.procs = slices.DeleteFunc(j.procs, func(q *process) bool { return q == p })
		j.once = slices.DeleteFunc(j.once, func(q *process) bool { return q == p })
		s.publish("stop_process", j.full, Event{Pid: p.id})
		s.stopProc(p)
		return nil
	})
}

// SignalJob sends sig to every live process of a job.
func (s *Supervisor) SignalJob(ctx context.Context, name string, sig syscall.Signal) error {
	return s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		s.publish("job."+j.full+".kill", j.full, Event{Signum: int(sig)})
		for _, p := range append(append([]*process(nil), j.procs...), j.once...) {
			s.signal(p, sig)
		}
		return nil
	})
}

// SignalProcess sends sig to one process (its main pid, as gaffer does).
func (s *Supervisor) SignalProcess(ctx context.Context, pid int, sig syscall.Signal) error {
	return s.do(ctx, func() error {
		p, err := s.findProc(pid)
		if err != nil {
			return err
		}
		s.signal(p, sig)
		return nil
	})
}

func (s *Supervisor) signal(p *process, sig syscall.Signal) {
	s.publish("proc."+strconv.Itoa(p.id)+".kill", p.job.full, Event{Pid: p.id, Signum: int(sig)})
	if err := syscall.Kill(p.osPid, sig); err != nil {
		s.log.Warn("signal", "pid", p.id, "os_pid", p.osPid, "signal", sig, "err", err)
	}
}

// Write queues data for a process's stdin (stream "" or "stdin") or one of
// its custom streams. Nothing is appended.
func (s *Supervisor) Write(ctx context.Context, pid int, stream string, data []byte) error {
	if stream == "" {
		stream = "stdin"
	}
	return s.do(ctx, func() error {
		p, err := s.findProc(pid)
		if err != nil {
			return err
		}
		w := p.inputs[stream]
		if w == nil {
			if stream == "stdin" {
				return fmt.Errorf("process %d: %w", pid, ErrStdinClosed)
			}
			return fmt.Errorf("process %d stream %q: %w", pid, stream, ErrStreamNotFound)
		}
		return w.write(data)
	})
}

// Output returns the in-memory tail of one output stream of a live process
// ("" = its first label).
func (s *Supervisor) Output(ctx context.Context, pid int, label string) (*Tail, error) {
	var t *Tail
	err := s.do(ctx, func() error {
		p, err := s.findProc(pid)
		if err != nil {
			return err
		}
		if label == "" && len(p.cfg.RedirectOutput) > 0 {
			label = p.cfg.RedirectOutput[0]
		}
		if t = p.outputs[label]; t == nil {
			return fmt.Errorf("process %d stream %q: %w", pid, label, ErrStreamNotFound)
		}
		return nil
	})
	return t, err
}

// Sessions lists sessions in creation order.
func (s *Supervisor) Sessions(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.do(ctx, func() error {
		out = append(out, s.sessionSeq...)
		return nil
	})
	return out, err
}

// Jobs lists full job names, of one session or ("" ) of all.
func (s *Supervisor) Jobs(ctx context.Context, sessionName string) ([]string, error) {
	out := []string{}
	err := s.do(ctx, func() error {
		names := s.sessionSeq
		if sessionName != "" {
			if s.sessions[sessionName] == nil {
				return fmt.Errorf("session %q: %w", sessionName, ErrNotFound)
			}
			names = []string{sessionName}
		}
		for _, sn := range names {
			for _, jn := range s.sessions[sn].seq {
				out = append(out, sn+"."+jn)
			}
		}
		return nil
	})
	return out, err
}

// Pids lists live processes' pids: of one job (supervised only) or, for "",
// every live process including committed ones, in spawn order.
func (s *Supervisor) Pids(ctx context.Context, name string) ([]int, error) {
	out := []int{}
	err := s.do(ctx, func() error {
		if name != "" {
			j, err := s.lookup(name)
			if err != nil {
				return err
			}
			for _, p := range j.procs {
				out = append(out, p.id)
			}
			return nil
		}
		for id, p := range s.procs {
			if !p.stopping {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return nil
	})
	return out, err
}

// Info describes a job.
func (s *Supervisor) Info(ctx context.Context, name string) (JobInfo, error) {
	var info JobInfo
	err := s.do(ctx, func() error {
		j, err := s.lookup(name)
		if err != nil {
			return err
		}
		info = s.jobInfo(j)
		return nil
	})
	return info, err
}

func (s *Supervisor) jobInfo(j *job) JobInfo {
	if j.cfgJSON == nil {
		j.cfgJSON, _ = json.Marshal(j.cfg)
	}
	info := JobInfo{Name: j.full, Running: len(j.procs) + len(j.once), RunningOut: len(j.once),
		MaxProcesses: j.target, Processes: []int{}, Config: j.cfg.clone(), Stopped: j.stopped,
		LastError: j.lastError, Health: j.health(), configJSON: j.cfgJSON}
	info.Active = info.Running > 0
	for _, p := range append(append([]*process(nil), j.procs...), j.once...) {
		info.Processes = append(info.Processes, p.id)
	}
	switch {
	case j.depWait != "":
		info.Waiting = j.depWait
	case !j.retryAt.IsZero():
		info.Waiting = fmt.Sprintf("flapping: retry in %s", time.Until(j.retryAt).Round(time.Millisecond))
	case !j.restartAt.IsZero():
		info.Waiting = fmt.Sprintf("backoff: restart in %s", time.Until(j.restartAt).Round(time.Millisecond))
	}
	return info
}

// InfoAll describes every job of a session ("" = all sessions), in session
// then load order, in one step.
func (s *Supervisor) InfoAll(ctx context.Context, sessionName string) ([]JobInfo, error) {
	out := []JobInfo{}
	err := s.do(ctx, func() error {
		n := 0
		for _, sess := range s.sessions {
			n += len(sess.seq)
		}
		out = make([]JobInfo, 0, n)
		names := s.sessionSeq
		if sessionName != "" {
			if s.sessions[sessionName] == nil {
				return fmt.Errorf("session %q: %w", sessionName, ErrNotFound)
			}
			names = []string{sessionName}
		}
		for _, sn := range names {
			sess := s.sessions[sn]
			for _, jn := range sess.seq {
				out = append(out, s.jobInfo(sess.jobs[jn]))
			}
		}
		return nil
	})
	return out, err
}

// Process describes one live process.
func (s *Supervisor) Process(ctx context.Context, pid int) (ProcessInfo, error) {
	var info ProcessInfo
	err := s.do(ctx, func() error {
		p, err := s.findProc(pid)
		if err != nil {
			return err
		}
		info = p.info()
		return nil
	})
	return info, err
}

func (p *process) info() ProcessInfo {
	info := ProcessInfo{Pid: p.id, Name: p.job.full, Cmd: p.prog, Args: slices.Clone(p.args),
		Env: map[string]string{}, OSPid: p.osPid,
		CreateTime: float64(p.started.UnixMicro()) / 1e6, Commited: p.committed,
		RedirectOutput: nonNil(slices.Clone(p.cfg.RedirectOutput)), RedirectInput: p.cfg.RedirectInput,
		CustomStreams: nonNil(slices.Clone(p.cfg.CustomStreams)), Active: !p.stopping, Started: p.started,
		Health: p.health, Probe: p.lastProbe}
	if info.Args == nil {
		info.Args = []string{}
	}
	for k, v := range p.env {
		info.Env[k] = v
	}
	if p.cfg.UID != "" {
		u := p.cfg.UID
		info.UID = &u
	}
	if p.cfg.GID != "" {
		g := p.cfg.GID
		info.GID = &g
	}
	return info
}

// live returns the live processes of a job (supervised, then committed), or
// of every job for "" in spawn order. Owned by run.
func (s *Supervisor) live(name string) ([]*process, error) {
	if name != "" {
		j, err := s.lookup(name)
		if err != nil {
			return nil, err
		}
		return append(slices.Clone(j.procs), j.once...), nil
	}
	var ps []*process
	for _, p := range s.procs {
		if !p.stopping {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *process) int { return a.id - b.id })
	return ps, nil
}

// Processes describes the live processes of a job (supervised, then
// committed), or of every job for "".
func (s *Supervisor) Processes(ctx context.Context, name string) ([]ProcessInfo, error) {
	out := []ProcessInfo{}
	err := s.do(ctx, func() error {
		ps, err := s.live(name)
		if err != nil {
			return err
		}
		for _, p := range ps {
			out = append(out, p.info())
		}
		return nil
	})
	return out, err
}

// Apply makes the loaded config-file jobs equal to jobs (SIGHUP): jobs that
// disappeared are unloaded, changed ones updated (their processes replaced),
// new ones loaded and started when their Start is set; untouched jobs keep
// their processes. Every config must be valid, or nothing changes.
func (s *Supervisor) Apply(ctx context.Context, jobs []JobSpec) (added, changed, removed []string, err error) {
	for _, js := range jobs {
		if err := js.Config.Validate(); err != nil {
			return nil, nil, nil, fmt.Errorf("job %s.%s: %w", js.Session, js.Config.Name, err)
		}
	}
	err = s.do(ctx, func() error {
		want := map[string]JobSpec{}
		for _, js := range jobs {
			if js.Session == "" {
				js.Session = DefaultSession
			}
			want[js.Session+"."+js.Config.Name] = js
		}
		// The whole new graph must be free of cycles, or nothing changes.
		override := map[string]*JobConfig{}
		for _, sn := range s.sessionSeq {
			for _, j := range s.sessions[sn].jobs {
				if _, ok := want[j.full]; !ok && j.fromConfig {
					override[j.full] = nil
				}
			}
		}
		for full, js := range want {
			override[full] = &js.Config
		}
		if err := s.checkGraph(override); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		for _, sn := range slices.Clone(s.sessionSeq) {
			sess := s.sessions[sn]
			for _, jn := range slices.Clone(sess.seq) {
				j := sess.jobs[jn]
				if _, ok := want[j.full]; !ok && j.fromConfig {
					removed = append(removed, j.full)
					s.unload(j)
				}
			}
		}
		for _, js := range jobs {
			full := js.Session + "." + js.Config.Name
			if j, err := s.lookup(full); err == nil {
				if !j.cfg.Equal(js.Config) {
					changed = append(changed, full)
					j.fromConfig = true
					s.update(j, js.Config, js.Config.NumProcesses)
				} else if p := js.Config.Program; p != nil && j.cfg.Program != nil {
					// Shutdown order only; copied, as j.cfg is shared read-only.
					np := *j.cfg.Program
					np.GroupPriority = p.GroupPriority
					j.cfg.Program = &np
				}
				continue
			}
			j, err := s.addJob(js.Session, js.Config, nil)
			if err != nil {
				return err
			}
			j.fromConfig = true
			added = append(added, full)
			if js.Config.Start {
				s.startJob(j)
			}
		}
		return nil
	})
	return added, changed, removed, err
}

// OSPids returns the OS pid of each live process of a job ("" = all), keyed
// by internal pid; stats sampling happens outside the loop with it.
func (s *Supervisor) OSPids(ctx context.Context, name string) (map[int]int, []int, error) {
	m := map[int]int{}
	var order []int
	err := s.do(ctx, func() error {
		ps, err := s.live(name)
		if err != nil {
			return err
		}
		for _, p := range ps {
			m[p.id] = p.osPid
			order = append(order, p.id)
		}
		return nil
	})
	return m, order, err
}

// Wait blocks until every process is gone after shutdown began, or ctx ends.
func (s *Supervisor) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func logsEqual(a, b map[string]LogFile) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
