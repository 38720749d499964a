package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// command is one line of the CMD table (gaffer-events.md §5.4): the
// permission it needs, on what, and what it does.
type command struct {
	need   rest.Permission
	target func(*conn, *cmdArgs) (string, error)
	run    func(*conn, context.Context, *cmdArgs) (any, error)
}

var commands = map[string]command{
	"sessions": {rest.ManageAll, noTarget, (*conn).cmdSessions},
	"jobs":     {rest.ManageAll, noTarget, (*conn).cmdJobs},
	"pids":     {rest.ManageAll, noTarget, (*conn).cmdPids},

	"load":   {rest.Admin, noTarget, (*conn).cmdLoad},
	"unload": {rest.Admin, noTarget, (*conn).cmdUnload},
	"reload": {rest.Admin, noTarget, (*conn).cmdReload},
	"update": {rest.Admin, noTarget, (*conn).cmdUpdate},

	"start_job": {rest.Manage, jobArg, (*conn).cmdStartJob},
	"stop_job":  {rest.Manage, jobArg, (*conn).cmdStopJob},
	"scale":     {rest.Manage, jobArg, (*conn).cmdScale},
	"info":      {rest.Manage, jobArg, (*conn).cmdInfo},
	"stats":     {rest.Manage, jobArg, (*conn).cmdStats},
	"stopall":   {rest.Manage, jobArg, (*conn).cmdStopAll},
	"killall":   {rest.Manage, jobArg, (*conn).cmdKillAll},
	"commit":    {rest.Manage, jobArg, (*conn).cmdCommit},

	"process_info":  {rest.Manage, processArg, (*conn).cmdProcessInfo},
	"process_stats": {rest.Manage, processArg, (*conn).cmdProcessStats},
	"stop_process":  {rest.Manage, processArg, (*conn).cmdStopProcess},
	"kill":          {rest.Manage, processArg, (*conn).cmdKill},
	"send":          {rest.Write, processArg, (*conn).cmdSend},
	// Extension: the in-memory tail of a process's output.
	"tail": {rest.Read, processArg, (*conn).cmdTail},
}

var okResult = map[string]bool{"ok": true}

// command runs one CMD and answers command_success or command_error. A
// refused command does not run.
func (c *conn) command(req request) {
	result, err := c.runCommand(req)
	if err != nil {
		c.reply(map[string]any{"event": "gaffer:command_error",
			"data": map[string]any{"id": req.identity, "error": errorOf(err)}})
		return
	}
	c.reply(map[string]any{"event": "gaffer:command_success",
		"data": map[string]any{"id": req.identity, "result": result}})
}

func (c *conn) runCommand(req request) (any, error) {
	cmd, ok := commands[req.name]
	if !ok {
		return nil, errCommandNotFound
	}
	a, err := parseArgs(req.args, req.kwargs)
	if err != nil {
		return nil, err
	}
	target, err := cmd.target(c, a)
	if err != nil {
		return nil, err
	}
	if err := c.auth.allow(cmd.need, target); err != nil {
		return nil, err
	}
	return cmd.run(c, c.ctx, a)
}

// cmdArgs are a command's positional and keyword arguments, numbers kept
// as json.Number.
type cmdArgs struct {
	args   []any
	kwargs map[string]any
}

func parseArgs(args, kwargs json.RawMessage) (*cmdArgs, error) {
	a := &cmdArgs{}
	if err := decodeNumbers(args, &a.args); err != nil {
		return nil, badCommand("args must be a list")
	}
	if err := decodeNumbers(kwargs, &a.kwargs); err != nil {
		return nil, badCommand("kwargs must be an object")
	}
	return a, nil
}

func decodeNumbers(b json.RawMessage, v any) error {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func (a *cmdArgs) has(i int) bool { return i < len(a.args) && a.args[i] != nil }

// str is args[i] as a non-empty string.
func (a *cmdArgs) str(i int) (string, error) {
	if !a.has(i) {
		return "", badCommand(fmt.Sprintf("argument %d is required", i+1))
	}
	s, ok := a.args[i].(string)
	if !ok || s == "" {
		return "", badCommand(fmt.Sprintf("argument %d must be a non-empty string", i+1))
	}
	return s, nil
}

// job is args[i] as a full job name "session.job".
func (a *cmdArgs) job(i int) (string, error) {
	s, err := a.str(i)
	if err != nil {
		return "", err
	}
	return fullName(s), nil
}

// pid is args[i] as an integer or a string of digits.
func (a *cmdArgs) pid(i int) (int, error) {
	if !a.has(i) {
		return 0, badCommand(fmt.Sprintf("argument %d (pid) is required", i+1))
	}
	var s string
	switch v := a.args[i].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid < 1 {
		return 0, badCommand(fmt.Sprintf("argument %d: pid %v", i+1, a.args[i]))
	}
	return pid, nil
}

// kwString is kwargs[k] as a string, "" when absent.
func (a *cmdArgs) kwString(k string) (string, error) {
	v, ok := a.kwargs[k]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badCommand(fmt.Sprintf("kwargs %q must be a string", k))
	}
	return s, nil
}

