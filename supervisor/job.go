package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultSession is the session of a job loaded without one.
const DefaultSession = "default"

// DefaultGracefulTimeout is gaffer's SIGTERM→SIGKILL delay (the code's 10 s, not the docs' 30 s).
const DefaultGracefulTimeout = 10 * time.Second

// maxDuration bounds configured durations (a week), so that no conversion
// overflows and a typo does not arm a timer for centuries.
const maxDuration = 7 * 24 * time.Hour

// LowestPriority is the priority of a job that names none: it starts last.
const LowestPriority = math.MaxInt32

// JobConfig is a job: the template from which a job's processes are spawned.
// It is a value; the supervisor keeps its own copy.
type JobConfig struct {
	Name            string             // job name without the session
	Cmd             string             // command line; split shell-style
	Args            []string           // extra arguments, appended after cmd's own
	Env             map[string]string  // extra environment
	OSEnv           bool               // os_env: start from gafferd's environment (OS values win)
	UID             string             // uid: user name or number (only when root)
	GID             string             // gid: group name or number
	Cwd             string             // working directory; gafferd's when empty
	Detach          bool               // new session, not killed with gafferd
	Shell           bool               // run cmd through sh -c
	NumProcesses    int                // numprocesses: processes to keep alive
	Priority        int                // boot start order, ascending; LowestPriority when unset
	Start           bool               // start after loading (INI "start", API "start")
	GracefulTimeout time.Duration      // graceful_timeout (whole seconds in gaffer's formats)
	Flapping        *Flapping          // crash-loop detection; nil = off
	Backoff         *Backoff           // optional exponential restart delay; nil = gaffer's immediate restart
	RedirectOutput  []string           // labels for stdout (1st) and stderr (2nd)
	RedirectInput   bool               // open a pipe to stdin
	CustomStreams   []string           // extra bidirectional pipes at fd 3, 4, … (after the Sockets)
	Sockets         []Socket           // listening sockets owned by the supervisor (sockets.go)
	Umask           int                // file mode mask for the child; -1 (or 0 with UmaskSet false) = inherit
	UmaskSet        bool               // Umask was given
	StopSignal      syscall.Signal     // signal that starts a stop; 0 = SIGTERM
	Logs            map[string]LogFile // log file per output label (see LogFile); nil = none

	// PIDFile, when set, says the command daemonizes itself: it forks the
	// real process into the background, writes its pid to this file and
	// exits 0; that pid is then supervised (pidfile.go). Relative to Cwd.
	PIDFile string

	// DependsOn lists the jobs this one waits for before it starts
	// (depends_on); Readiness and Liveness are its probes (nil = none).
	DependsOn []Dependency
	Readiness *Probe
	Liveness  *Probe

	// Program, when set, gives the job supervisord's process semantics
	// (one process, states STOPPED … FATAL, startsecs, startretries,
	// exitcodes, autorestart) instead of gaffer's restart rule.
	Program *Program

	// Given lists the JSON keys the config was loaded with, so that job info
	// echoes "the stored config exactly as loaded". Unknown keys are kept in Extra.
	Given []string
	Extra map[string]json.RawMessage
}

// LogFile is where one output stream is written, with size rotation.
type LogFile struct {
	Path string // file; rotated to Path.1 … Path.N
	// AutoDir, with Path empty, asks for supervisor's AUTO log: a file with
	// a unique name created in AutoDir (childlogdir) at the first spawn.
	AutoDir  string
	MaxBytes int64 // rotate beyond this size; 0 = never
	Backups  int   // rotated files kept; 0 = truncate instead
	// Events publishes the stream's output as log events
	// (supervisor's stdout_events_enabled).
	Events bool
	// CaptureMaxBytes > 0 turns on supervisor's capture mode for the stream
	// (PROCESS_COMMUNICATION events between XSUPERVISOR tokens).
	CaptureMaxBytes int64
}

// AutoRestart is supervisor's autorestart policy.
type AutoRestart int

const (
	RestartUnexpected AutoRestart = iota // when the exit status is not in ExitCodes (supervisor's default)
	RestartAlways                        // after every exit
	RestartNever                         // never
)

// Program holds supervisord's per-program process rules
// (supervisor-semantics.md §2). A job with a Program has exactly one process.
type Program struct {
	Group        string        // supervisor group; also the job's session
	StartSecs    time.Duration // time up before STARTING becomes RUNNING (strictly more)
	StartRetries int           // BACKOFF retries before FATAL
	AutoRestart  AutoRestart
	ExitCodes    []int // expected exit statuses
	StopAsGroup  bool  // stop signal to the process group
	KillAsGroup  bool  // SIGKILL to the process group
	// ServerURL is exported to the child as SUPERVISOR_SERVER_URL when set.
	ServerURL string
	// GroupPriority is the priority of the supervisor group (the [group:x]
	// or the program's own; -1 for event listener pools): at shutdown,
	// groups stop one at a time from the highest number down. It is not
	// part of the config's identity (Equal, JSON): a change applies without
	// a restart.
	GroupPriority int
}

