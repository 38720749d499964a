package config

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// maxProcesses bounds the processes of one config: far more than any
// machine supervises, few enough that a typo (numprocs = 1000000) is an
// error rather than an out-of-memory.
const maxProcesses = 10_000

var programKeys = []string{"command", "process_name", "numprocs", "numprocs_start", "priority", "autostart",
	"startsecs", "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs", "stopasgroup",
	"killasgroup", "user", "redirect_stderr",
	"stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups", "stdout_capture_maxbytes",
	"stdout_events_enabled", "stdout_syslog",
	"stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups", "stderr_capture_maxbytes",
	"stderr_events_enabled", "stderr_syslog",
	"environment", "directory", "umask", "serverurl",
	// gafferd extensions (real supervisord rejects them): see depends.go.
	"depends_on", "readiness", "readiness_initial_delay", "readiness_period", "readiness_timeout",
	"readiness_success_threshold", "readiness_failure_threshold", "liveness", "liveness_initial_delay",
	"liveness_period", "liveness_timeout", "liveness_success_threshold", "liveness_failure_threshold"}

var listenerKeys = append(slices.Clip(programKeys), "events", "buffer_size", "result_handler")

// sgroup is a process group being built.
type sgroup struct {
	name     string
	priority int
	sec      *section
	programs []string
	pool     *ListenerPool // event listener pools only
	jobs     []*Job
}