// env reads a {"NAME": "value"} object.
func env(v any, what string) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badCommand(what + " must be an object of strings")
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return nil, badCommand(fmt.Sprintf("%s %q must be a string", what, k))
		}
		out[k] = s
	}
	return out, nil
}

// Authorization targets.

func noTarget(*conn, *cmdArgs) (string, error) { return "", nil }

func jobArg(_ *conn, a *cmdArgs) (string, error) { return a.job(0) }

// processArg is the job of the pid in args[0]: permissions are on jobs.
func processArg(c *conn, a *cmdArgs) (string, error) {
	_, info, err := c.pidArg(c.ctx, a)
	if err != nil {
		return "", err
	}
	return info.Name, nil
}

// pidArg is the pid in args[0] and the core's info on it.
func (c *conn) pidArg(ctx context.Context, a *cmdArgs) (int, supervisor.ProcessInfo, error) {
	pid, err := a.pid(0)
	if err != nil {
		return 0, supervisor.ProcessInfo{}, err
	}
	info, err := c.h.sup.Process(ctx, pid)
	return pid, info, err
}

// ---- listings --------------------------------------------------------------

func (c *conn) cmdSessions(ctx context.Context, _ *cmdArgs) (any, error) {
	s, err := c.h.sup.Sessions(ctx)
	return map[string]any{"sessions": nonNil(s)}, err
}

func (c *conn) cmdJobs(ctx context.Context, a *cmdArgs) (any, error) {
	if !a.has(0) {
		jobs, err := c.h.sup.Jobs(ctx, "")
		return map[string]any{"jobs": nonNil(jobs)}, err
	}
	s, err := a.str(0)
	if err != nil {
		return nil, err
	}
	jobs, err := c.h.sup.Jobs(ctx, s)
	return map[string]any{"sessionid": s, "jobs": nonNil(jobs)}, err
}

func (c *conn) cmdPids(ctx context.Context, a *cmdArgs) (any, error) {
	if !a.has(0) {
		pids, err := c.h.sup.Pids(ctx, "")
		return map[string]any{"pids": nonNil(pids)}, err
	}
	arg, err := a.str(0)
	if err != nil {
		return nil, err
	}
	pids, err := c.h.sup.Pids(ctx, fullName(arg))
	// gaffer's key is "sessionid" although the argument is a job.
	return map[string]any{"sessionid": arg, "pids": nonNil(pids)}, err
}

// ---- configs ---------------------------------------------------------------

// config reads args[0] as a job config and the sessionid, env and start
// keyword arguments.
func (a *cmdArgs) config() (cfg supervisor.JobConfig, session string, envs map[string]string, err error) {
	if !a.has(0) {
		return cfg, "", nil, errConfigMissing
	}
	raw, err := json.Marshal(a.args[0])
	if err != nil {
		return cfg, "", nil, invalidConfig(err)
	}
	if _, ok := a.args[0].(map[string]any); !ok {
		return cfg, "", nil, invalidConfig(errors.New("the config must be a JSON object"))
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, "", nil, invalidConfig(err)
	}
	if session, err = a.kwString("sessionid"); err != nil {
		return cfg, "", nil, err
	}
	if envs, err = env(a.kwargs["env"], "env"); err != nil {
		return cfg, "", nil, err
	}
	if v, ok := a.kwargs["start"]; ok && v != nil {
		start, ok := v.(bool)
		if !ok {
			return cfg, "", nil, badCommand(`kwargs "start" must be true or false`)
		}
		cfg.Start = start
	}
	return cfg, session, envs, nil
}

func (c *conn) cmdLoad(ctx context.Context, a *cmdArgs) (any, error) {
	cfg, session, envs, err := a.config()
	if err != nil {
		return nil, err
	}
	if err := c.h.sup.LoadEnv(ctx, session, cfg, envs, cfg.Start); err != nil {
		return nil, err
	}
	return okResult, nil
}

