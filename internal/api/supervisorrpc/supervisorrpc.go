// Package supervisorrpc is supervisor's XML-RPC interface (namespace
// "supervisor", API 3.0) over gaffer's engine, so that the real supervisorctl
// and users' XML-RPC scripts work against gafferd unchanged.
//
// Supervisor groups are gaffer sessions and supervisor processes are jobs
// with a Program (supervisor rules). Jobs without one (gaffer's own format)
// are not supervisor processes and do not appear here. Methods run on the
// request's goroutine and talk to the engine through its public API only.
package supervisorrpc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/logs"
	"github.com/gafferhq/gaffer/supervisor"
)

// APIVersion is supervisor's XML-RPC API version.
const APIVersion = "3.0"

// Daemon is what the interface needs from gafferd beyond the engine.
type Daemon struct {
	Sup            *supervisor.Supervisor
	Version        string
	Identification string
	// State is supervisord's state: 1 RUNNING, 0 RESTARTING, -1 SHUTDOWN.
	State func() int
	// MainLog is the daemon's own log file, nil when it logs elsewhere.
	MainLog  func() *logs.Writer
	Shutdown func()
	Restart  func()
	// Reread re-reads the config and reports group names (reloadConfig).
	Reread func() (added, changed, removed []string, err error)
	// AddGroup loads a group from the last read config; RemoveGroup unloads a
	// stopped group.
	AddGroup    func(ctx context.Context, name string) error
	RemoveGroup func(ctx context.Context, name string) error
	// GroupPriority orders groups (supervisor's group priority); may be nil.
	GroupPriority func(name string) int
	// RemoteComm emits REMOTE_COMMUNICATION; may be nil.
	RemoteComm func(typ, data string)
	// Configs lists the programs of the config last read (after a reread,
	// the new one), so getAllConfigInfo shows those not added yet as
	// available; nil = the loaded programs only.
	Configs func() []supervisor.JobSpec
}

// Errors a Daemon callback may return, mapped to their faults.
var (
	ErrAlreadyAdded = errors.New("already added")
	ErrStillRunning = errors.New("still running")
	ErrCantReread   = errors.New("cannot reread config")
)

// Register adds the supervisor.* methods to srv.
func Register(srv *xmlrpc.Server, d *Daemon) {
	r := &rpc{d: d, sup: d.Sup}
	for name, m := range r.methods() {
		srv.Register("supervisor."+name, m)
	}
}

type rpc struct {
	d   *Daemon
	sup *supervisor.Supervisor
}

const (
	stateRunning    = 1
	stateRestarting = 0
	stateShutdown   = -1
)

var daemonStateNames = map[int]string{2: "FATAL", 1: "RUNNING", 0: "RESTARTING", -1: "SHUTDOWN"}

// fault maps engine errors to supervisor's faults, naming what was asked.
func fault(err error, name string) error {
	var f *xmlrpc.Fault
	switch {
	case err == nil:
		return nil
	case errors.As(err, &f):
		return f
	case errors.Is(err, supervisor.ErrNotFound), errors.Is(err, supervisor.ErrNotProgram):
		return xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	case errors.Is(err, supervisor.ErrAlreadyStarted):
		return xmlrpc.Faultf(xmlrpc.AlreadyStarted, "%s", name)
	case errors.Is(err, supervisor.ErrNotRunning):
		return xmlrpc.Faultf(xmlrpc.NotRunning, "%s", name)
	case errors.Is(err, supervisor.ErrNoFile), errors.Is(err, fs.ErrNotExist):
		return xmlrpc.Faultf(xmlrpc.NoFile, "%s", strings.TrimSuffix(err.Error(), ": "+supervisor.ErrNoFile.Error()))
	case errors.Is(err, supervisor.ErrNotExecutable):
		return xmlrpc.Faultf(xmlrpc.NotExecutable, "%s", strings.TrimSuffix(err.Error(), ": "+supervisor.ErrNotExecutable.Error()))
	case errors.Is(err, supervisor.ErrSpawnError):
		return xmlrpc.Faultf(xmlrpc.SpawnError, "%s", name)
	case errors.Is(err, supervisor.ErrAbnormalTermination):
		return xmlrpc.Faultf(xmlrpc.AbnormalTermination, "%s", name)
	case errors.Is(err, supervisor.ErrBadSignal):
		return xmlrpc.Faultf(xmlrpc.BadSignal, "%s", name)
	case errors.Is(err, supervisor.ErrShuttingDown):
		return xmlrpc.NewFault(xmlrpc.ShutdownState)
	case errors.Is(err, ErrAlreadyAdded):
		return xmlrpc.Faultf(xmlrpc.AlreadyAdded, "%s", name)
	case errors.Is(err, ErrStillRunning):
		return xmlrpc.Faultf(xmlrpc.StillRunning, "%s", name)
	case errors.Is(err, ErrCantReread):
		return xmlrpc.Faultf(xmlrpc.CantReread, "%v", err)
	case errors.Is(err, logs.ErrBadArguments):
		return xmlrpc.NewFault(xmlrpc.BadArguments)
	case errors.Is(err, context.Canceled):
		return err
	}
	return xmlrpc.Faultf(xmlrpc.Failed, "%v", err)
}