// programs builds every group, its processes and the event listener pools,
// in supervisor's order (options.py process_groups_from_parser).
func (b *sbuilder) programs() {
	programs := map[string]*section{}
	var standalone, listeners, groupSecs []*section
	for _, sec := range b.doc.sections {
		kind, name, ok := strings.Cut(sec.name, ":")
		if !ok {
			continue
		}
		name = trim(name) // datatypes.process_or_group_name strips
		switch kind {
		case "program", "fcgi-program": // fcgi-program: a program whose stdin is a socket (sockets.go)
			if prev := programs[name]; prev != nil {
				b.fail(sec.pos, sec.name, "", fmt.Errorf("%w: program %q is also [%s] (%s:%d)", ErrDuplicate, name, prev.name, prev.pos.file, prev.pos.line))
				continue
			}
			programs[name] = sec
			standalone = append(standalone, sec)
		case "eventlistener":
			listeners = append(listeners, sec)
		case "group":
			groupSecs = append(groupSecs, sec)
		}
	}

	var all []*sgroup
	byName := map[string]*sgroup{}
	add := func(g *sgroup) {
		if prev := byName[g.name]; prev != nil {
			b.fail(g.sec.pos, g.sec.name, "", fmt.Errorf("%w: group %q is also defined by [%s] (%s:%d)", ErrDuplicate, g.name, prev.sec.name, prev.sec.pos.file, prev.sec.pos.line))
			return
		}
		byName[g.name] = g
		all = append(all, g)
	}

	grouped := map[string]bool{}
	for _, sec := range groupSecs {
		name := trim(strings.TrimPrefix(sec.name, "group:"))
		b.checkKeys(sec, []string{"programs", "priority"})
		if err := checkGroupName("group", name); err != nil {
			b.fail(sec.pos, sec.name, "", err)
			continue
		}
		x := b.generic()
		g := &sgroup{name: name, priority: 999, sec: sec}
		opts{b, sec, x}.integer("priority", &g.priority, math.MinInt32, math.MaxInt32)
		v, e, ok := b.value(sec, "programs", x)
		switch {
		case e == nil:
			b.fail(sec.pos, sec.name, "programs", fmt.Errorf("%w: [%s] needs programs = NAME,…", ErrMissing, sec.name))
			continue
		case !ok:
			continue
		case v == "":
			b.warn(e.pos, sec.name, e.name, "no programs: the group is empty")
		default:
			for _, p := range strings.Split(v, ",") {
				p = trim(p)
				switch {
				case programs[p] != nil:
					g.programs = append(g.programs, p)
					grouped[p] = true
				default:
					b.fail(e.pos, sec.name, e.name, unknownProgram(p, programs, listeners))
				}
			}
		}
		add(g)
		for _, p := range g.programs {
			jobs, _ := b.program(programs[p], "program", p, name)
			g.jobs = append(g.jobs, jobs...)
		}
	}

	for _, sec := range standalone {
		_, name, _ := strings.Cut(sec.name, ":")
		name = trim(name)
		if grouped[name] {
			continue
		}
		if strings.Contains(name, ".") {
			// A standalone program is its own group, hence a session.
			b.fail(sec.pos, sec.name, "", checkGroupName("program", name))
			continue
		}
		jobs, prio := b.program(sec, "program", name, name)
		add(&sgroup{name: name, priority: prio, sec: sec, programs: []string{name}, jobs: jobs})
	}

	for _, sec := range listeners {
		if g := b.listenerPool(sec); g != nil {
			add(g)
		}
	}

	// supervisor starts groups by priority then name, and the processes of
	// a group by priority then name (options.py Config.__lt__).
	slices.SortStableFunc(all, func(x, y *sgroup) int {
		return cmp.Or(cmp.Compare(x.priority, y.priority), strings.Compare(x.name, y.name))
	})
	for _, g := range all {
		slices.SortStableFunc(g.jobs, func(x, y *Job) int {
			return cmp.Or(cmp.Compare(x.Config.Priority, y.Config.Priority), strings.Compare(x.Config.Name, y.Config.Name))
		})
		group := Group{Name: g.name, Priority: g.priority, Programs: g.programs, Processes: []string{}}
		seen := map[string]*Job{}
		for _, j := range g.jobs {
			if prev := seen[j.Config.Name]; prev != nil {
				b.fail(g.sec.pos, g.sec.name, "", fmt.Errorf("%w: group %s has two processes named %s (from %s and %s); give them distinct process_name",
					ErrDuplicate, g.name, j.Config.Name, prev.Source, j.Source))
				continue
			}
			seen[j.Config.Name] = j
			group.Processes = append(group.Processes, j.FullName())
			b.cfg.Jobs = append(b.cfg.Jobs, *j)
		}
		if group.Programs == nil {
			group.Programs = []string{}
		}
		b.sd.Groups = append(b.sd.Groups, group)
		if g.pool != nil {
			g.pool.Processes = group.Processes
			b.sd.Listeners = append(b.sd.Listeners, *g.pool)
		}
	}
	b.resolveDeps()
}

// depSource is where a program's depends_on is written.
type depSource struct {
	e   *entry
	sec string
}

// resolveDeps turns the program references of depends_on into job full
// names: PROGRAM or GROUP:PROGRAM means every process of that program
// (numprocs > 1 gives several jobs: the dependent waits for all of them).
func (b *sbuilder) resolveDeps() {
	for i := range b.cfg.Jobs {
		j := &b.cfg.Jobs[i]
		if len(j.Config.DependsOn) == 0 {
			continue
		}
		at := b.depsAt[j.FullName()]
		var out []supervisor.Dependency
		for _, d := range j.Config.DependsOn {
			targets, err := b.depTargets(d.Job)
			if err != nil {
				b.fail(at.e.pos, at.sec, at.e.name, err)
				continue
			}
			for _, t := range targets {
				if !slices.ContainsFunc(out, func(o supervisor.Dependency) bool { return o.Job == t }) {
					nd := d
					nd.Job = t
					out = append(out, nd)
				}
			}
		}
		j.Config.DependsOn = out
	}
}