// DefaultProgram returns supervisord's defaults.
func DefaultProgram(group string) *Program {
	return &Program{Group: group, StartSecs: time.Second, StartRetries: 3, ExitCodes: []int{0}, GroupPriority: 999}
}

// Flapping is gaffer's crash-loop rule (gaffer-config.md §8).
type Flapping struct {
	Attempts int           // recorded exits before the rule is evaluated
	Window   time.Duration // max span between the oldest and newest exit
	RetryIn  time.Duration // pause before restarting a flapping job
	MaxRetry int           // pauses allowed before giving up; size of the exit history
}

// DefaultFlapping returns gaffer's defaults: 2 attempts in 1 s, retry in 7 s, 5 retries.
func DefaultFlapping() Flapping {
	return Flapping{Attempts: 2, Window: time.Second, RetryIn: 7 * time.Second, MaxRetry: 5}
}

// Backoff is an optional restart delay that grows on every crash, beyond
// gaffer's immediate restart. Delay n = min(Max, Initial*Multiplier^n),
// randomised by ±Jitter (a fraction); n resets to 0 once a process has run
// for Reset. Off (nil) by default so gaffer's rule stays exact.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
	Reset      time.Duration
}

// NewJobConfig returns a config with gaffer's API defaults.
func NewJobConfig(name, cmd string) JobConfig {
	return JobConfig{
		Name: name, Cmd: cmd, NumProcesses: 1, Priority: LowestPriority,
		Start: true, GracefulTimeout: DefaultGracefulTimeout,
	}
}

// ParseName splits a full job name: at the first '.', else the first '/',
// else session "default" (gaffer-http-api.md §2).
func ParseName(full string) (session, job string) {
	if i := strings.IndexByte(full, '.'); i >= 0 {
		return full[:i], full[i+1:]
	}
	if i := strings.IndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return DefaultSession, full
}

