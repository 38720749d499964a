package supervisor

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Condition is what a dependency must reach before its dependent starts.
type Condition string

const (
	// Started: the dependency has a running process, for at least Delay
	// (gaggled's rule; a supervisor program counts once RUNNING).
	Started Condition = "started"
	// Healthy: the dependency's readiness probe passes (Started when it has
	// no readiness probe).
	Healthy Condition = "healthy"
	// Completed: the dependency is a one-shot that exited with status 0.
	Completed Condition = "completed"
)

// Dependency is one job a job waits for before it starts.
type Dependency struct {
	// Job is the full name "session.job", or a job name in the dependent's
	// own session.
	Job       string
	Condition Condition     // Started when empty
	Delay     time.Duration // Started: how long the dependency must have run
	// Propagate: when the dependency dies or restarts, the dependent is
	// stopped at once and started again once the condition holds again.
	Propagate bool
}

// ProbeKind says how a probe checks a process.
type ProbeKind string

const (
	ProbeExec   ProbeKind = "exec"   // run Command; healthy when it exits 0 within Timeout
	ProbeHTTP   ProbeKind = "http"   // GET URL; healthy on 2xx/3xx within Timeout
	ProbeTCP    ProbeKind = "tcp"    // connect to Address within Timeout
	ProbeNotify ProbeKind = "notify" // sd_notify: the process sends READY=1 to $NOTIFY_SOCKET (readiness only)
)

// Probe is a readiness or liveness check of each process of a job.
type Probe struct {
	Kind    ProbeKind
	Command string // exec: command line, split like Cmd, run with the job's env and cwd
	URL     string // http
	Address string // tcp: host:port
	// InitialDelay is the wait after the spawn before the first check;
	// Period the interval between checks; Timeout the limit of one check.
	InitialDelay, Period, Timeout time.Duration
	// SuccessThreshold consecutive passes make a process healthy;
	// FailureThreshold consecutive failures make it unhealthy.
	SuccessThreshold, FailureThreshold int
}

// DefaultProbe returns a probe of kind k with the default timings: first
// check at once, every 10 s, 1 s timeout, 1 success, 3 failures.
func DefaultProbe(k ProbeKind) Probe {
	return Probe{Kind: k, Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}
}

func (d Dependency) condition() Condition {
	if d.Condition == "" {
		return Started
	}
	return d.Condition
}

// validate reports the problems of one dependency.
func (d Dependency) validate() error {
	switch {
	case strings.TrimSpace(d.Job) == "":
		return fmt.Errorf("depends_on: a dependency without a job name: %w", ErrBadValue)
	case d.condition() != Started && d.condition() != Healthy && d.condition() != Completed:
		return fmt.Errorf("depends_on %s: condition %q: want started, healthy or completed: %w", d.Job, d.Condition, ErrBadValue)
	case d.Delay < 0 || d.Delay > maxDuration:
		return fmt.Errorf("depends_on %s: delay %v: want 0 to %v: %w", d.Job, d.Delay, maxDuration, ErrBadValue)
	}
	return nil
}

// validate reports the problems of a probe; which is "readiness" or "liveness".
func (p *Probe) validate(which string) error {
	if p == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %w", which, fmt.Sprintf(format, args...), ErrBadValue)
	}
	switch p.Kind {
	case ProbeExec:
		if strings.TrimSpace(p.Command) == "" {
			return bad("exec probe without a command")
		}
		if _, err := SplitCommand(p.Command); err != nil {
			return bad("command: %v", err)
		}
	case ProbeHTTP:
		if !strings.HasPrefix(p.URL, "http://") && !strings.HasPrefix(p.URL, "https://") {
			return bad("http probe URL %q: want http:// or https://", p.URL)
		}
	case ProbeTCP:
		if !strings.Contains(p.Address, ":") {
			return bad("tcp probe address %q: want host:port", p.Address)
		}
	case ProbeNotify:
		if which != "readiness" {
			return bad("a notify probe can only be a readiness probe")
		}
	default:
		return bad("kind %q: want exec, http, tcp or notify", p.Kind)
	}
	if p.InitialDelay < 0 || p.InitialDelay > maxDuration || p.Period <= 0 || p.Period > maxDuration ||
		p.Timeout <= 0 || p.Timeout > maxDuration {
		return bad("need 0 <= initial_delay, 0 < period, 0 < timeout, all <= %v", maxDuration)
	}
	if p.SuccessThreshold < 1 || p.FailureThreshold < 1 || p.SuccessThreshold > maxScale || p.FailureThreshold > maxScale {
		return bad("thresholds must be 1 to %d", maxScale)
	}
	return nil
}