// depTargets resolves a depends_on reference to the full names of its processes.
func (b *sbuilder) depTargets(ref string) ([]string, error) {
	key := ref
	if !strings.Contains(ref, ":") {
		groups := b.progGroups[ref]
		switch len(groups) {
		case 0:
			key = ""
		case 1:
			key = groups[0] + ":" + ref
		default:
			return nil, fmt.Errorf("%w: program %s is in groups %s: write GROUP:%s", ErrInvalidValue, ref, strings.Join(groups, ", "), ref)
		}
	}
	targets, ok := b.progJobs[key]
	if !ok {
		known := make([]string, 0, len(b.progJobs)+len(b.progGroups))
		for k := range b.progJobs {
			known = append(known, k)
		}
		for k := range b.progGroups {
			known = append(known, k)
		}
		slices.Sort(known)
		hint := ""
		if s := suggest(ref, known); s != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", s)
		}
		return nil, fmt.Errorf("%w %q: no such program or eventlistener in this config%s", ErrUnknownProgram, ref, hint)
	}
	if targets == nil {
		return nil, nil // the program has errors of its own
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: program %s has no process (numprocs = 0), so nothing could satisfy the dependency", ErrInvalidValue, ref)
	}
	return targets, nil
}

// unknownProgram explains a [group:x] programs= entry without a program.
func unknownProgram(p string, programs map[string]*section, listeners []*section) error {
	for _, l := range listeners {
		if trim(strings.TrimPrefix(l.name, "eventlistener:")) == p {
			return fmt.Errorf("%w %q: [%s] is an event listener pool, which cannot join a group", ErrUnknownProgram, p, l.name)
		}
	}
	names := make([]string, 0, len(programs))
	for n := range programs {
		names = append(names, n)
	}
	hint := ""
	if s := suggest(p, names); s != "" {
		hint = fmt.Sprintf(" (did you mean %s?)", s)
	}
	return fmt.Errorf("%w %q: no [program:%s] section%s", ErrUnknownProgram, p, p, hint)
}

// listenerPool reads an [eventlistener:x] section: the pool's own keys,
// then its processes like a program's.
func (b *sbuilder) listenerPool(sec *section) *sgroup {
	name := trim(strings.TrimPrefix(sec.name, "eventlistener:"))
	if err := checkGroupName("eventlistener", name); err != nil {
		b.checkKeys(sec, listenerKeys)
		b.fail(sec.pos, sec.name, "", err)
		return nil
	}
	x := b.generic()
	o := opts{b, sec, x}
	pool := &ListenerPool{Name: name, BufferSize: 10, ResultHandler: DefaultResultHandler, Events: []string{}}
	// The pool's priority is the group's; default -1: listeners start
	// first and stop last. Its processes keep their own (default 999).
	prio := -1
	o.integer("priority", &prio, math.MinInt32, math.MaxInt32)
	o.integer("buffer_size", &pool.BufferSize, 1, maxScaleValue)
	if o.str("result_handler", &pool.ResultHandler) && pool.ResultHandler != DefaultResultHandler {
		e := b.doc.lookup(sec, "result_handler")
		b.warn(e.pos, sec.name, e.name, fmt.Sprintf("%s is Python code, which gaffer cannot load; results are handled as by %s (OK = processed, anything else = rejected and sent again)",
			pool.ResultHandler, DefaultResultHandler))
	}
	if v, e, ok := b.value(sec, "events", x); e == nil || ok && trim(v) == "" {
		b.fail(sec.pos, sec.name, "events", fmt.Errorf("%w: [%s] needs events = TYPE,… (e.g. PROCESS_STATE)", ErrMissing, sec.name))
	} else if ok {
		for _, ev := range strings.Split(v, ",") {
			ev = strings.ToUpper(trim(ev))
			if _, known := eventTypes[ev]; !known {
				b.fail(e.pos, sec.name, e.name, unknownEvent(ev))
				continue
			}
			if !slices.Contains(pool.Events, ev) {
				pool.Events = append(pool.Events, ev)
			}
		}
	}
	jobs, _ := b.program(sec, "eventlistener", name, name)
	return &sgroup{name: name, priority: prio, sec: sec, programs: []string{name}, pool: pool, jobs: jobs}
}

