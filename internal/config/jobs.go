package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gafferhq/gaffer/supervisor"
)

// jobKeyNames lists the keys of a job section, for the unknown-key message.
const jobKeyNames = "cmd, args, env:<NAME>, uid, gid, cwd, detach, shell, redirect_input, os_env, " +
	"numprocesses, start, flapping, redirect_output, custom_streams, graceful_timeout, priority, backoff, " +
	"depends_on, sockets, readiness, liveness and their _initial_delay, _period, _timeout, _success_threshold, _failure_threshold"

var jobKeys = map[string]bool{
	"cmd": true, "args": true, "uid": true, "gid": true, "cwd": true, "detach": true, "shell": true,
	"redirect_input": true, "os_env": true, "numprocesses": true, "start": true, "flapping": true,
	"redirect_output": true, "custom_streams": true, "graceful_timeout": true, "priority": true,
	"backoff": true, "depends_on": true,
}

func isJobKey(k string) bool { return jobKeys[k] || strings.HasPrefix(k, "env:") || isProbeKey(k) }

// splitSpec reads the text after "job:", "process:" or "env:" session-first:
// it splits at the first '/', else ':', else '.'; no separator = default
// session. The reference reads it job-first, against the seeds, the exporter
// and the API's session.job (gaffer-config.md §3.3).
func splitSpec(spec string) (session, job string, err error) {
	session, job = supervisor.DefaultSession, spec
	for _, sep := range "/:." {
		if i := strings.IndexRune(spec, sep); i >= 0 {
			session, job = spec[:i], spec[i+1:]
			break
		}
	}
	if session == "" || trim(session) != session || strings.ContainsAny(session, "/:.") {
		return "", "", fmt.Errorf("session %q: %w", session, supervisor.ErrBadName)
	}
	if job == "" {
		return "", "", fmt.Errorf("job name: %w", supervisor.ErrMissingName)
	}
	if trim(job) != job || strings.Contains(job, "/") {
		return "", "", fmt.Errorf("job %q: %w", job, supervisor.ErrBadName)
	}
	return session, job, nil
}

// job decodes a [job:…] or [process:…] section.
func (b *builder) job(sec *section) {
	_, spec, _ := strings.Cut(sec.name, ":")
	session, name, err := splitSpec(spec)
	if err != nil {
		b.fail(sec.pos, sec.name, "", err)
	}
	// Only keys written in the section can be typos; unknown [DEFAULT] keys
	// are interpolation helpers.
	for _, k := range sec.order {
		if !isJobKey(k) {
			e := sec.keys[k]
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w; a job section accepts %s", ErrUnknownKey, jobKeyNames))
		}
	}
	if err != nil {
		return
	}
	cmd, _, ok := b.value(sec, "cmd")
	if !ok || cmd == "" {
		if ok || b.doc.lookup(sec, "cmd") == nil {
			b.warn(sec.pos, sec.name, "", "no cmd, section skipped")
		}
		return
	}

	full := session + "." + name
	src := fmt.Sprintf("%s:%d [%s]", sec.pos.file, sec.pos.line, sec.name)
	if prev := b.seen[full]; prev != nil {
		b.fail(sec.pos, sec.name, "", fmt.Errorf("%w: job %s is already defined by %s", ErrDuplicate, full, prev.Source))
		return
	}
	j := &Job{Session: session, Source: src}
	b.seen[full] = j

	nerr := len(b.errs)
	cfg := supervisor.NewJobConfig(name, cmd)
	cfg.OSEnv = true // the INI default; the API's is false
	// os_env is always echoed: its INI default differs from the API's, so
	// job info must show it for a GET → POST round trip to keep it.
	given := map[string]bool{"name": true, "cmd": true, "os_env": true}
	for _, k := range b.jobKeyOrder(sec) {
		v, e, ok := b.value(sec, k)
		if !ok {
			continue
		}
		// Given mirrors UnmarshalJSON: "start" is an instruction, not part
		// of the echoed config.
		switch {
		case strings.HasPrefix(k, "env:"):
			given["env"] = true
		case isProbeKey(k):
			given[probeOf(k)] = true
		case k != "start":
			given[k] = true
		}
		if err := setJobKey(&cfg, k, e.name, v); err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		}
	}
	for _, which := range missingProbeKinds(&cfg) {
		b.fail(sec.pos, sec.name, which, fmt.Errorf("%w: %s timings are set but %s = KIND … is not (%s)", ErrMissing, which, which, probeForm))
	}
	if len(b.errs) > nerr {
		return // Validate would only repeat the value errors in other words
	}
	for _, err := range splitErrors(cfg.Validate()) {
		b.fail(sec.pos, sec.name, "", err)
	}
	cfg.Given = sortedKeys(given)
	j.Config = cfg
	b.jobs = append(b.jobs, j)
}