func dependenciesJSON(ds []Dependency) []any {
	out := make([]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, map[string]any{"job": d.Job, "condition": string(d.condition()),
			"delay": d.Delay.Seconds(), "propagate": d.Propagate})
	}
	return out
}

func probeJSON(p *Probe) map[string]any {
	m := map[string]any{"kind": string(p.Kind), "initial_delay": p.InitialDelay.Seconds(),
		"period": p.Period.Seconds(), "timeout": p.Timeout.Seconds(),
		"success_threshold": p.SuccessThreshold, "failure_threshold": p.FailureThreshold}
	switch p.Kind {
	case ProbeExec:
		m["command"] = p.Command
	case ProbeHTTP:
		m["url"] = p.URL
	case ProbeTCP:
		m["address"] = p.Address
	}
	return m
}

// unmarshalDependencies reads "depends_on": a list whose items are a job
// name ("db"), "job:condition" ("db:healthy"), or an object with job,
// condition, delay (seconds) and propagate.
func unmarshalDependencies(v json.RawMessage) ([]Dependency, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, err
	}
	var out []Dependency
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			name, cond, _ := strings.Cut(s, ":")
			out = append(out, Dependency{Job: name, Condition: Condition(cond)})
			continue
		}
		var o struct {
			Job       string   `json:"job"`
			Condition string   `json:"condition"`
			Delay     *float64 `json:"delay"`
			Propagate bool     `json:"propagate"`
		}
		dec := json.NewDecoder(strings.NewReader(string(it)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("dependency %s: %w", it, err)
		}
		d := Dependency{Job: o.Job, Condition: Condition(o.Condition), Propagate: o.Propagate}
		if o.Delay != nil {
			if *o.Delay < 0 || *o.Delay > maxDuration.Seconds() {
				return nil, fmt.Errorf("dependency %s: delay %v: want 0 to %v", o.Job, *o.Delay, maxDuration.Seconds())
			}
			d.Delay = seconds(*o.Delay)
		}
		out = append(out, d)
	}
	return out, nil
}

// unmarshalProbe reads "readiness" or "liveness": an object with kind,
// command|url|address, and optional timings in seconds and thresholds.
func unmarshalProbe(v json.RawMessage) (*Probe, error) {
	var o struct {
		Kind             string   `json:"kind"`
		Command          string   `json:"command"`
		URL              string   `json:"url"`
		Address          string   `json:"address"`
		InitialDelay     *float64 `json:"initial_delay"`
		Period           *float64 `json:"period"`
		Timeout          *float64 `json:"timeout"`
		SuccessThreshold *int     `json:"success_threshold"`
		FailureThreshold *int     `json:"failure_threshold"`
	}
	dec := json.NewDecoder(strings.NewReader(string(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, err
	}
	p := DefaultProbe(ProbeKind(o.Kind))
	p.Command, p.URL, p.Address = o.Command, o.URL, o.Address
	for _, f := range []struct {
		src *float64
		dst *time.Duration
	}{{o.InitialDelay, &p.InitialDelay}, {o.Period, &p.Period}, {o.Timeout, &p.Timeout}} {
		if f.src != nil {
			if *f.src < 0 || *f.src > maxDuration.Seconds() {
				return nil, fmt.Errorf("%v seconds: want 0 to %v", *f.src, maxDuration.Seconds())
			}
			*f.dst = seconds(*f.src)
		}
	}
	if o.SuccessThreshold != nil {
		p.SuccessThreshold = *o.SuccessThreshold
	}
	if o.FailureThreshold != nil {
		p.FailureThreshold = *o.FailureThreshold
	}
	return &p, nil
}