func unknownEvent(ev string) error {
	hint := ""
	switch {
	case ev == "PROCESS_STATE_CHANGE":
		hint = " (supervisor 2's name; use PROCESS_STATE)"
	case strings.HasPrefix(ev, "PROCESS_STATE_CHANGE_"):
		hint = fmt.Sprintf(" (supervisor 2's name; use PROCESS_STATE_%s)", strings.TrimPrefix(ev, "PROCESS_STATE_CHANGE_"))
	default:
		names := make([]string, 0, len(eventTypes))
		for n := range eventTypes {
			names = append(names, n)
		}
		slices.Sort(names)
		if s := suggest(ev, names); s != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", s)
		}
	}
	return fmt.Errorf("%w %q%s", ErrUnknownEvent, ev, hint)
}

// progSettings are the options of a program section read once for all its
// processes.
type progSettings struct {
	priority     int
	autostart    bool
	autorestart  supervisor.AutoRestart
	startsecs    int
	startretries int
	stopsignal   syscall.Signal
	stopwaitsecs int
	stopasgroup  bool
	killasgroup  bool
	exitcodes    []int
	redirect     bool
	numprocs     int
	numprocsFrom int
	capture      map[string]int64 // stdout/stderr_capture_maxbytes
	events       map[string]bool  // stdout/stderr_events_enabled
	serverURL    string           // explicit serverurl; "" = AUTO
	hasServerURL bool
	user         string
	umask        int
	umaskSet     bool
	deps         []depRef // depends_on, names as written (resolved by resolveDeps)
	depsAt       *entry
	readiness    *supervisor.Probe
	liveness     *supervisor.Probe
}