// check is the preamble of most methods: the arguments' kinds, then
// supervisord's state.
func (r *rpc) check(args []any, want ...xmlrpc.Kind) error {
	if err := xmlrpc.Args(args, want...); err != nil {
		return err
	}
	return r.running()
}

// running refuses calls while supervisord is shutting down or restarting.
func (r *rpc) running() error {
	if r.d.State != nil && r.d.State() != stateRunning {
		return xmlrpc.NewFault(xmlrpc.ShutdownState)
	}
	return nil
}

// SplitNamespec is supervisor's split_namespec: "g:p", "g:*" or "g:" (whole
// group: process ""), or "name" meaning group name, process name.
func SplitNamespec(spec string) (group, process string) {
	if g, p, ok := strings.Cut(spec, ":"); ok {
		if p == "*" {
			p = ""
		}
		return g, p
	}
	return spec, spec
}

// lookup finds programs by namespec: one process, or a whole group (all ==
// true). Unknown names are BAD_NAME.
func (r *rpc) lookup(ctx context.Context, spec string) (progs []supervisor.ProgramInfo, group bool, err error) {
	all, err := r.sup.Programs(ctx)
	if err != nil {
		return nil, false, err
	}
	g, p := SplitNamespec(spec)
	found := false
	for _, pi := range all {
		if pi.Group != g {
			continue
		}
		found = true
		if p == "" || pi.Name == p {
			progs = append(progs, pi)
		}
	}
	if !found || (p != "" && len(progs) == 0) {
		return nil, false, xmlrpc.Faultf(xmlrpc.BadName, "%s", spec)
	}
	return progs, p == "", nil
}

func full(pi supervisor.ProgramInfo) string { return pi.Group + "." + pi.Name }

// byPriority sorts programs as supervisor starts them: group priority, then
// process priority, then name.
func (r *rpc) byPriority(ps []supervisor.ProgramInfo) {
	gp := func(g string) int {
		if r.d.GroupPriority != nil {
			return r.d.GroupPriority(g)
		}
		return 999
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if ga, gb := gp(a.Group), gp(b.Group); ga != gb {
			return ga < gb
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
}

func status(pi supervisor.ProgramInfo, err error) map[string]any {
	m := map[string]any{"name": pi.Name, "group": pi.Group, "status": xmlrpc.Success, "description": "OK"}
	var f *xmlrpc.Fault
	if err != nil && errors.As(fault(err, pi.Group+":"+pi.Name), &f) {
		m["status"] = f.Code
		m["description"] = f.String
	}
	return m
}

// forEach runs op on every program concurrently (so a group start with wait
// takes as long as the slowest, as in supervisor) and returns status structs
// in the given order.
func forEach(ps []supervisor.ProgramInfo, op func(supervisor.ProgramInfo) error) []any {
	out := make([]any, len(ps))
	var wg sync.WaitGroup
	for i, pi := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = status(pi, op(pi))
		}()
	}
	wg.Wait()
	return out
}

func optBool(args []any, i int, def bool) bool {
	if len(args) > i {
		return args[i].(bool)
	}
	return def
}