// jobKeyOrder is the job keys visible in sec: [DEFAULT]'s first, as
// configparser's items() lists them, then the section's own.
func (b *builder) jobKeyOrder(sec *section) []string {
	var keys []string
	for _, k := range b.doc.defaults.order {
		if isJobKey(k) && sec.keys[k] == nil {
			keys = append(keys, k)
		}
	}
	for _, k := range sec.order {
		if isJobKey(k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// setJobKey decodes one job key; written is the key as written, for env names.
func setJobKey(c *supervisor.JobConfig, key, written, v string) (err error) {
	switch key {
	case "cmd":
	case "args":
		c.Args, err = supervisor.SplitCommand(v)
	case "uid":
		c.UID = v
	case "gid":
		c.GID = v
	case "cwd":
		c.Cwd = v
	case "detach":
		c.Detach, err = parseBool(v)
	case "shell":
		c.Shell, err = parseBool(v)
	case "redirect_input":
		c.RedirectInput, err = parseBool(v)
	case "os_env":
		c.OSEnv, err = parseBool(v)
	case "start":
		c.Start, err = parseBool(v)
	case "numprocesses":
		c.NumProcesses, err = parseInt(v)
	case "priority":
		c.Priority, err = parseInt(v)
	case "graceful_timeout":
		c.GracefulTimeout, err = parseGracefulTimeout(v)
	case "flapping":
		c.Flapping, err = parseFlapping(v)
	case "backoff":
		c.Backoff, err = parseBackoff(v)
	case "redirect_output":
		c.RedirectOutput = parseLabels(v)
	case "custom_streams":
		c.CustomStreams = parseLabels(v)
	case "sockets":
		c.Sockets, err = parseSockets(v) // sockets.go
	case "pidfile":
		c.PIDFile, err = parsePIDFile(v) // pidfile.go
	case "depends_on":
		var refs []depRef
		refs, err = parseDependsOn(v, validIniDepName)
		c.DependsOn = nil
		for _, r := range refs {
			d := r.Dep
			d.Job = r.Name
			c.DependsOn = append(c.DependsOn, d)
		}
	default:
		if isProbeKey(key) {
			return setProbeKey(c, key, v)
		}
		// env:NAME
		if c.Env == nil {
			c.Env = map[string]string{}
		}
		c.Env[written[len("env:"):]] = v
	}
	return err
}

// applyEnv gives the job full an [env:…] section's variables, replacing
// its whole env, as gaffer does (gaffer-config.md §3.4).
func (b *builder) applyEnv(sec *section, full string) {
	j := b.seen[full]
	if j == nil {
		b.warn(sec.pos, sec.name, "", fmt.Sprintf("no job %s in this config, section ignored", full))
		return
	}
	env := make(map[string]string, len(sec.order))
	for _, k := range sec.order {
		e := sec.keys[k]
		v, err := b.doc.get(sec, e)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
			continue
		}
		env[strings.ToUpper(e.name)] = v
	}
	j.Config.Env = env
	if !slices.Contains(j.Config.Given, "env") {
		j.Config.Given = append(j.Config.Given, "env")
		slices.Sort(j.Config.Given)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// splitErrors undoes errors.Join so that each problem gets its own location.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