// program reads [program:x] (kind "program") or [eventlistener:x] in group
// and returns its processes as jobs, and its priority.
//
// Expansions follow options.py: the options read once per program see
// %(here)s, %(program_name)s, %(group_name)s, %(host_node_name)s and
// %(ENV_X)s; the per-process ones (command, process_name, directory,
// environment and the log options) also see %(process_num)s and
// %(numprocs)s, and, except environment itself, %(ENV_X)s of the
// section's environment=.
func (b *sbuilder) program(sec *section, kind, name, group string) ([]*Job, int) {
	listener := kind == "eventlistener"
	if listener {
		b.checkKeys(sec, listenerKeys)
	} else {
		b.checkKeys(sec, programKeysOf(sec))
	}
	p := progSettings{priority: 999, autostart: true, startsecs: 1, startretries: 3, stopsignal: syscall.SIGTERM,
		stopwaitsecs: 10, exitcodes: []int{0}, numprocs: 1, capture: map[string]int64{}, events: map[string]bool{}}
	nerr := len(b.errs)
	if err := checkName(kind, name); err != nil {
		b.fail(sec.pos, sec.name, "", err)
		return nil, p.priority
	}
	if key := group + ":" + name; !slices.Contains(b.progGroups[name], group) {
		// Known even if it fails below (nil: no "unknown program" on top of its own errors).
		b.progGroups[name] = append(b.progGroups[name], group)
		b.progJobs[key] = nil
	}
	x := b.generic().with(map[string]any{"program_name": name, "group_name": group, "host_node_name": b.h.hostname}, nil, "")
	o := opts{b, sec, x}
	o.integer("priority", &p.priority, math.MinInt32, math.MaxInt32)
	o.boolean("autostart", &p.autostart)
	if v, e, ok := b.value(sec, "autorestart", x); ok {
		var err error
		if p.autorestart, err = autoRestart(v); err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		}
	}
	o.integer("startsecs", &p.startsecs, 0, maxSecondsValue)
	o.integer("startretries", &p.startretries, 0, maxScaleValue)
	if v, e, ok := b.value(sec, "stopsignal", x); ok {
		sig, err := supervisor.ParseSignal(v)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w %q: want a signal name (TERM, HUP, INT, QUIT, KILL, USR1, USR2) or number", ErrInvalidValue, v))
		}
		p.stopsignal = sig
	}
	o.integer("stopwaitsecs", &p.stopwaitsecs, 0, maxSecondsValue)
	o.boolean("stopasgroup", &p.stopasgroup)
	p.killasgroup = p.stopasgroup
	o.boolean("killasgroup", &p.killasgroup)
	if v, e, ok := b.value(sec, "exitcodes", x); ok {
		codes, err := exitCodes(v)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		} else {
			p.exitcodes = codes
		}
	}
	o.boolean("redirect_stderr", &p.redirect)
	o.integer("numprocs", &p.numprocs, 0, maxProcesses)
	o.integer("numprocs_start", &p.numprocsFrom, math.MinInt32, math.MaxInt32-maxProcesses)
	for _, ch := range []string{"stdout", "stderr"} {
		var n int64
		o.size(ch+"_capture_maxbytes", &n)
		p.capture[ch] = n
		var on bool
		o.boolean(ch+"_events_enabled", &on)
		p.events[ch] = on
	}
	if v, _, ok := b.value(sec, "serverurl", x); ok && strings.ToUpper(trim(v)) != "AUTO" {
		p.serverURL, p.hasServerURL = v, true
	}
	if o.str("user", &p.user) && trim(p.user) == "" {
		o.check("user", fmt.Errorf("%w: empty user name", ErrInvalidValue))
	}
	p.umaskSet = o.octal("umask", &p.umask, 0o777)
	if v, e, ok := b.value(sec, "depends_on", x); ok {
		if refs, err := parseDependsOn(v, validSupervisordDepName); err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		} else {
			p.deps, p.depsAt = refs, e
		}
	}
	var probes supervisor.JobConfig
	for _, k := range probeKeys {
		if v, e, ok := b.value(sec, k, x); ok {
			if err := setProbeKey(&probes, k, v); err != nil {
				b.fail(e.pos, sec.name, e.name, err)
			}
		}
	}
	for _, which := range missingProbeKinds(&probes) {
		b.fail(sec.pos, sec.name, which, fmt.Errorf("%w: %s timings are set but %s = KIND … is not (%s)", ErrMissing, which, which, probeForm))
	}
	p.readiness, p.liveness = probes.Readiness, probes.Liveness

	tmpl := "%(program_name)s"
	tmplAt := sec.pos
	if e := b.doc.lookup(sec, "process_name"); e != nil {
		tmpl, tmplAt = e.value, e.pos
	}
	if p.numprocs > 1 && !strings.Contains(tmpl, "%(process_num)") {
		b.fail(tmplAt, sec.name, "process_name", fmt.Errorf("%w %q: with numprocs = %d each process needs its own name: add %%(process_num)s, e.g. %%(program_name)s_%%(process_num)02d",
			ErrInvalidValue, tmpl, p.numprocs))
	}
	if p.stopasgroup && !p.killasgroup {
		o.check("killasgroup", fmt.Errorf("%w: stopasgroup = true needs killasgroup = true (the stop signal went to the whole group, so must SIGKILL)", ErrInvalidValue))
	}
	if listener {
		if p.redirect {
			o.check("redirect_stderr", fmt.Errorf("%w: an event listener's stdout is the protocol channel; stderr cannot join it", ErrInvalidValue))
		}
		if e := sec.keys["stdout_capture_maxbytes"]; e != nil {
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w for an event listener: its stdout is the protocol channel", ErrUnsupported))
		}
	}
	if b.doc.lookup(sec, "command") == nil && p.numprocs > 0 { // numprocs = 0: no process needs one
		b.fail(sec.pos, sec.name, "command", fmt.Errorf("%w: [%s] needs command = …", supervisor.ErrMissingCmd, sec.name))
	}
	if len(b.errs) > nerr {
		return nil, p.priority
	}
	if p.numprocs == 0 {
		b.warn(sec.pos, sec.name, "numprocs", "numprocs = 0: no process")
	}
	if b.nprocs+p.numprocs > maxProcesses {
		b.fail(sec.pos, sec.name, "numprocs", fmt.Errorf("%w: more than %d processes in this config", ErrInvalidValue, maxProcesses))
		return nil, p.priority
	}
	b.nprocs += p.numprocs

	var jobs []*Job
	for i := range p.numprocs {
		px := x.with(map[string]any{"process_num": p.numprocsFrom + i, "numprocs": p.numprocs}, nil, "")
		j := b.process(sec, group, &p, px, tmpl)
		if len(b.errs) > nerr {
			break // the next processes would repeat the same problems
		}
		if j != nil {
			jobs = append(jobs, j)
		}
	}
	if len(b.errs) == nerr {
		// What a depends_on naming this program means: all its processes.
		full := []string{}
		for _, j := range jobs {
			full = append(full, j.FullName())
		}
		b.progJobs[group+":"+name] = full
	}
	return jobs, p.priority
}