func (r *rpc) methods() map[string]xmlrpc.Method {
	m := map[string]xmlrpc.Method{
		"getAPIVersion": {Help: "Return the version of the RPC API used by supervisord\n@return string version",
			Call: func(ctx context.Context, args []any) (any, error) { return APIVersion, xmlrpc.Args(args) }},
		"getSupervisorVersion": {Help: "Return the version of the supervisor package in use by supervisord\n@return string version",
			Call: func(ctx context.Context, args []any) (any, error) { return r.d.Version, xmlrpc.Args(args) }},
		"getIdentification": {Help: "Return identifying string of supervisord\n@return string identifier",
			Call: func(ctx context.Context, args []any) (any, error) {
				return r.d.Identification, xmlrpc.Args(args)
			}},
		"getState": {Help: "Return current state of supervisord as a struct\n@return struct A struct with keys int statecode, string statename",
			Call: func(ctx context.Context, args []any) (any, error) {
				code := stateRunning
				if r.d.State != nil {
					code = r.d.State()
				}
				return map[string]any{"statecode": code, "statename": daemonStateNames[code]}, xmlrpc.Args(args)
			}},
		"getPID": {Help: "Return the PID of supervisord\n@return int PID",
			Call: func(ctx context.Context, args []any) (any, error) { return os.Getpid(), xmlrpc.Args(args) }},
		"readLog": {Help: "Read length bytes from the main log starting at offset\n@param int offset offset to start reading from.\n@param int length number of bytes to read from the log.\n@return string result Bytes of log",
			Call: r.readLog},
		"clearLog": {Help: "Clear the main log.\n@return boolean result always returns True unless error",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := r.check(args); err != nil {
					return nil, err
				}
				w := r.mainLog()
				if w == nil {
					return nil, xmlrpc.Faultf(xmlrpc.NoFile, "no log file")
				}
				if err := w.Clear(); err != nil {
					return nil, xmlrpc.Faultf(xmlrpc.Failed, "%v", err)
				}
				return true, nil
			}},
		"shutdown": {Help: "Shut down the supervisor process\n@return boolean result always returns True unless error",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := r.check(args); err != nil {
					return nil, err
				}
				r.d.Shutdown()
				return true, nil
			}},
		"restart": {Help: "Restart the supervisor process\n@return boolean result  always return True unless error",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := r.check(args); err != nil {
					return nil, err
				}
				r.d.Restart()
				return true, nil
			}},
		"reloadConfig": {Help: "Reload the configuration.\n\nThe result contains three arrays containing names of process\ngroups:\n\n* `added` gives the process groups that have been added\n* `changed` gives the process groups whose contents have\n  changed\n* `removed` gives the process groups that are no longer\n  in the configuration\n\n@return array result  [[added, changed, removed]]",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := r.check(args); err != nil {
					return nil, err
				}
				added, changed, removed, err := r.d.Reread()
				if err != nil {
					return nil, xmlrpc.Faultf(xmlrpc.CantReread, "%v", err)
				}
				return []any{[]any{strs(added), strs(changed), strs(removed)}}, nil
			}},
		"addProcessGroup": {Help: "Update the config for a running process from config file.\n@param string name name of process group to add\n@return boolean result true if successful",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := r.check(args, xmlrpc.String); err != nil {
					return nil, err
				}
				name := args[0].(string)
				return true, fault(r.d.AddGroup(ctx, name), name)
			}},
		"removeProcessGroup": {Help: "Remove a stopped process from the active configuration.\n@param string name name of process group to remove\n@return boolean result Indicates whether the removal was successful",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := r.check(args, xmlrpc.String); err != nil {
					return nil, err
				}
				name := args[0].(string)
				return true, fault(r.d.RemoveGroup(ctx, name), name)
			}},
		"startProcess": {Help: "Start a process\n@param string name Process name (or ``group:name``, or ``group:*``)\n@param boolean wait Wait for process to be fully started\n@return boolean result     Always true unless error",
			Call: r.startProcess},
		"startProcessGroup": {Help: "Start all processes in the group named 'name'\n@param string name     The group name\n@param boolean wait    Wait for each process to be fully started\n@return array result   An array of process status info structs",
			Call: r.startProcessGroup},
		"startAllProcesses": {Help: "Start all processes listed in the configuration file\n@param boolean wait    Wait for each process to be fully started\n@return array result   An array of process status info structs",
			Call: r.startAll},
		"stopProcess": {Help: "Stop a process named by name\n@param string name  The name of the process to stop (or 'group:name')\n@param boolean wait        Wait for the process to be fully stopped\n@return boolean result     Always return True unless error",
			Call: r.stopProcess},
		"stopProcessGroup": {Help: "Stop all processes in the process group named 'name'\n@param string name     The group name\n@param boolean wait    Wait for each process to be fully stopped\n@return array result   An array of process status info structs",
			Call: r.stopProcessGroup},
		"stopAllProcesses": {Help: "Stop all processes in the process list\n@param  boolean wait   Wait for each process to be fully stopped\n@return array result   An array of process status info structs",
			Call: r.stopAll},
		"signalProcess": {Help: "Send an arbitrary UNIX signal to the process named by name\n@param string name    Name of the process to signal (or 'group:name')\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return boolean",
			Call: r.signalProcess},
		"signalProcessGroup": {Help: "Send a signal to all processes in the group named 'name'\n@param string name    The group name\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return array",
			Call: r.signalProcessGroup},
		"signalAllProcesses": {Help: "Send a signal to all processes in the process list\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return array         An array of process status info structs",
			Call: r.signalAll},
		"getProcessInfo": {Help: "Get info about a process named name\n@param string name The name of the process (or 'group:name')\n@return struct result     A structure containing data about the process",
			Call: r.getProcessInfo},
		"getAllProcessInfo": {Help: "Get info about all processes\n@return array result  An array of process status results",
			Call: r.getAllProcessInfo},
		"getAllConfigInfo": {Help: "Get info about all available process configurations. Each struct\nrepresents a single process (i.e. groups get flattened).\n@return array result  An array of process config info structs",
			Call: r.getAllConfigInfo},
		"readProcessStdoutLog": {Help: "Read length bytes from name's stdout log starting at offset\n@param string name        the name of the process (or 'group:name')\n@param int offset         offset to start reading from.\n@param int length         number of bytes to read from the log.\n@return string result     Bytes of log",
			Call: r.readProcessLog("stdout")},
		"readProcessStderrLog": {Help: "Read length bytes from name's stderr log starting at offset\n@param string name        the name of the process (or 'group:name')\n@param int offset         offset to start reading from.\n@param int length         number of bytes to read from the log.\n@return string result     Bytes of log",
			Call: r.readProcessLog("stderr")},
		"tailProcessStdoutLog": {Help: "Provides a more efficient way to tail the (stdout) log than\nreadProcessStdoutLog().  Use readProcessStdoutLog() to read\nchunks and tailProcessStdoutLog() to tail.\n@param string name       the name of the process (or 'group:name')\n@param int offset        offset to start reading from\n@param int length        maximum number of bytes to return\n@return array result     [string bytes, int offset, bool overflow]",
			Call: r.tailProcessLog("stdout")},
		"tailProcessStderrLog": {Help: "Provides a more efficient way to tail the (stderr) log than\nreadProcessStderrLog().  Use readProcessStderrLog() to read\nchunks and tailProcessStderrLog() to tail.\n@param string name       the name of the process (or 'group:name')\n@param int offset        offset to start reading from\n@param int length        maximum number of bytes to return\n@return array result     [string bytes, int offset, bool overflow]",
			Call: r.tailProcessLog("stderr")},
		"clearProcessLogs": {Help: "Clear the stdout and stderr logs for the named process and\nreopen them.\n@param string name   The name of the process (or 'group:name')\n@return boolean result      Always True unless error",
			Call: r.clearProcessLogs},
		"clearAllProcessLogs": {Help: "Clear all process log files\n@return array result   An array of process status info structs",
			Call: r.clearAllProcessLogs},
		"sendProcessStdin": {Help: "Send a string of chars to the stdin of the process name.\nIf non-7-bit data is sent (unicode), it is encoded to utf-8\nbefore being sent to the process' stdin.  If chars is not a\nstring or is not unicode, raise INCORRECT_PARAMETERS.  If the\nprocess is not running, raise NOT_RUNNING.  If the process'\nstdin cannot accept input (e.g. it was closed by the child\nprocess), raise NO_FILE.\n@param string name        The process name to send to (or 'group:name')\n@param string chars       The character data to send to the process\n@return boolean result    Always return True unless error",
			Call: r.sendProcessStdin},
		"sendRemoteCommEvent": {Help: "Send an event that will be received by event listener\nsubprocesses subscribing to the RemoteCommunicationEvent.\n@param  string  type  String for the \"type\" key in the event header\n@param  string  data  Data for the event body\n@return boolean       Always return True unless error",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := xmlrpc.Args(args, xmlrpc.String, xmlrpc.String); err != nil {
					return nil, err
				}
				if r.d.RemoteComm != nil {
					r.d.RemoteComm(args[0].(string), args[1].(string))
				}
				return true, nil
			}},
	}
	// supervisor's aliases
	m["getVersion"] = m["getAPIVersion"]
	m["readMainLog"] = m["readLog"]
	m["readProcessLog"] = m["readProcessStdoutLog"]
	m["tailProcessLog"] = m["tailProcessStdoutLog"]
	m["clearProcessLog"] = m["clearProcessLogs"]
	return m
}