// Validate reports every problem of a config, naming the key. It changes nothing.
func (c *JobConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fmt.Errorf("name: %w", ErrMissingName))
	} else if strings.ContainsAny(c.Name, "/") || strings.TrimSpace(c.Name) != c.Name {
		errs = append(errs, fmt.Errorf("name %q: %w", c.Name, ErrBadName))
	}
	if strings.TrimSpace(c.Cmd) == "" {
		errs = append(errs, fmt.Errorf("cmd: %w", ErrMissingCmd))
	} else if _, err := SplitCommand(c.Cmd); err != nil {
		errs = append(errs, fmt.Errorf("cmd: %w", err))
	}
	if c.NumProcesses < 0 {
		errs = append(errs, fmt.Errorf("numprocesses %d: %w", c.NumProcesses, ErrBadValue))
	}
	if c.NumProcesses > maxScale {
		errs = append(errs, fmt.Errorf("numprocesses %d: more than %d: %w", c.NumProcesses, maxScale, ErrBadValue))
	}
	if c.GracefulTimeout > maxDuration {
		errs = append(errs, fmt.Errorf("graceful_timeout %v: more than %v: %w", c.GracefulTimeout, maxDuration, ErrBadValue))
	}
	if c.GracefulTimeout < 0 {
		errs = append(errs, fmt.Errorf("graceful_timeout %v: %w", c.GracefulTimeout, ErrBadValue))
	}
	if f := c.Flapping; f != nil {
		if f.Attempts < 0 || f.MaxRetry < 0 || f.Window < 0 || f.RetryIn < 0 ||
			f.Attempts > maxScale || f.MaxRetry > maxScale || f.Window > maxDuration || f.RetryIn > maxDuration {
			errs = append(errs, fmt.Errorf("flapping: values must be >= 0 (counts <= %d, durations <= %v): %w", maxScale, maxDuration, ErrBadValue))
		}
	}
	if b := c.Backoff; b != nil {
		if b.Initial <= 0 || b.Max < b.Initial || b.Max > maxDuration || b.Multiplier < 1 || b.Multiplier > 100 ||
			b.Jitter < 0 || b.Jitter > 1 || b.Reset < 0 || b.Reset > maxDuration {
			errs = append(errs, fmt.Errorf("backoff: need 0 < initial <= max <= %v, 1 <= multiplier <= 100, 0 <= jitter <= 1, 0 <= reset <= %v: %w", maxDuration, maxDuration, ErrBadValue))
		}
	}
	if c.Program != nil {
		if c.NumProcesses > 1 {
			errs = append(errs, fmt.Errorf("numprocesses %d: a supervisor program has one process per job: %w", c.NumProcesses, ErrBadValue))
		}
		if c.Program.StartSecs < 0 || c.Program.StartSecs > maxDuration || c.Program.StartRetries < 0 || c.Program.StartRetries > maxScale {
			errs = append(errs, fmt.Errorf("startsecs/startretries out of range: %w", ErrBadValue))
		}
		for _, code := range c.Program.ExitCodes {
			if code < 0 || code > 255 {
				errs = append(errs, fmt.Errorf("exitcodes %d: want 0-255: %w", code, ErrBadValue))
			}
		}
		if c.Program.StopAsGroup && !c.Program.KillAsGroup {
			errs = append(errs, fmt.Errorf("stopasgroup without killasgroup: %w", ErrBadValue))
		}
	}
	for _, d := range c.DependsOn {
		if err := d.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Readiness.validate("readiness"); err != nil {
		errs = append(errs, err)
	}
	if err := c.Liveness.validate("liveness"); err != nil {
		errs = append(errs, err)
	}
	if c.PIDFile != "" && (c.NumProcesses > 1 || strings.ContainsRune(c.PIDFile, 0) || strings.HasSuffix(c.PIDFile, "/")) {
		errs = append(errs, fmt.Errorf("pidfile %q: need a file name, and numprocesses at most 1 (one pidfile names one daemon): %w", c.PIDFile, ErrBadValue))
	}
	if c.StopSignal < 0 || c.StopSignal > 64 {
		errs = append(errs, fmt.Errorf("stopsignal %d: %w", c.StopSignal, ErrBadValue))
	}
	for label, lf := range c.Logs {
		if (lf.Path == "" && lf.AutoDir == "" && !lf.Events && lf.CaptureMaxBytes == 0) || lf.MaxBytes < 0 || lf.Backups < 0 || lf.CaptureMaxBytes < 0 {
			errs = append(errs, fmt.Errorf("log for %q: need a path and non-negative sizes: %w", label, ErrBadValue))
		}
	}
	errs = append(errs, validateSockets(c)...)
	for _, l := range append(append([]string{}, c.RedirectOutput...), c.CustomStreams...) {
		if l == "" || l == "stdin" {
			errs = append(errs, fmt.Errorf("stream label %q: %w", l, ErrBadValue))
		}
	}
	return errors.Join(errs...)
}

// clone returns a deep copy, so callers and the loop never share maps or slices.
func (c JobConfig) clone() JobConfig {
	out := c
	out.Args = append([]string(nil), c.Args...)
	out.RedirectOutput = append([]string(nil), c.RedirectOutput...)
	out.CustomStreams = append([]string(nil), c.CustomStreams...)
	out.Sockets = append([]Socket(nil), c.Sockets...)
	out.Given = append([]string(nil), c.Given...)
	if c.Env != nil {
		out.Env = make(map[string]string, len(c.Env))
		for k, v := range c.Env {
			out.Env[k] = v
		}
	}
	if c.Flapping != nil {
		f := *c.Flapping
		out.Flapping = &f
	}
	if c.Backoff != nil {
		b := *c.Backoff
		out.Backoff = &b
	}
	if c.Logs != nil {
		out.Logs = make(map[string]LogFile, len(c.Logs))
		for k, v := range c.Logs {
			out.Logs[k] = v
		}
	}
	if c.Program != nil {
		p := *c.Program
		p.ExitCodes = append([]int(nil), c.Program.ExitCodes...)
		out.Program = &p
	}
	out.DependsOn = append([]Dependency(nil), c.DependsOn...)
	if c.Readiness != nil {
		p := *c.Readiness
		out.Readiness = &p
	}
	if c.Liveness != nil {
		p := *c.Liveness
		out.Liveness = &p
	}
	if c.Extra != nil {
		out.Extra = make(map[string]json.RawMessage, len(c.Extra))
		for k, v := range c.Extra {
			out.Extra[k] = v
		}
	}
	return out
}

// Equal reports whether two configs would spawn the same processes; used by reload diffs.
func (c JobConfig) Equal(o JobConfig) bool {
	a, _ := json.Marshal(c.canonical())
	b, _ := json.Marshal(o.canonical())
	return bytes.Equal(a, b)
}