// process builds the job of one process of a program.
func (b *sbuilder) process(sec *section, group string, p *progSettings, px *expander, tmpl string) *Job {
	nerr := len(b.errs)
	penv := map[string]string{}
	if v, e, ok := b.value(sec, "environment", px); ok {
		env, dropped, err := envPairs(v)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
			return nil
		}
		if dropped != nil {
			b.warn(e.pos, sec.name, e.name, droppedWarning(dropped))
		}
		penv = env
	}
	py := px.with(nil, penv, fmt.Sprintf("[%s] environment", sec.name))
	command, ce, ok := b.value(sec, "command", py)
	if ok {
		// supervisord splits it with shlex.split when it reads the config.
		if _, err := supervisor.SplitCommand(command); err != nil {
			b.fail(ce.pos, sec.name, ce.name, err)
		}
	}
	nameAt, nameKey := sec.pos, "process_name"
	if e := b.doc.lookup(sec, "process_name"); e != nil {
		nameAt, nameKey = e.pos, e.name
	}
	name, err := py.expand(tmpl, b.hereOf(nameAt.file))
	if err == nil {
		err = checkName("process_name", name)
	}
	if err != nil {
		b.fail(nameAt, sec.name, nameKey, err)
		return nil
	}
	var cwd string
	if v, e, ok := b.value(sec, "directory", py); ok {
		if v == "" {
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: empty path", ErrInvalidValue))
		}
		cwd = b.h.absPath(b.runDir(), v)
	}
	logs := b.logs(sec, py, p)

	env := map[string]string{"SUPERVISOR_ENABLED": "1", "SUPERVISOR_PROCESS_NAME": name, "SUPERVISOR_GROUP_NAME": group}
	url := b.autoURL
	if p.hasServerURL {
		url = p.serverURL
	}
	if url != "" {
		env["SUPERVISOR_SERVER_URL"] = url
	}
	for k, v := range b.globalEnv {
		env[k] = v
	}
	for k, v := range penv {
		env[k] = v
	}

	cfg := supervisor.NewJobConfig(name, command)
	cfg.Env = env
	cfg.OSEnv = true
	cfg.UID = p.user
	cfg.Cwd = cwd
	cfg.Priority = p.priority
	cfg.Start = p.autostart
	cfg.GracefulTimeout = time.Duration(p.stopwaitsecs) * time.Second
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	if p.redirect {
		cfg.RedirectOutput = []string{"stdout", "stdout"} // one label twice: one merged stream
	}
	cfg.RedirectInput = true // supervisor always opens stdin (sendProcessStdin; the listener protocol)
	cfg.Umask, cfg.UmaskSet = p.umask, p.umaskSet
	cfg.StopSignal = p.stopsignal
	b.programPIDFile(sec, py, &cfg) // pidfile.go
	if len(logs) > 0 {
		cfg.Logs = logs
	}
	cfg.Program = &supervisor.Program{
		Group: group, StartSecs: time.Duration(p.startsecs) * time.Second, StartRetries: p.startretries,
		AutoRestart: p.autorestart, ExitCodes: slices.Clone(p.exitcodes),
		StopAsGroup: p.stopasgroup, KillAsGroup: p.killasgroup, ServerURL: p.serverURL,
	}
	if p.readiness != nil {
		r := *p.readiness
		cfg.Readiness = &r
	}
	if p.liveness != nil {
		l := *p.liveness
		cfg.Liveness = &l
	}
	for _, r := range p.deps {
		d := r.Dep
		d.Job = r.Name // a program reference until resolveDeps
		cfg.DependsOn = append(cfg.DependsOn, d)
	}
	b.sockets(sec, py, &cfg) // sockets.go
	j := &Job{Session: group, Config: cfg, Source: fmt.Sprintf("%s:%d [%s]", sec.pos.file, sec.pos.line, sec.name)}
	if p.depsAt != nil {
		b.depsAt[j.FullName()] = depSource{p.depsAt, sec.name}
	}
	if len(b.errs) > nerr {
		return nil // Validate would only repeat the problems in other words
	}
	for _, err := range splitErrors(cfg.Validate()) {
		b.fail(sec.pos, sec.name, "", err)
	}
	return j
}