func strs(s []string) []any {
	out := make([]any, 0, len(s))
	for _, x := range s {
		out = append(out, x)
	}
	return out
}

func (r *rpc) mainLog() *logs.Writer {
	if r.d.MainLog == nil {
		return nil
	}
	return r.d.MainLog()
}

func (r *rpc) readLog(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.Int, xmlrpc.Int); err != nil {
		return nil, err
	}
	w := r.mainLog()
	if w == nil {
		return nil, xmlrpc.Faultf(xmlrpc.NoFile, "no log file")
	}
	b, err := logs.ReadFile(w.Path(), int64(args[0].(int)), int64(args[1].(int)))
	if err != nil {
		return nil, fault(err, "log")
	}
	return string(b), nil
}

func (r *rpc) startProcess(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.String, xmlrpc.Bool|xmlrpc.Optional); err != nil {
		return nil, err
	}
	name, wait := args[0].(string), optBool(args, 1, true)
	ps, group, err := r.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if group {
		return r.startProcessGroup(ctx, []any{ps[0].Group, wait})
	}
	return true, fault(r.sup.StartProgram(ctx, full(ps[0]), wait), name)
}

func (r *rpc) startGroup(ctx context.Context, ps []supervisor.ProgramInfo, wait bool) []any {
	r.byPriority(ps)
	var todo []supervisor.ProgramInfo
	for _, pi := range ps {
		if !pi.State.Running() && pi.State != supervisor.StateStopping {
			todo = append(todo, pi)
		}
	}
	return forEach(todo, func(pi supervisor.ProgramInfo) error {
		return r.sup.StartProgram(ctx, full(pi), wait)
	})
}