// cmdUpdate replaces a job's config. "env" is merged into the config's own
// environment (the config's values win), since an update has no session
// environment of its own.
func (c *conn) cmdUpdate(ctx context.Context, a *cmdArgs) (any, error) {
	cfg, session, envs, err := a.config()
	if err != nil {
		return nil, err
	}
	if len(envs) > 0 {
		merged := envs
		for k, v := range cfg.Env {
			merged[k] = v
		}
		cfg.Env = merged
	}
	if err := c.h.sup.Update(ctx, session, cfg, cfg.Start); err != nil {
		return nil, err
	}
	return okResult, nil
}

// sessionJob is args[0] in the session of kwargs "sessionid" when given,
// else parsed as a full name.
func (a *cmdArgs) sessionJob() (string, error) {
	name, err := a.str(0)
	if err != nil {
		return "", err
	}
	session, err := a.kwString("sessionid")
	if err != nil {
		return "", err
	}
	if session != "" {
		return session + "." + name, nil
	}
	return fullName(name), nil
}

// sessionJobCall runs fn on the job of sessionJob.
func sessionJobCall(ctx context.Context, a *cmdArgs, fn func(context.Context, string) error) (any, error) {
	name, err := a.sessionJob()
	if err != nil {
		return nil, err
	}
	return okResult, fn(ctx, name)
}

func (c *conn) cmdUnload(ctx context.Context, a *cmdArgs) (any, error) {
	return sessionJobCall(ctx, a, c.h.sup.Unload)
}

func (c *conn) cmdReload(ctx context.Context, a *cmdArgs) (any, error) {
	return sessionJobCall(ctx, a, c.h.sup.Reload)
}

// ---- jobs ------------------------------------------------------------------

// jobCall runs fn on the job in args[0] and answers {"ok": true}.
func (c *conn) jobCall(ctx context.Context, a *cmdArgs, fn func(context.Context, string) error) (any, error) {
	name, err := a.job(0)
	if err != nil {
		return nil, err
	}
	if err := fn(ctx, name); err != nil {
		return nil, err
	}
	return okResult, nil
}

func (c *conn) cmdStartJob(ctx context.Context, a *cmdArgs) (any, error) {
	return c.jobCall(ctx, a, c.h.sup.StartJob)
}

func (c *conn) cmdStopJob(ctx context.Context, a *cmdArgs) (any, error) {
	return c.jobCall(ctx, a, c.h.sup.StopJob)
}

func (c *conn) cmdStopAll(ctx context.Context, a *cmdArgs) (any, error) {
	return c.jobCall(ctx, a, c.h.sup.StopAll)
}

func (c *conn) cmdScale(ctx context.Context, a *cmdArgs) (any, error) {
	name, err := a.job(0)
	if err != nil {
		return nil, err
	}
	if !a.has(1) {
		return nil, badCommand("argument 2 (n) is required")
	}
	op, err := supervisor.ParseScale(a.args[1])
	if err != nil {
		return nil, err
	}
	n, err := c.h.sup.Scale(ctx, name, op)
	if err != nil {
		return nil, err
	}
	return map[string]int{"numprocesses": n}, nil
}

func (c *conn) cmdInfo(ctx context.Context, a *cmdArgs) (any, error) {
	name, err := a.job(0)
	if err != nil {
		return nil, err
	}
	info, err := c.h.sup.Info(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"info": info}, nil
}

// cmdStats samples every live process of the job, as GET .../stats does.
func (c *conn) cmdStats(ctx context.Context, a *cmdArgs) (any, error) {
	name, err := a.job(0)
	if err != nil {
		return nil, err
	}
	osPids, order, err := c.h.sup.OSPids(ctx, name)
	if err != nil {
		return nil, err
	}
	all := []stats.ProcessStat{}
	var sampled []stats.Stat
	for _, pid := range order {
		st, err := c.h.sampler.Sample(osPids[pid])
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the core answered
		}
		if err != nil {
			st = stats.Stat{} // every field "N/A"
		}
		all = append(all, stats.ProcessStat{PID: pid, OSPID: osPids[pid], Stat: st})
		sampled = append(sampled, st)
	}
	return map[string]any{"stats": struct {
		Name string `json:"name"`
		stats.JobStats
		Stats []stats.ProcessStat `json:"stats"`
	}{name, stats.Aggregate(sampled), all}}, nil
}

func (c *conn) cmdKillAll(ctx context.Context, a *cmdArgs) (any, error) {
	name, err := a.job(0)
	if err != nil {
		return nil, err
	}
	sig, err := a.signal(1)
	if err != nil {
		return nil, err
	}
	return okResult, c.h.sup.SignalJob(ctx, name, sig)
}

func (a *cmdArgs) signal(i int) (syscall.Signal, error) {
	if !a.has(i) {
		return 0, badCommand(fmt.Sprintf("argument %d (signal) is required", i+1))
	}
	return supervisor.ParseSignal(a.args[i])
}

