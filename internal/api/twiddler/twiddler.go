// Package twiddler is supervisor_twiddler's XML-RPC interface (namespace
// "twiddler", API 1.0): create groups and add or remove programs while the
// daemon runs, without editing the config file. What it adds lives until
// the config is next applied (supervisorctl update, reload, SIGHUP), as
// with supervisord: the file does not name it.
//
// It is served when a supervisord.conf has
//
//	[rpcinterface:twiddler]
//	supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface
//
// addProgramToGroup reads its options as the keys of a [program:NAME]
// section of a supervisord.conf (the same adapter gafferd's config loader
// uses), in the group named, so every supervisor program option works and
// a bad one is answered INCORRECT_PARAMETERS naming it. The daemon-wide
// settings of the running config ([supervisord] environment, childlogdir)
// do not apply to a twiddled program: paths are resolved against the
// config's directory. Every method needs an admin caller when API keys
// are required (supervisorrpc.Need).
//
// Faults follow supervisor_twiddler's rpcinterface.py: an unknown group or
// process, or a name already taken, is BAD_NAME; a process still running
// is STILL_RUNNING; bad options or an unknown log level are
// INCORRECT_PARAMETERS; every method but getAPIVersion answers
// SHUTDOWN_STATE while the daemon is shutting down.
package twiddler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/supervisor"
)

// APIVersion is supervisor_twiddler's API version.
const APIVersion = "1.0"

// Errors a Daemon callback returns, mapped to faults.
var (
	ErrExists       = errors.New("already exists")      // BAD_NAME
	ErrStillRunning = errors.New("still running")       // STILL_RUNNING
	ErrNoGroup      = errors.New("no such group")       // BAD_NAME
	ErrNoProcess    = errors.New("no such process")     // BAD_NAME
	errBadOptions   = errors.New("bad program options") // INCORRECT_PARAMETERS
)

// Daemon is what the interface changes: gafferd's groups.
type Daemon struct {
	// Running reports whether the daemon accepts calls; nil = always.
	Running func() bool
	// Logger is the daemon's main log, written by twiddler.log.
	Logger *slog.Logger
	// Dir is the directory relative paths of program options are resolved
	// against (%(here)s): the config file's.
	Dir string
	// Groups lists the daemon's group names, empty groups included.
	Groups func() []string
	// AddGroup creates an empty group; ErrExists when the name is taken.
	AddGroup func(ctx context.Context, name string, priority int) error
	// AddJobs loads jobs into the existing group, starting those with
	// autostart; ErrNoGroup when there is no such group, ErrExists when a
	// job's name is taken.
	AddJobs func(ctx context.Context, group string, jobs []config.Job) error
	// RemoveProcess unloads a stopped process: ErrNoGroup, ErrNoProcess,
	// or ErrStillRunning.
	RemoveProcess func(ctx context.Context, group, process string) error
	// GroupPriority returns an existing group's priority.
	GroupPriority func(name string) int
}

// Register adds the twiddler.* methods to srv.
func Register(srv *xmlrpc.Server, d *Daemon) {
	for name, m := range methods(d) {
		srv.Register("twiddler."+name, m)
	}
}

func fault(err error, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrExists), errors.Is(err, ErrNoGroup), errors.Is(err, ErrNoProcess),
		errors.Is(err, supervisor.ErrNotFound):
		return xmlrpc.Faultf(xmlrpc.BadName, "%s", name)
	case errors.Is(err, ErrStillRunning):
		return xmlrpc.Faultf(xmlrpc.StillRunning, "%s", name)
	case errors.Is(err, errBadOptions):
		return xmlrpc.Faultf(xmlrpc.IncorrectParameters, "%v", err)
	case errors.Is(err, supervisor.ErrShuttingDown):
		return xmlrpc.NewFault(xmlrpc.ShutdownState)
	case errors.Is(err, context.Canceled):
		return err
	}
	return xmlrpc.Faultf(xmlrpc.Failed, "%v", err)
}

func (d *Daemon) check(args []any, want ...xmlrpc.Kind) error {
	if err := xmlrpc.Args(args, want...); err != nil {
		return err
	}
	if d.Running != nil && !d.Running() {
		return xmlrpc.NewFault(xmlrpc.ShutdownState)
	}
	return nil
}

// levels are supervisor's logger levels by name (supervisor.loggers
// LevelsByName) and number, as slog levels.
var levels = map[string]int{"CRIT": 50, "ERRO": 40, "WARN": 30, "INFO": 20, "DEBG": 10, "TRAC": 5, "BLAT": 3}

func slogLevel(n int) slog.Level {
	switch {
	case n >= 50:
		return slog.LevelError + 4
	case n >= 40:
		return slog.LevelError
	case n >= 30:
		return slog.LevelWarn
	case n >= 20:
		return slog.LevelInfo
	case n >= 10:
		return slog.LevelDebug
	}
	return slog.LevelDebug - 4
}

