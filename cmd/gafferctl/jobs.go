package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/supervisor"
)

// jobCommands are gaffer 0.5's job commands.
func (a *app) jobCommands() []*cobra.Command {
	return []*cobra.Command{
		a.jobsCmd(), a.sessionsCmd(), a.loadCmd(), a.unloadCmd(), a.reloadCmd(), a.scaleCmd(),
		a.commitCmd(), a.infoCmd(), a.statsCmd(), a.signalCmd(), a.stopProcessCmd(), a.pingCmd(),
		a.versionCmd(),
	}
}

func (a *app) jobsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "jobs [SESSION]",
		Short: "List jobs: name, state, running processes, target, pids",
		Args:  nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			session := ""
			if len(args) == 1 {
				session = args[0]
			}
			if a.cluster {
				return a.clusterJobs(cmd, session)
			}
			infos, err := c.JobsInfo(cmd.Context(), session)
			if err != nil {
				return err
			}
			if infos == nil {
				infos = []supervisor.JobInfo{}
			}
			return a.emit(infos, func(w io.Writer) {
				var rows []string
				for _, in := range infos {
					rows = append(rows, fmt.Sprintf("%s\t%s\t%d\t%d\t%s",
						in.Name, jobState(in), in.Running, in.MaxProcesses, joinInts(in.Processes, ",")))
				}
				table(w, "NAME\tSTATE\tRUNNING\tTARGET\tPIDS", rows)
			})
		},
	}
}

// jobState is one word for a job: stopped, flapping or backoff (waiting to
// restart), running, or idle (started with nothing to run).
func jobState(in supervisor.JobInfo) string {
	switch {
	case in.Stopped:
		return "stopped"
	case in.Waiting != "":
		word, _, _ := strings.Cut(in.Waiting, ":")
		return word
	case in.Running > 0:
		return "running"
	}
	return "idle"
}

func (a *app) sessionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sessions",
		Short: "List sessions",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.Sessions(cmd.Context())
			if err != nil {
				return err
			}
			return lines(a, s)
		},
	}
}

// jobFileEntry is one job of a JSON job file.
type jobFileEntry struct {
	session string // from a "session.job" name; "" when the name has none
	cfg     supervisor.JobConfig
	start   *bool // the file's "start", when given
}

// readJobFile reads one job config, or {"jobs": [config, ...]}, from path
// ("-" = in). Names may be "session.job".
func readJobFile(path string, in io.Reader) ([]jobFileEntry, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(in)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object: %w", path, err)
	}
	raws := []json.RawMessage{data}
	if list, ok := top["jobs"]; ok {
		if err := json.Unmarshal(list, &raws); err != nil {
			return nil, fmt.Errorf(`%s: "jobs": %w`, path, err)
		}
	}
	var out []jobFileEntry
	for i, raw := range raws {
		var e jobFileEntry
		if err := json.Unmarshal(raw, &e.cfg); err != nil {
			return nil, fmt.Errorf("%s: job %d: %w", path, i+1, err)
		}
		var st struct {
			Start *bool `json:"start"`
		}
		json.Unmarshal(raw, &st) // the config decoded, so this can only confirm it
		e.start = st.Start
		if strings.ContainsAny(e.cfg.Name, "./") {
			e.session, e.cfg.Name = supervisor.ParseName(e.cfg.Name)
		}
		out = append(out, e)
	}
	return out, nil
}