// cmdCommit spawns a one-off process: [job, graceful_timeout?, env?].
func (c *conn) cmdCommit(ctx context.Context, a *cmdArgs) (any, error) {
	name, err := a.job(0)
	if err != nil {
		return nil, err
	}
	var graceful time.Duration
	if a.has(1) {
		n, ok := a.args[1].(json.Number)
		f, err := n.Float64()
		if !ok || err != nil || f < 0 || f > math.MaxInt32 {
			return nil, badCommand(fmt.Sprintf("graceful_timeout %v: want seconds >= 0", a.args[1]))
		}
		graceful = time.Duration(math.Trunc(f)) * time.Second
	}
	var envs map[string]string
	if len(a.args) > 2 {
		if envs, err = env(a.args[2], "env"); err != nil {
			return nil, err
		}
	}
	pid, err := c.h.sup.Commit(ctx, name, graceful, envs)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "pid": pid}, nil
}

// ---- processes -------------------------------------------------------------

func (c *conn) cmdProcessInfo(ctx context.Context, a *cmdArgs) (any, error) {
	_, info, err := c.pidArg(ctx, a)
	if err != nil {
		return nil, err
	}
	return map[string]any{"info": info}, nil
}

func (c *conn) cmdProcessStats(ctx context.Context, a *cmdArgs) (any, error) {
	pid, info, err := c.pidArg(ctx, a)
	if err != nil {
		return nil, err
	}
	st, err := c.h.sampler.Sample(info.OSPid)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("process %d: %w", pid, supervisor.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"stats": st}, nil
}

func (c *conn) cmdStopProcess(ctx context.Context, a *cmdArgs) (any, error) {
	pid, err := a.pid(0)
	if err != nil {
		return nil, err
	}
	return okResult, c.h.sup.StopProcess(ctx, pid)
}

func (c *conn) cmdKill(ctx context.Context, a *cmdArgs) (any, error) {
	pid, err := a.pid(0)
	if err != nil {
		return nil, err
	}
	sig, err := a.signal(1)
	if err != nil {
		return nil, err
	}
	return okResult, c.h.sup.SignalProcess(ctx, pid, sig)
}

// cmdSend writes to a process: [pid, data, stream?]; data is a string or
// a list of strings written in order, with nothing appended.
func (c *conn) cmdSend(ctx context.Context, a *cmdArgs) (any, error) {
	pid, err := a.pid(0)
	if err != nil {
		return nil, err
	}
	if !a.has(1) {
		return nil, badCommand("argument 2 (data) is required")
	}
	var chunks []string
	switch d := a.args[1].(type) {
	case string:
		chunks = []string{d}
	case []any:
		for _, x := range d {
			s, ok := x.(string)
			if !ok {
				return nil, badCommand("data must be a string or a list of strings")
			}
			chunks = append(chunks, s)
		}
	default:
		return nil, badCommand("data must be a string or a list of strings")
	}
	stream := ""
	if a.has(2) {
		if stream, err = a.str(2); err != nil {
			return nil, err
		}
	}
	for _, s := range chunks {
		if err := c.h.sup.Write(ctx, pid, stream, []byte(s)); err != nil {
			return nil, err
		}
	}
	return okResult, nil
}

// cmdTail is an extension: [pid, label?, bytes?] answers the last bytes
// (all that is kept when bytes is absent) of a live process's output
// stream ("" = its first redirect_output label), decoded as UTF-8:
// {"pid": 3, "label": "out", "data": "..."}.
func (c *conn) cmdTail(ctx context.Context, a *cmdArgs) (any, error) {
	pid, err := a.pid(0)
	if err != nil {
		return nil, err
	}
	label := ""
	if a.has(1) {
		if label, err = a.str(1); err != nil {
			return nil, err
		}
	}
	n := math.MaxInt32
	if a.has(2) {
		num, ok := a.args[2].(json.Number)
		v, err := num.Int64()
		if !ok || err != nil || v < 0 {
			return nil, badCommand(fmt.Sprintf("argument 3: bytes %v", a.args[2]))
		}
		n = int(min(v, math.MaxInt32))
	}
	info, err := c.h.sup.Process(ctx, pid)
	if err != nil {
		return nil, err
	}
	label, _, err = readLabel(info, label)
	if err != nil {
		return nil, err
	}
	t, err := c.h.sup.Output(ctx, pid, label)
	if err != nil {
		return nil, err
	}
	var text utf8Decoder
	return map[string]any{"pid": pid, "label": label, "data": text.decode(t.Last(n))}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