// groupArgs checks (name, wait=true) and finds the group's programs.
func (r *rpc) groupArgs(ctx context.Context, args []any) ([]supervisor.ProgramInfo, bool, error) {
	if err := xmlrpc.Args(args, xmlrpc.String, xmlrpc.Bool|xmlrpc.Optional); err != nil {
		return nil, false, err
	}
	if err := r.running(); err != nil {
		return nil, false, err
	}
	name := args[0].(string)
	ps, _, err := r.lookup(ctx, name+":*")
	if err != nil {
		return nil, false, xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	}
	return ps, optBool(args, 1, true), nil
}

// allArgs checks (wait=true) and lists every program.
func (r *rpc) allArgs(ctx context.Context, args []any) ([]supervisor.ProgramInfo, bool, error) {
	if err := xmlrpc.Args(args, xmlrpc.Bool|xmlrpc.Optional); err != nil {
		return nil, false, err
	}
	if err := r.running(); err != nil {
		return nil, false, err
	}
	ps, err := r.sup.Programs(ctx)
	if err != nil {
		return nil, false, fault(err, "")
	}
	return ps, optBool(args, 0, true), nil
}

func (r *rpc) startProcessGroup(ctx context.Context, args []any) (any, error) {
	ps, wait, err := r.groupArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return r.startGroup(ctx, ps, wait), nil
}

func (r *rpc) startAll(ctx context.Context, args []any) (any, error) {
	ps, wait, err := r.allArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return r.startGroup(ctx, ps, wait), nil
}

func (r *rpc) stopProcess(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.String, xmlrpc.Bool|xmlrpc.Optional); err != nil {
		return nil, err
	}
	name, wait := args[0].(string), optBool(args, 1, true)
	ps, group, err := r.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if group {
		return r.stopProcessGroup(ctx, []any{ps[0].Group, wait})
	}
	return true, fault(r.sup.StopProgram(ctx, full(ps[0]), wait), name)
}

func (r *rpc) stopGroup(ctx context.Context, ps []supervisor.ProgramInfo, wait bool) []any {
	r.byPriority(ps)
	slices.Reverse(ps)
	var todo []supervisor.ProgramInfo
	for _, pi := range ps {
		if pi.State.Running() {
			todo = append(todo, pi)
		}
	}
	// One request: supervisord sends the stop signals in one pass, in
	// reverse priority order, then waits for them all.
	names := make([]string, len(todo))
	for i, pi := range todo {
		names[i] = full(pi)
	}
	errs, err := r.sup.StopPrograms(ctx, names, wait)
	out := make([]any, len(todo))
	for i, pi := range todo {
		if err != nil {
			out[i] = status(pi, err)
		} else {
			out[i] = status(pi, errs[i])
		}
	}
	return out
}

func (r *rpc) stopProcessGroup(ctx context.Context, args []any) (any, error) {
	ps, wait, err := r.groupArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return r.stopGroup(ctx, ps, wait), nil
}

func (r *rpc) stopAll(ctx context.Context, args []any) (any, error) {
	ps, wait, err := r.allArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return r.stopGroup(ctx, ps, wait), nil
}

func (r *rpc) signalProcess(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.String, xmlrpc.String|xmlrpc.Int); err != nil {
		return nil, err
	}
	name := args[0].(string)
	ps, group, err := r.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if group {
		return r.signalProcessGroup(ctx, []any{ps[0].Group, args[1]})
	}
	sig, err := supervisor.ParseSignal(args[1])
	if err != nil {
		return nil, xmlrpc.Faultf(xmlrpc.BadSignal, "%v", args[1])
	}
	return true, fault(r.sup.SignalProgram(ctx, full(ps[0]), sig), name)
}