func (a *app) loadCmd() *cobra.Command {
	var session string
	var nostart bool
	cmd := &cobra.Command{
		Use:   "load [--session S] [--nostart] FILE|-",
		Short: `Load jobs from a JSON file: one job config or {"jobs": [...]}`,
		Long: `Load jobs from a JSON file ("-" reads stdin): one job config, or
{"jobs": [config, ...]}. A name "session.job" puts the job in that session;
other jobs go to --session (default "default"). Jobs are started unless
--nostart or their own "start": false.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := readJobFile(args[0], a.in)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, e := range entries {
				s := firstOf(e.session, session, supervisor.DefaultSession)
				start := !nostart && (e.start == nil || *e.start)
				err := c.Load(cmd.Context(), s, e.cfg, start)
				switch {
				case errors.Is(err, supervisor.ErrConflict):
					errs = append(errs, fmt.Errorf("%s.%s: already loaded", s, e.cfg.Name))
				case err != nil:
					errs = append(errs, fmt.Errorf("%s.%s: %w", s, e.cfg.Name, err))
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return a.ok()
		},
	}
	cmd.Flags().StringVarP(&session, "session", "s", "", "session of jobs whose name has none")
	cmd.Flags().BoolVar(&nostart, "nostart", false, "load without starting")
	return cmd
}

// firstOf is the first non-empty string.
func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// eachJob runs fn for every JOB argument and reports every failure.
func (a *app) eachJob(cmd *cobra.Command, names []string, fn func(c *client.Client, name string) error) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := fn(c, n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return a.ok()
}

func (a *app) unloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "unload JOB...",
		Short:             "Stop jobs' processes and remove the jobs",
		Args:              nargs(1, -1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.eachJob(cmd, args, func(c *client.Client, n string) error { return c.Unload(cmd.Context(), n) })
		},
	}
}

func (a *app) reloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "reload JOB...",
		Short:             "Replace every process of jobs with fresh ones",
		Args:              nargs(1, -1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.eachJob(cmd, args, func(c *client.Client, n string) error { return c.Reload(cmd.Context(), n) })
		},
	}
}

var scaleValue = regexp.MustCompile(`^[+=-]?[0-9]+$`)

func (a *app) scaleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scale JOB (+N|-N|=N|N)",
		Short: "Change a job's number of processes; prints the new number",
		Long: `Change a job's number of processes and print the new number: +N adds,
-N removes (the oldest go first), =N or N alone sets. (The API's bare N
adds, as gaffer's did; here N means what it says.) Put flags before JOB.`,
		Args:              nargs(2, 2),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := args[1]
			if !scaleValue.MatchString(v) {
				return usageErrorf("scale %q: want +N, -N, =N or N", v)
			}
			if v[0] >= '0' && v[0] <= '9' {
				v = "=" + v
			}
			return a.scaleBy(cmd, args[0], v)
		},
	}
	cmd.Flags().SetInterspersed(false) // "-2" is a value, not a flag
	return cmd
}

func (a *app) scaleBy(cmd *cobra.Command, name, value string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	n, err := c.Scale(cmd.Context(), name, value)
	if err != nil {
		return err
	}
	return a.emit(map[string]int{"numprocesses": n}, func(w io.Writer) { fmt.Fprintln(w, n) })
}

func (a *app) commitCmd() *cobra.Command {
	var graceful int
	var env []string
	cmd := &cobra.Command{
		Use:               "commit JOB [--graceful-timeout N] [-e K=V]...",
		Short:             "Start a one-off process of a job (never restarted); prints its pid",
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if graceful < 0 {
				return usageErrorf("--graceful-timeout %d: want seconds >= 0", graceful)
			}
			vars := map[string]string{}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("-e %q: want KEY=VALUE", kv)
				}
				vars[k] = v
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			pid, err := c.Commit(cmd.Context(), args[0], time.Duration(graceful)*time.Second, vars)
			if err != nil {
				return err
			}
			return a.emit(map[string]int{"pid": pid}, func(w io.Writer) { fmt.Fprintln(w, pid) })
		},
	}
	cmd.Flags().IntVar(&graceful, "graceful-timeout", 0, "seconds between SIGTERM and SIGKILL when it is stopped (0: the job's)")
	cmd.Flags().StringArrayVarP(&env, "env", "e", nil, "KEY=VALUE added to its environment (repeatable)")
	return cmd
}

func (a *app) infoCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "info JOB|PID",
		Short:             "Describe a job or a process",
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if isPid(args[0]) {
				pid, err := strconv.Atoi(args[0])
				if err != nil {
					return usageErrorf("pid %q: %v", args[0], err)
				}
				p, err := c.Process(cmd.Context(), pid)
				if err != nil {
					return err
				}
				return a.emit(p, func(w io.Writer) { keyValues(w, processFields(p)) })
			}
			info, err := c.Info(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emit(info, func(w io.Writer) { keyValues(w, jobFields(info)) })
		},
	}
}

func jobFields(in supervisor.JobInfo) [][2]string {
	f := [][2]string{
		{"name", in.Name},
		{"state", jobState(in)},
		{"active", strconv.FormatBool(in.Active)},
		{"running", strconv.Itoa(in.Running)},
		{"running_out", strconv.Itoa(in.RunningOut)},
		{"max_processes", strconv.Itoa(in.MaxProcesses)},
		{"processes", joinInts(in.Processes, " ")},
		{"cmd", strings.Join(append([]string{in.Config.Cmd}, in.Config.Args...), " ")},
	}
	if in.Waiting != "" {
		f = append(f, [2]string{"waiting", in.Waiting})
	}
	if in.LastError != "" {
		f = append(f, [2]string{"last_error", in.LastError})
	}
	return f
}

