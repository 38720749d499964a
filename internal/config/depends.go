package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// depRef is one item of a depends_on value: the name as written (a job or
// program reference whose meaning depends on the dialect) and the rest of
// the dependency.
type depRef struct {
	Name string
	Dep  supervisor.Dependency // Job is left empty: the dialect resolves Name
}

const dependsOnForm = `want NAME [(CONDITION, delay=SECONDS, propagate)], … e.g. "db (healthy), cache, queue (started, delay=2, propagate)"`

// parseDependsOn reads a depends_on value: comma-separated items, each a
// name with an optional parenthesised list of options: a condition word
// (started, healthy or completed), delay=SECONDS and propagate. An empty
// value means no dependency. validName checks a name in the dialect's form.
func parseDependsOn(s string, validName func(string) error) ([]depRef, error) {
	var out []depRef
	rest := trim(s)
	if rest == "" {
		return nil, nil
	}
	for {
		rest = trim(rest)
		end := strings.IndexAny(rest, "(,")
		if end < 0 {
			end = len(rest)
		}
		name := trim(rest[:end])
		rest = rest[end:]
		if name == "" {
			return nil, fmt.Errorf("%w %q: an empty item; %s", ErrInvalidValue, s, dependsOnForm)
		}
		if strings.ContainsFunc(name, isSpace) || strings.Contains(name, ")") {
			return nil, fmt.Errorf("%w %q: %q is not a name (options go in parentheses, items are separated by commas); %s", ErrInvalidValue, s, name, dependsOnForm)
		}
		if err := validName(name); err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrInvalidValue, s, err)
		}
		ref := depRef{Name: name}
		if strings.HasPrefix(rest, "(") {
			close := strings.IndexByte(rest, ')')
			if close < 0 {
				return nil, fmt.Errorf("%w %q: no closing parenthesis after %s; %s", ErrInvalidValue, s, name, dependsOnForm)
			}
			if err := parseDepOptions(rest[1:close], &ref.Dep); err != nil {
				return nil, fmt.Errorf("%w %q: %s: %w", ErrInvalidValue, s, name, err)
			}
			rest = trim(rest[close+1:])
		}
		for _, prev := range out {
			if prev.Name == name {
				return nil, fmt.Errorf("%w %q: %s is listed twice", ErrInvalidValue, s, name)
			}
		}
		out = append(out, ref)
		if rest == "" {
			return out, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("%w %q: unexpected %q after %s; %s", ErrInvalidValue, s, rest, name, dependsOnForm)
		}
		rest = rest[1:]
	}
}

// parseDepOptions reads the text between a dependency's parentheses.
func parseDepOptions(s string, d *supervisor.Dependency) error {
	var delaySet bool
	for opt := range strings.SplitSeq(s, ",") {
		opt = trim(opt)
		key, val, hasVal := strings.Cut(opt, "=")
		key = trim(key)
		switch {
		case opt == "":
			return fmt.Errorf("an empty option")
		case key == "delay" && hasVal:
			if delaySet {
				return fmt.Errorf("delay given twice")
			}
			delaySet = true
			dl, err := parseSeconds(trim(val))
			if err != nil {
				return fmt.Errorf("delay: %w", err)
			}
			if dl < 0 {
				return fmt.Errorf("delay %s: must not be negative", trim(val))
			}
			d.Delay = dl
		case hasVal:
			return fmt.Errorf("unknown option %q: want started, healthy, completed, delay=SECONDS or propagate", opt)
		case opt == "propagate":
			if d.Propagate {
				return fmt.Errorf("propagate given twice")
			}
			d.Propagate = true
		case opt == string(supervisor.Started) || opt == string(supervisor.Healthy) || opt == string(supervisor.Completed):
			if d.Condition != "" {
				return fmt.Errorf("two conditions (%s and %s)", d.Condition, opt)
			}
			d.Condition = supervisor.Condition(opt)
		default:
			hint := ""
			if s := suggest(opt, []string{"started", "healthy", "completed", "propagate", "delay"}); s != "" {
				hint = fmt.Sprintf(" (did you mean %s?)", s)
			}
			return fmt.Errorf("unknown option %q%s: want started, healthy, completed, delay=SECONDS or propagate", opt, hint)
		}
	}
	return nil
}

// formatDependsOn writes deps back in depends_on syntax (names as given).
func formatDependsOn(deps []supervisor.Dependency) string {
	var b strings.Builder
	for i, d := range deps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Job)
		var opts []string
		if d.Condition != "" {
			opts = append(opts, string(d.Condition))
		}
		if d.Delay != 0 {
			opts = append(opts, "delay="+strconv.FormatFloat(d.Delay.Seconds(), 'g', -1, 64))
		}
		if d.Propagate {
			opts = append(opts, "propagate")
		}
		if len(opts) > 0 {
			b.WriteString(" (" + strings.Join(opts, ", ") + ")")
		}
	}
	return b.String()
}

// Probe keys, the same in gafferd's INI and in a supervisord.conf:
// readiness/liveness = KIND TARGET, and their timings.
var probeTimingKeys = []string{"initial_delay", "period", "timeout", "success_threshold", "failure_threshold"}

// probeKeys lists every probe key: readiness, readiness_period, …, liveness, ….
var probeKeys = func() []string {
	var out []string
	for _, which := range []string{"readiness", "liveness"} {
		out = append(out, which)
		for _, t := range probeTimingKeys {
			out = append(out, which+"_"+t)
		}
	}
	return out
}()

func isProbeKey(k string) bool { return slices.Contains(probeKeys, k) }