func (r *rpc) signalGroup(ctx context.Context, ps []supervisor.ProgramInfo, v any) ([]any, error) {
	sig, err := supervisor.ParseSignal(v)
	if err != nil {
		return nil, xmlrpc.Faultf(xmlrpc.BadSignal, "%v", v)
	}
	r.byPriority(ps)
	var todo []supervisor.ProgramInfo
	for _, pi := range ps {
		if pi.State.Signallable() {
			todo = append(todo, pi)
		}
	}
	return forEach(todo, func(pi supervisor.ProgramInfo) error {
		return r.sup.SignalProgram(ctx, full(pi), sig)
	}), nil
}

func (r *rpc) signalProcessGroup(ctx context.Context, args []any) (any, error) {
	if err := xmlrpc.Args(args, xmlrpc.String, xmlrpc.String|xmlrpc.Int); err != nil {
		return nil, err
	}
	name := args[0].(string)
	ps, _, err := r.lookup(ctx, name+":*")
	if err != nil {
		return nil, xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	}
	out, err := r.signalGroup(ctx, ps, args[1])
	if err == nil {
		err = r.running() // supervisor checks after acting
	}
	return out, err
}

func (r *rpc) signalAll(ctx context.Context, args []any) (any, error) {
	if err := xmlrpc.Args(args, xmlrpc.String|xmlrpc.Int); err != nil {
		return nil, err
	}
	ps, err := r.sup.Programs(ctx)
	if err != nil {
		return nil, fault(err, "")
	}
	out, err := r.signalGroup(ctx, ps, args[0])
	if err == nil {
		err = r.running()
	}
	return out, err
}

// ProcessInfo is supervisor's process info struct (spec §4.4). A struct,
// not a map: status with many processes is the call supervisorctl makes
// most, and a struct encodes without sorting keys.
type ProcessInfo struct {
	Name          string `xmlrpc:"name"`
	Group         string `xmlrpc:"group"`
	Description   string `xmlrpc:"description"`
	Start         int    `xmlrpc:"start"`
	Stop          int    `xmlrpc:"stop"`
	Now           int    `xmlrpc:"now"`
	State         int    `xmlrpc:"state"`
	StateName     string `xmlrpc:"statename"`
	SpawnErr      string `xmlrpc:"spawnerr"`
	ExitStatus    int    `xmlrpc:"exitstatus"`
	Logfile       string `xmlrpc:"logfile"`
	StdoutLogfile string `xmlrpc:"stdout_logfile"`
	StderrLogfile string `xmlrpc:"stderr_logfile"`
	Pid           int    `xmlrpc:"pid"`
}

func processInfo(pi supervisor.ProgramInfo, now time.Time) ProcessInfo {
	epoch := func(t time.Time) int {
		if t.IsZero() {
			return 0
		}
		return int(t.Unix() & 0x7fffffff) // supervisor caps times to 32 bits
	}
	out, errLog := pi.Logs["stdout"], pi.Logs["stderr"]
	if len(pi.Config.RedirectOutput) > 1 && pi.Config.RedirectOutput[1] == pi.Config.RedirectOutput[0] {
		errLog = ""
	}
	return ProcessInfo{
		Name: pi.Name, Group: pi.Group, Description: description(pi, now),
		Start: epoch(pi.Start), Stop: epoch(pi.Stop), Now: epoch(now),
		State: int(pi.State), StateName: pi.State.String(), SpawnErr: pi.SpawnErr,
		ExitStatus: pi.ExitStatus, Logfile: out, StdoutLogfile: out, StderrLogfile: errLog, Pid: pi.Pid,
	}
}