func processFields(p supervisor.ProcessInfo) [][2]string {
	sec, frac := int64(p.CreateTime), p.CreateTime-float64(int64(p.CreateTime))
	started := time.Unix(sec, int64(frac*1e9)).Format(time.DateTime)
	env := make([]string, 0, len(p.Env))
	for k, v := range p.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	f := [][2]string{
		{"pid", strconv.Itoa(p.Pid)},
		{"name", p.Name},
		{"os_pid", strconv.Itoa(p.OSPid)},
		{"cmd", strings.Join(append([]string{p.Cmd}, p.Args...), " ")},
		{"commited", strconv.FormatBool(p.Commited)},
		{"active", strconv.FormatBool(p.Active)},
		{"started", started},
		{"env", firstOf(strings.Join(env, " "), "-")},
	}
	if p.UID != nil {
		f = append(f, [2]string{"uid", *p.UID})
	}
	if p.GID != nil {
		f = append(f, [2]string{"gid", *p.GID})
	}
	if len(p.RedirectOutput) > 0 {
		f = append(f, [2]string{"redirect_output", strings.Join(p.RedirectOutput, " ")})
	}
	return f
}

// keyValues prints "key  value" lines, aligned.
func keyValues(w io.Writer, fields [][2]string) {
	var rows []string
	for _, kv := range fields {
		rows = append(rows, kv[0]+"\t"+kv[1])
	}
	table(w, rows[0], rows[1:])
}

func (a *app) statsCmd() *cobra.Command {
	var watch bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "stats [--watch [--interval D]] JOB|PID",
		Short: "CPU and memory of a job's processes, or of one process",
		Long: `CPU and memory of a job's processes, or of one process.

With --watch, print a line per process every --interval (default 1s, at
least 10ms) until interrupted; a job's processes are those alive when the
command starts.`,
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch {
				return untilInterrupted(cmd.Context(), a.watchStats(cmd.Context(), args[0], every))
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			const header = "PID\tOS_PID\tCPU\tMEM\tRSS\tVSZ\tCTIME"
			if isPid(args[0]) {
				pid, err := strconv.Atoi(args[0])
				if err != nil {
					return usageErrorf("pid %q: %v", args[0], err)
				}
				p, err := c.Process(cmd.Context(), pid)
				if err != nil {
					return err
				}
				st, err := c.ProcessStats(cmd.Context(), pid)
				if err != nil {
					return err
				}
				st.OSPid = p.OSPid
				return a.emit(st, func(w io.Writer) { table(w, header, []string{statRow(st)}) })
			}
			js, err := c.Stats(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emit(js, func(w io.Writer) {
				var rows []string
				for _, st := range js.Stats {
					rows = append(rows, statRow(st))
				}
				rows = append(rows, fmt.Sprintf("TOTAL\t\t%s\t%s", js.CPU, js.Mem))
				table(w, header, rows)
			})
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print stats continuously until interrupted")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "with --watch, time between samples")
	return cmd
}

func statRow(st client.ProcessStats) string {
	return fmt.Sprintf("%d\t%d\t%s\t%s\t%s\t%s\t%s", st.Pid, st.OSPid, st.CPU, st.Mem, st.MemInfo1, st.MemInfo2, st.CTime)
}

func (a *app) signalCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "signal JOB|PID SIGNAL",
		Short:             "Send a signal (HUP, SIGHUP, 1) to a job's processes or to one process",
		Args:              nargs(2, 2),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.signal(cmd, args[0], args[1])
		},
	}
}

func (a *app) signal(cmd *cobra.Command, target, sig string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	if isPid(target) {
		pid, err := strconv.Atoi(target)
		if err != nil {
			return usageErrorf("pid %q: %v", target, err)
		}
		err = c.SignalProcess(cmd.Context(), pid, sig)
	} else {
		err = c.SignalJob(cmd.Context(), target, sig)
	}
	if err != nil {
		return err
	}
	return a.ok()
}

func (a *app) stopProcessCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop-process PID",
		Short: "Stop one process (a supervised one is replaced)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[0])
			if err != nil || !isPid(args[0]) {
				return usageErrorf("pid %q: want a number", args[0])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.StopProcess(cmd.Context(), pid); err != nil {
				return err
			}
			return a.ok()
		},
	}
}

func (a *app) pingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ping",
		Short: "Check that gafferd answers",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Ping(cmd.Context()); err != nil {
				return err
			}
			return a.ok()
		},
	}
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gafferctl's and gafferd's versions",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.Version(cmd.Context())
			if err != nil {
				return err
			}
			return a.emit(map[string]string{"gafferctl": version, "gafferd": v}, func(w io.Writer) {
				table(w, "gafferctl\t"+version, []string{"gafferd\t" + v})
			})
		},
	}
}