func (c JobConfig) canonical() map[string]any {
	m := c.fields()
	m["priority"] = c.Priority // start is not compared: changing only it must not restart a job
	return m
}

// fields is the full JSON view of the config, every key present.
func (c JobConfig) fields() map[string]any {
	m := map[string]any{
		"name": c.Name, "cmd": c.Cmd, "args": nonNil(c.Args), "env": nonNilMap(c.Env),
		"os_env": c.OSEnv, "cwd": c.Cwd, "detach": c.Detach, "shell": c.Shell,
		"numprocesses": c.NumProcesses, "graceful_timeout": c.GracefulTimeout.Seconds(),
		"redirect_output": nonNil(c.RedirectOutput), "redirect_input": c.RedirectInput,
		"custom_streams": nonNil(c.CustomStreams),
	}
	if c.UID != "" {
		m["uid"] = c.UID
	}
	if len(c.Sockets) > 0 {
		m["sockets"] = socketsJSON(c.Sockets)
	}
	if c.GID != "" {
		m["gid"] = c.GID
	}
	if c.PIDFile != "" {
		m["pidfile"] = c.PIDFile
	}
	if c.Priority != LowestPriority {
		m["priority"] = c.Priority
	}
	if f := c.Flapping; f != nil {
		m["flapping"] = map[string]any{"attempts": f.Attempts, "window": f.Window.Seconds(),
			"retry_in": f.RetryIn.Seconds(), "max_retry": f.MaxRetry}
	}
	if c.UmaskSet {
		m["umask"] = fmt.Sprintf("%03o", c.Umask)
	}
	if c.StopSignal != 0 {
		m["stop_signal"] = int(c.StopSignal)
	}
	if len(c.Logs) > 0 {
		logs := map[string]any{}
		for label, l := range c.Logs {
			logs[label] = map[string]any{"path": l.Path, "auto_dir": l.AutoDir, "max_bytes": l.MaxBytes, "backups": l.Backups,
				"events": l.Events, "capture_max_bytes": l.CaptureMaxBytes}
		}
		m["logs"] = logs
	}
	if p := c.Program; p != nil {
		m["program"] = map[string]any{"group": p.Group, "startsecs": p.StartSecs.Seconds(),
			"startretries": p.StartRetries, "autorestart": int(p.AutoRestart), "exitcodes": p.ExitCodes,
			"stopasgroup": p.StopAsGroup, "killasgroup": p.KillAsGroup, "serverurl": p.ServerURL}
	}
	if len(c.DependsOn) > 0 {
		m["depends_on"] = dependenciesJSON(c.DependsOn)
	}
	if c.Readiness != nil {
		m["readiness"] = probeJSON(c.Readiness)
	}
	if c.Liveness != nil {
		m["liveness"] = probeJSON(c.Liveness)
	}
	if b := c.Backoff; b != nil {
		m["backoff"] = map[string]any{"initial": b.Initial.Seconds(), "max": b.Max.Seconds(),
			"multiplier": b.Multiplier, "jitter": b.Jitter, "reset": b.Reset.Seconds()}
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// MarshalJSON writes the config as job info shows it: name and cmd, the keys
// it was loaded with (every key when Given is empty), and unknown keys as given.
func (c JobConfig) MarshalJSON() ([]byte, error) {
	all := c.fields()
	out := map[string]any{"name": c.Name, "cmd": c.Cmd}
	if len(c.Given) == 0 {
		out = all
	}
	for _, k := range c.Given {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	for k, v := range c.Extra {
		if _, known := all[k]; !known {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// knownJobKeys are the JSON keys a job config understands.
var knownJobKeys = map[string]bool{
	"name": true, "cmd": true, "args": true, "env": true, "os_env": true, "uid": true, "gid": true,
	"cwd": true, "detach": true, "shell": true, "numprocesses": true, "priority": true, "start": true,
	"graceful_timeout": true, "flapping": true, "backoff": true, "redirect_output": true,
	"redirect_input": true, "custom_streams": true, "custom_channels": true,
	"depends_on": true, "readiness": true, "liveness": true, "pidfile": true,
}

// UnmarshalJSON reads gaffer's JSON job config (gaffer-http-api.md §5) with the
// API defaults. Wrong types are errors naming the key; unknown keys are kept and echoed.
func (c *JobConfig) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("job config: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("job config: expected a JSON object")
	}
	*c = NewJobConfig("", "")
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		if !knownJobKeys[k] {
			if c.Extra == nil {
				c.Extra = map[string]json.RawMessage{}
			}
			c.Extra[k] = v
			continue
		}
		if k != "start" && k != "custom_channels" {
			c.Given = append(c.Given, k)
		}
		if err := c.setJSON(k, v); err != nil {
			errs = append(errs, fmt.Errorf("job config key %q: %w: %w", k, ErrBadValue, err))
		}
	}
	slices.Sort(c.Given)
	return errors.Join(errs...)
}

func (c *JobConfig) setJSON(k string, v json.RawMessage) error {
	switch k {
	case "name":
		return json.Unmarshal(v, &c.Name)
	case "cmd":
		return json.Unmarshal(v, &c.Cmd)
	case "args":
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			args, err := SplitCommand(s)
			c.Args = args
			return err
		}
		return json.Unmarshal(v, &c.Args)
	case "env":
		return json.Unmarshal(v, &c.Env)
	case "os_env":
		return json.Unmarshal(v, &c.OSEnv)
	case "uid":
		return unmarshalIDName(v, &c.UID)
	case "gid":
		return unmarshalIDName(v, &c.GID)
	case "cwd":
		return json.Unmarshal(v, &c.Cwd)
	case "detach":
		return json.Unmarshal(v, &c.Detach)
	case "shell":
		return json.Unmarshal(v, &c.Shell)
	case "numprocesses":
		return json.Unmarshal(v, &c.NumProcesses)
	case "priority":
		return json.Unmarshal(v, &c.Priority)
	case "start":
		return json.Unmarshal(v, &c.Start)
	case "graceful_timeout":
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return err
		}
		if f < 0 || f > maxDuration.Seconds() {
			return fmt.Errorf("%v seconds: want 0 to %v", f, maxDuration.Seconds())
		}
		c.GracefulTimeout = time.Duration(math.Trunc(f)) * time.Second // gaffer truncates to whole seconds
		return nil
	case "flapping":
		var m map[string]float64
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		f := DefaultFlapping()
		for _, fk := range slices.Sorted(maps.Keys(m)) {
			fv := m[fk]
			if fv < 0 || fv > maxDuration.Seconds() {
				return fmt.Errorf("flapping %s %v: want 0 to %v", fk, fv, maxDuration.Seconds())
			}
			switch fk {
			case "attempts", "max_retry":
				if fv != math.Trunc(fv) {
					return fmt.Errorf("flapping %s %v: want an integer", fk, fv)
				}
				if fk == "attempts" {
					f.Attempts = int(fv)
				} else {
					f.MaxRetry = int(fv)
				}
			case "window":
				f.Window = seconds(fv)
			case "retry_in":
				f.RetryIn = seconds(fv)
			default:
				return fmt.Errorf("unknown flapping key %q", fk)
			}
		}
		c.Flapping = &f
		return nil
	case "backoff":
		var m map[string]float64
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		b := Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0.1, Reset: time.Minute}
		for _, bk := range slices.Sorted(maps.Keys(m)) {
			bv := m[bk]
			if bv < 0 || bv > maxDuration.Seconds() {
				return fmt.Errorf("backoff %s %v: want 0 to %v", bk, bv, maxDuration.Seconds())
			}
			switch bk {
			case "initial":
				b.Initial = seconds(bv)
			case "max":
				b.Max = seconds(bv)
			case "multiplier":
				b.Multiplier = bv
			case "jitter":
				b.Jitter = bv
			case "reset":
				b.Reset = seconds(bv)
			default:
				return fmt.Errorf("unknown backoff key %q", bk)
			}
		}
		c.Backoff = &b
		return nil
	case "redirect_output":
		return json.Unmarshal(v, &c.RedirectOutput)
	case "redirect_input":
		return json.Unmarshal(v, &c.RedirectInput)
	case "custom_streams":
		return json.Unmarshal(v, &c.CustomStreams)
	case "sockets":
		ss, err := unmarshalSockets(v)
		c.Sockets = ss
		return err
	case "pidfile":
		return json.Unmarshal(v, &c.PIDFile)
	case "custom_channels":
		return nil // embedding only; never serialized
	case "depends_on":
		ds, err := unmarshalDependencies(v)
		c.DependsOn = ds
		return err
	case "readiness", "liveness":
		p, err := unmarshalProbe(v)
		if err != nil {
			return err
		}
		if k == "readiness" {
			c.Readiness = p
		} else {
			c.Liveness = p
		}
		return nil
	}
	return nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func unmarshalIDName(v json.RawMessage, dst *string) error {
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return err
	}
	switch t := x.(type) {
	case nil:
		*dst = ""
	case string:
		*dst = t
	case json.Number:
		n = t
		*dst = n.String()
	default:
		return fmt.Errorf("want a name or a number")
	}
	return nil
}