// description is supervisor's human description of a process.
func description(pi supervisor.ProgramInfo, now time.Time) string {
	if pi.Waiting != "" && (pi.State == supervisor.StateStopped || pi.State == supervisor.StateExited) {
		return pi.Waiting // "waiting for db: healthy": held by a dependency
	}
	switch pi.State {
	case supervisor.StateRunning:
		up := max(now.Sub(pi.Start), 0) / time.Second
		d, h, m, s := up/86400, up%86400/3600, up%3600/60, up%60
		// "pid 42, uptime 1 day, 2:03:04", built without fmt: it runs
		// once per program in every getAllProcessInfo.
		b := make([]byte, 0, 40)
		b = append(b, "pid "...)
		b = strconv.AppendInt(b, int64(pi.Pid), 10)
		b = append(b, ", uptime "...)
		if d == 1 {
			b = append(b, "1 day, "...)
		} else if d > 1 {
			b = strconv.AppendInt(b, int64(d), 10)
			b = append(b, " days, "...)
		}
		b = strconv.AppendInt(b, int64(h), 10)
		b = append(b, ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
		return string(b)
	case supervisor.StateStopped, supervisor.StateExited:
		if pi.Start.IsZero() {
			return "Not started"
		}
		return pi.Stop.Local().Format("Jan 02 03:04 PM")
	case supervisor.StateFatal, supervisor.StateBackoff:
		if pi.SpawnErr != "" {
			return pi.SpawnErr
		}
		return fmt.Sprintf("unknown error (try \"tail %s\")", pi.Name)
	}
	return ""
}

func (r *rpc) getProcessInfo(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.String); err != nil {
		return nil, err
	}
	name := args[0].(string)
	ps, group, err := r.lookup(ctx, name)
	if err != nil || group {
		return nil, xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	}
	return processInfo(ps[0], time.Now()), nil
}

func (r *rpc) getAllProcessInfo(ctx context.Context, args []any) (any, error) {
	if err := r.check(args); err != nil {
		return nil, err
	}
	ps, err := r.sup.Programs(ctx)
	if err != nil {
		return nil, fault(err, "")
	}
	now := time.Now()
	out := make([]ProcessInfo, 0, len(ps))
	for _, pi := range ps {
		out = append(out, processInfo(pi, now))
	}
	return out, nil
}