// logs reads the stdout_* and stderr_* log options of one process.
func (b *sbuilder) logs(sec *section, x *expander, p *progSettings) map[string]supervisor.LogFile {
	logs := map[string]supervisor.LogFile{}
	o := opts{b, sec, x}
	for _, ch := range []string{"stdout", "stderr"} {
		key := ch + "_logfile"
		lf := supervisor.LogFile{MaxBytes: 50 << 20, Backups: 10}
		mode, path := "auto", ""
		v, e, ok := b.value(sec, key, x)
		if ok {
			switch strings.ToLower(v) {
			case "auto":
			case "none", "off", "":
				mode = "none"
			case "syslog":
				mode = "none"
				b.warn(e.pos, sec.name, e.name, "syslog (deprecated in supervisor) is not supported by gaffer: no log is kept")
			default:
				mode, path = "path", b.h.absPath(b.runDir(), v)
			}
		}
		o.size(ch+"_logfile_maxbytes", &lf.MaxBytes)
		o.integer(ch+"_logfile_backups", &lf.Backups, 0, maxScaleValue)
		var syslog bool
		o.boolean(ch+"_syslog", &syslog)
		if syslog {
			e := b.doc.lookup(sec, ch+"_syslog")
			b.warn(e.pos, sec.name, e.name, "syslog output is not supported by gaffer: ignored")
		}
		if ch == "stderr" && p.redirect {
			if mode == "path" {
				b.warn(e.pos, sec.name, e.name, "redirect_stderr = true: stderr goes to the stdout log, this file is not used")
			}
			continue
		}
		lf.Events, lf.CaptureMaxBytes = p.events[ch], p.capture[ch]
		switch mode {
		case "auto":
			lf.AutoDir = b.sd.Childlogdir
			if lf.MaxBytes == 0 {
				b.warn(sec.pos, sec.name, ch+"_logfile_maxbytes", "an AUTO log without rotation (maxbytes = 0) can fill the disk")
			}
		case "path":
			lf.Path = path
		case "none":
			if lf.Events || lf.CaptureMaxBytes > 0 {
				b.warn(sec.pos, sec.name, key, fmt.Sprintf("no log file: gaffer publishes %s's log and capture events only for a stream with a log file (yet); they are off", ch))
			}
			continue
		}
		logs[ch] = lf
	}
	return logs
}