// probeOf returns which probe a probe key belongs to: "readiness" or "liveness".
func probeOf(key string) string {
	which, _, _ := strings.Cut(key, "_")
	return which
}

const probeForm = "want http URL, exec COMMAND, tcp HOST:PORT or notify (readiness only)"

// setProbeKey decodes one probe key into c. The timings may come before
// the kind: a probe created by them has an empty Kind until its
// readiness/liveness key is read (checkProbeKinds reports one that never is).
func setProbeKey(c *supervisor.JobConfig, key, v string) error {
	which := probeOf(key)
	p := &c.Readiness
	if which == "liveness" {
		p = &c.Liveness
	}
	if *p == nil {
		d := supervisor.DefaultProbe("")
		*p = &d
	}
	probe := *p
	if key == which {
		err := parseProbe(probe, which, v)
		if err != nil {
			// Given but bad (reported): not "missing" for missingProbeKinds.
			probe.Kind = "invalid"
		}
		return err
	}
	timing := strings.TrimPrefix(key, which+"_")
	v = trim(v)
	switch timing {
	case "success_threshold", "failure_threshold":
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		if n < 1 || n > maxScaleValue {
			return fmt.Errorf("%w %d: want 1 to %d", ErrInvalidValue, n, maxScaleValue)
		}
		if timing == "success_threshold" {
			probe.SuccessThreshold = n
		} else {
			probe.FailureThreshold = n
		}
		return nil
	}
	d, err := parseSeconds(v)
	if err != nil {
		return err
	}
	if d < 0 || d > 7*24*time.Hour {
		return fmt.Errorf("%w %s: want 0 to 604800 seconds", ErrInvalidValue, v)
	}
	switch timing {
	case "initial_delay":
		probe.InitialDelay = d
	case "period", "timeout":
		if d <= 0 {
			return fmt.Errorf("%w %s: must be more than 0 seconds", ErrInvalidValue, v)
		}
		if timing == "period" {
			probe.Period = d
		} else {
			probe.Timeout = d
		}
	}
	return nil
}

// parseProbe reads "KIND TARGET" into p, keeping its timings.
func parseProbe(p *supervisor.Probe, which, v string) error {
	v = trim(v)
	var kind, target string
	if i := strings.IndexFunc(v, isSpace); i >= 0 {
		kind, target = v[:i], trim(v[i:])
	} else {
		kind, target = v, ""
	}
	p.Command, p.URL, p.Address = "", "", ""
	switch supervisor.ProbeKind(kind) {
	case supervisor.ProbeHTTP:
		if target == "" || strings.ContainsFunc(target, isSpace) {
			return fmt.Errorf("%w %q: an http probe takes one URL; %s", ErrInvalidValue, v, probeForm)
		}
		if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
			return fmt.Errorf("%w %q: the URL must start with http:// or https://", ErrInvalidValue, v)
		}
		p.URL = target
	case supervisor.ProbeTCP:
		if target == "" || strings.ContainsFunc(target, isSpace) || !strings.Contains(target, ":") {
			return fmt.Errorf("%w %q: a tcp probe takes one HOST:PORT; %s", ErrInvalidValue, v, probeForm)
		}
		p.Address = target
	case supervisor.ProbeExec:
		if target == "" {
			return fmt.Errorf("%w %q: an exec probe needs a command; %s", ErrInvalidValue, v, probeForm)
		}
		if _, err := supervisor.SplitCommand(target); err != nil {
			return fmt.Errorf("%w %q: %w", ErrInvalidValue, v, err)
		}
		p.Command = target
	case supervisor.ProbeNotify:
		if which != "readiness" {
			return fmt.Errorf("%w %q: notify (READY=1 on $NOTIFY_SOCKET) can only be a readiness probe; %s", ErrInvalidValue, v, probeForm)
		}
		if target != "" {
			return fmt.Errorf("%w %q: notify takes no argument", ErrInvalidValue, v)
		}
	default:
		return fmt.Errorf("%w %q: unknown probe kind %q; %s", ErrInvalidValue, v, kind, probeForm)
	}
	p.Kind = supervisor.ProbeKind(kind)
	return nil
}

// missingProbeKinds returns the probes of c whose timings were set without
// the probe itself ("readiness", "liveness"), and drops them from c.
func missingProbeKinds(c *supervisor.JobConfig) []string {
	var out []string
	if c.Readiness != nil && c.Readiness.Kind == "" {
		out = append(out, "readiness")
		c.Readiness = nil
	}
	if c.Liveness != nil && c.Liveness.Kind == "" {
		out = append(out, "liveness")
		c.Liveness = nil
	}
	return out
}

// validIniDepName accepts "session.job" or "job" (a job of the same session).
func validIniDepName(name string) error {
	if strings.ContainsAny(name, ":/()=") {
		return fmt.Errorf("%q: want JOB or SESSION.JOB", name)
	}
	if s, j, ok := strings.Cut(name, "."); ok && (s == "" || j == "") {
		return fmt.Errorf("%q: want JOB or SESSION.JOB", name)
	}
	return nil
}

// validSupervisordDepName accepts "program" or "group:program".
func validSupervisordDepName(name string) error {
	if strings.ContainsAny(name, "./()=") {
		return fmt.Errorf("%q: want PROGRAM or GROUP:PROGRAM", name)
	}
	if g, p, ok := strings.Cut(name, ":"); ok && (g == "" || p == "" || strings.Contains(p, ":")) {
		return fmt.Errorf("%q: want PROGRAM or GROUP:PROGRAM", name)
	}
	return nil
}