func (r *rpc) getAllConfigInfo(ctx context.Context, args []any) (any, error) {
	if err := r.check(args); err != nil {
		return nil, err
	}
	ps, err := r.sup.Programs(ctx)
	if err != nil {
		return nil, fault(err, "")
	}
	type entry struct {
		pi    supervisor.ProgramInfo
		inuse bool
	}
	var entries []entry
	if r.d.Configs != nil {
		// supervisor lists the config it last read: loaded groups are in use.
		loaded := map[string]bool{}
		logsOf := map[string]map[string]string{}
		for _, pi := range ps {
			loaded[pi.Group] = true
			logsOf[full(pi)] = pi.Logs
		}
		for _, js := range r.d.Configs() {
			if js.Config.Program == nil {
				continue
			}
			// A running process's AUTO log has its real name.
			entries = append(entries, entry{supervisor.ProgramInfo{Name: js.Config.Name, Group: js.Session,
				Priority: js.Config.Priority, Config: js.Config, Logs: logsOf[js.Session+"."+js.Config.Name]},
				loaded[js.Session]})
		}
	} else {
		for _, pi := range ps {
			entries = append(entries, entry{pi, true})
		}
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		pi := e.pi
		c, p := pi.Config, pi.Config.Program
		autorestart := any("unexpected")
		switch p.AutoRestart {
		case supervisor.RestartAlways:
			autorestart = true
		case supervisor.RestartNever:
			autorestart = false
		}
		codes := make([]any, 0, len(p.ExitCodes))
		for _, code := range p.ExitCodes {
			codes = append(codes, code)
		}
		stopsig := int(c.StopSignal)
		if stopsig == 0 {
			stopsig = 15
		}
		gp := 999
		if r.d.GroupPriority != nil {
			gp = r.d.GroupPriority(pi.Group)
		}
		redirect := len(c.RedirectOutput) > 1 && c.RedirectOutput[0] == c.RedirectOutput[1]
		m := map[string]any{
			"name": pi.Name, "group": pi.Group, "inuse": e.inuse, "autostart": c.Start, "autorestart": autorestart,
			"directory": orNone(c.Cwd), "uid": orNone(c.UID), "command": c.Cmd, "exitcodes": codes,
			"group_prio": gp, "process_prio": c.Priority, "killasgroup": p.KillAsGroup, "stopasgroup": p.StopAsGroup,
			"redirect_stderr": redirect, "startretries": p.StartRetries, "startsecs": int(p.StartSecs / time.Second),
			"stopsignal": stopsig, "stopwaitsecs": int(c.GracefulTimeout / time.Second), "serverurl": orAuto(p.ServerURL),
		}
		for _, ch := range []string{"stdout", "stderr"} {
			lf, ok := c.Logs[ch]
			path := "none"
			if ok {
				path = lf.Path
				if real := pi.Logs[ch]; real != "" {
					path = real
				} else if path == "" {
					path = "auto"
				}
			}
			if ch == "stderr" && redirect {
				path = "none"
			}
			m[ch+"_logfile"] = path
			m[ch+"_logfile_maxbytes"] = int(lf.MaxBytes)
			m[ch+"_logfile_backups"] = lf.Backups
			m[ch+"_capture_maxbytes"] = int(lf.CaptureMaxBytes)
			m[ch+"_events_enabled"] = lf.Events
			m[ch+"_syslog"] = false
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b any) int {
		return strings.Compare(a.(map[string]any)["name"].(string), b.(map[string]any)["name"].(string))
	})
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orAuto(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}

// logPath is the log file of a process's channel, "" when it has none.
func logPath(pi supervisor.ProgramInfo, channel string) string {
	if channel == "stderr" && len(pi.Config.RedirectOutput) > 1 && pi.Config.RedirectOutput[0] == pi.Config.RedirectOutput[1] {
		return ""
	}
	return pi.Logs[channel]
}

// logArgs checks (name, offset, length) and finds the log file of a
// process's channel ("" when it has none).
func (r *rpc) logArgs(ctx context.Context, args []any, channel string) (name, path string, offset, length int64, err error) {
	if err := xmlrpc.Args(args, xmlrpc.String, xmlrpc.Int, xmlrpc.Int); err != nil {
		return "", "", 0, 0, err
	}
	if err := r.running(); err != nil {
		return "", "", 0, 0, err
	}
	name = args[0].(string)
	ps, group, err := r.lookup(ctx, name)
	if err != nil || group {
		return "", "", 0, 0, xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	}
	return name, logPath(ps[0], channel), int64(args[1].(int)), int64(args[2].(int)), nil
}

func (r *rpc) readProcessLog(channel string) func(context.Context, []any) (any, error) {
	return func(ctx context.Context, args []any) (any, error) {
		name, path, offset, length, err := r.logArgs(ctx, args, channel)
		if err != nil {
			return nil, err
		}
		if path == "" {
			return nil, xmlrpc.Faultf(xmlrpc.NoFile, "%s", name)
		}
		b, err := logs.ReadFile(path, offset, length)
		if err != nil {
			return nil, fault(err, name)
		}
		return string(b), nil
	}
}

func (r *rpc) tailProcessLog(channel string) func(context.Context, []any) (any, error) {
	return func(ctx context.Context, args []any) (any, error) {
		name, path, offset, length, err := r.logArgs(ctx, args, channel)
		if err != nil {
			return nil, err
		}
		if path == "" {
			return []any{"", 0, false}, nil
		}
		b, off, overflow, err := logs.TailFile(path, offset, length)
		if err != nil {
			return nil, fault(err, name)
		}
		return []any{string(b), int(off), overflow}, nil
	}
}

func (r *rpc) clearProcessLogs(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.String); err != nil {
		return nil, err
	}
	name := args[0].(string)
	ps, group, err := r.lookup(ctx, name)
	if err != nil || group {
		return nil, xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	}
	if err := r.sup.ClearLogs(ctx, full(ps[0])); err != nil {
		return nil, xmlrpc.Faultf(xmlrpc.Failed, "%s", name)
	}
	return true, nil
}

func (r *rpc) clearAllProcessLogs(ctx context.Context, args []any) (any, error) {
	if err := r.check(args); err != nil {
		return nil, err
	}
	ps, err := r.sup.Programs(ctx)
	if err != nil {
		return nil, fault(err, "")
	}
	out := make([]any, 0, len(ps))
	for _, pi := range ps {
		err := r.sup.ClearLogs(ctx, full(pi))
		if err != nil {
			err = xmlrpc.Faultf(xmlrpc.Failed, "%s", pi.Name)
		}
		out = append(out, status(pi, err))
	}
	return out, nil
}

func (r *rpc) sendProcessStdin(ctx context.Context, args []any) (any, error) {
	if err := r.check(args, xmlrpc.String, xmlrpc.String); err != nil {
		return nil, err
	}
	name, chars := args[0].(string), args[1].(string)
	ps, group, err := r.lookup(ctx, name)
	if err != nil || group {
		return nil, xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	}
	pi := ps[0]
	if pi.ID == 0 || pi.State == supervisor.StateStopping {
		return nil, xmlrpc.Faultf(xmlrpc.NotRunning, "%s", name)
	}
	if err := r.sup.Write(ctx, pi.ID, "stdin", []byte(chars)); err != nil {
		if errors.Is(err, supervisor.ErrNotFound) {
			return nil, xmlrpc.Faultf(xmlrpc.NotRunning, "%s", name)
		}
		return nil, xmlrpc.Faultf(xmlrpc.NoFile, "%s", name)
	}
	return true, nil
}