func methods(d *Daemon) map[string]xmlrpc.Method {
	return map[string]xmlrpc.Method{
		"getAPIVersion": {Help: "Return the version of the RPC API used by supervisor_twiddler\n\n@return string version\n",
			Call: func(_ context.Context, args []any) (any, error) {
				if err := xmlrpc.Args(args); err != nil {
					return nil, err
				}
				return APIVersion, nil
			}},
		"getGroupNames": {Help: "Return an array with the names of the process groups.\n\n@return array                Process group names\n",
			Call: func(_ context.Context, args []any) (any, error) {
				if err := d.check(args); err != nil {
					return nil, err
				}
				names := slices.Clone(d.Groups())
				slices.Sort(names)
				return names, nil
			}},
		"addGroup": {Help: "Create a new process group.\n\n@param string name         Name for the new process group\n@param integer priority    Group priority (same as supervisord.conf)\n@return boolean            Always True unless error\n",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := d.check(args, xmlrpc.String, xmlrpc.Int|xmlrpc.Optional); err != nil {
					return nil, err
				}
				name, prio := args[0].(string), 999
				if len(args) > 1 {
					prio = args[1].(int)
				}
				if err := checkName(name); err != nil {
					return nil, xmlrpc.Faultf(xmlrpc.BadName, "%v", err)
				}
				return true, fault(d.AddGroup(ctx, name, prio), name)
			}},
		"addProgramToGroup": {Help: "Add a new program to an existing process group.\n\n@param string group_name    Name of an existing process group\n@param string program_name  Name of the new process in the process table\n@param struct program_options  Program options, same as in supervisord.conf\n@return boolean             Always True unless error\n",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := d.check(args, xmlrpc.String, xmlrpc.String, xmlrpc.Struct); err != nil {
					return nil, err
				}
				group, program, opts := args[0].(string), args[1].(string), args[2].(map[string]any)
				if !slices.Contains(d.Groups(), group) {
					return nil, xmlrpc.Faultf(xmlrpc.BadName, "group: %s", group)
				}
				prio := 999
				if d.GroupPriority != nil {
					prio = d.GroupPriority(group)
				}
				jobs, err := ProgramJobs(d.Dir, group, prio, program, opts)
				if err != nil {
					return nil, fault(err, program)
				}
				if err := d.AddJobs(ctx, group, jobs); err != nil {
					var name string
					if len(jobs) > 0 {
						name = jobs[0].Config.Name
					}
					return nil, fault(err, name)
				}
				return true, nil
			}},
		"removeProcessFromGroup": {Help: "Remove a process from a process group.  When a program is added with\naddProgramToGroup(), one or more processes for that program is added\nto the group.  This method removes individual processes (named by the\nnumprocs and process_name options), not programs.\n\n@param string group_name    Name of an existing process group\n@param string process_name  Name of the process to remove from group\n@return boolean             Always return True unless error\n",
			Call: func(ctx context.Context, args []any) (any, error) {
				if err := d.check(args, xmlrpc.String, xmlrpc.String); err != nil {
					return nil, err
				}
				group, process := args[0].(string), args[1].(string)
				err := d.RemoveProcess(ctx, group, process)
				if errors.Is(err, ErrNoGroup) {
					return nil, xmlrpc.Faultf(xmlrpc.BadName, "group: %s", group)
				}
				return true, fault(err, process)
			}},
		"log": {Help: "Write an arbitrary message to the main supervisord log.  This is\nuseful for recording information about your twiddling.\n\n@param string message      Message to write to the log\n@param int level           Log level name (INFO, etc) or numeric level (20)\n@return boolean            Always True unless error\n",
			Call: func(_ context.Context, args []any) (any, error) {
				if err := d.check(args, xmlrpc.String, xmlrpc.String|xmlrpc.Int|xmlrpc.Optional); err != nil {
					return nil, err
				}
				n := 20
				if len(args) > 1 {
					switch l := args[1].(type) {
					case string:
						var ok bool
						if n, ok = levels[strings.ToUpper(l)]; !ok {
							return nil, xmlrpc.Faultf(xmlrpc.IncorrectParameters, "unknown log level %q (CRIT, ERRO, WARN, INFO, DEBG, TRAC or BLAT)", l)
						}
					case int:
						if !slices.Contains([]int{50, 40, 30, 20, 10, 5, 3}, l) {
							return nil, xmlrpc.Faultf(xmlrpc.IncorrectParameters, "unknown log level %d (50, 40, 30, 20, 10, 5 or 3)", l)
						}
						n = l
					}
				}
				logger := d.Logger
				if logger == nil {
					logger = slog.Default()
				}
				logger.Log(context.Background(), slogLevel(n), args[0].(string), "from", "twiddler.log")
				return true, nil
			}},
	}
}

// checkName refuses names that cannot be a section name's part.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, ":[]\r\n\t ,") {
		return fmt.Errorf("%w: %q is not a valid name", errBadOptions, name)
	}
	return nil
}

// ProgramJobs builds the jobs of program in group from its options, the
// keys of a [program:NAME] section, as supervisord.conf's adapter does.
// An option value is a string, an integer, a boolean or a double; dir is
// the directory %(here)s and relative paths refer to.
func ProgramJobs(dir, group string, priority int, program string, opts map[string]any) ([]config.Job, error) {
	if err := checkName(group); err != nil {
		return nil, err
	}
	if err := checkName(program); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[supervisord]\n[program:%s]\n", program)
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=:[]\r\n\t ;#") {
			return nil, fmt.Errorf("%w: option name %q", errBadOptions, k)
		}
		var v string
		switch x := opts[k].(type) {
		case string:
			v = x
		case int:
			v = strconv.Itoa(x)
		case bool:
			v = strconv.FormatBool(x)
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, fmt.Errorf("%w: option %s: a %T cannot be an option value", errBadOptions, k, x)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("%w: option %s: a value cannot span lines", errBadOptions, k)
		}
		fmt.Fprintf(&b, "%s = %s\n", k, v)
	}
	fmt.Fprintf(&b, "[group:%s]\nprograms = %s\npriority = %d\n", group, program, priority)
	cfg, err := config.ParseSupervisord(filepath.Join(dir, "twiddler.conf"), []byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadOptions, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if len(cfg.Jobs) == 0 {
		return nil, fmt.Errorf("%w: program %s has no process (numprocs = 0)", errBadOptions, program)
	}
	return cfg.Jobs, nil
}
