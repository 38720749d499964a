package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// Gaggled is what a gaggled config sets beyond its programs (its global
// gaggled { … } block). nil in Config for other formats.
type Gaggled struct {
	KillWait time.Duration // killwait: every program's GracefulTimeout
	// StartWait and Tick are read and checked but unused: gafferd starts a
	// program when its dependencies are met, on the event that meets them,
	// instead of retrying every startwait / waking every tick.
	StartWait, Tick time.Duration
	Path            string // path: prefix of the programs' PATH
	// EventURL and ControlURL are gaggled's ZeroMQ channels, which gafferd
	// does not serve (a warning says so); kept for reference.
	EventURL, ControlURL string
}

// gaggled's defaults (gaggled-dependencies.md §2.1).
const (
	gaggledKillWait  = 10 * time.Second
	gaggledStartWait = 100 * time.Millisecond
	gaggledTick      = 10 * time.Millisecond
	// gaggled has no back-off or give-up: a dying program is restarted at
	// once, forever. A supervisor program gives up (FATAL) after
	// StartRetries failed starts, so it gets as many as the engine allows.
	gaggledStartRetries = maxScaleValue
	// maxMillis keeps millisecond settings within supervisor's bound on
	// durations (a week).
	maxMillis = 7 * 24 * 3600 * 1000
)

var (
	gaggledGlobalKeys  = []string{"killwait", "startwait", "tick", "path", "env", "eventurl", "controlurl", "smtpgate"}
	gaggledProgramKeys = []string{"command", "argv", "wd", "env", "respawn", "enabled", "depends"}
	gaggledSMTPKeys    = []string{"mx", "from", "to", "helo", "period", "batch", "spfix", "auto"}
)

// IsGaggled reports whether data is a gaggled config (Boost INFO format).
// Its first line that is not blank or a ";" comment must not be an INI
// section header ("[…]") nor a "#" comment (INFO has only #include);
// then it is gaggled's when that line opens a block (ends with "{") or is
// an #include, or when the whole text reads as INFO
// with a top-level "gaggled" block or a top-level block with a "command"
// key. An INI file (gaffer's or supervisord's) starts with a section
// header and a JSON job file with "{", so the formats cannot be confused;
// a broken gaggled file that starts like one is still read as gaggled's,
// so that its errors are INFO errors. A file that IsSupervisord (it has a
// supervisord section header somewhere) is not gaggled's.
func IsGaggled(data []byte) bool {
	if IsSupervisord(data) {
		return false
	}
	first := ""
	for line := range strings.SplitSeq(strings.TrimPrefix(string(data), "\ufeff"), "\n") {
		if i := strings.IndexByte(line, ';'); i >= 0 && !strings.Contains(line[:i], "\"") {
			line = line[:i]
		}
		if t := strings.TrimSpace(line); t != "" {
			first = t
			break
		}
	}
	switch {
	case strings.HasPrefix(first, "#include"):
		return true
	case first == "" || strings.HasPrefix(first, "[") || strings.HasPrefix(first, "{") || strings.HasPrefix(first, "#"):
		return false // INI, JSON, or a "#" comment, which INFO does not have
	case strings.HasSuffix(first, "{"):
		return true
	}
	r := &infoReader{skipIncludes: true}
	root := &infoNode{block: true}
	if r.read("", data, root, 0) != nil {
		return false
	}
	for _, n := range root.children {
		if n.key == "gaggled" && n.block || n.block && n.child("command") != nil {
			return true
		}
	}
	return false
}

// ParseGaggled reads data as a gaggled config named name (its directory is
// the base of #include), and checks its dependency graph.
func ParseGaggled(name string, data []byte) (*Config, error) {
	return checked(osHost().parseGaggled(name, data))
}

// LoadGaggled reads the gaggled config at path.
func LoadGaggled(path string) (*Config, error) {
	h := osHost()
	data, err := h.fs.readFile(path)
	if err != nil {
		return nil, err
	}
	return checked(h.parseGaggled(path, data))
}

// gbuilder maps a gaggled tree onto a Config, collecting every problem.
type gbuilder struct {
	h    host
	cfg  *Config
	g    *Gaggled
	errs []error
	env  map[string]string // gaggled { env { … } }: under every program's env
}

func (b *gbuilder) fail(n *infoNode, sec, key string, err error) {
	b.errs = append(b.errs, &Error{File: n.pos.file, Line: n.pos.line, Section: sec, Key: key, Err: err})
}

func (b *gbuilder) warn(n *infoNode, sec, key, text string) {
	b.cfg.Warnings = append(b.cfg.Warnings, location(n.pos.file, n.pos.line, sec, key)+text)
}

func (h host) parseGaggled(name string, data []byte) (*Config, error) {
	root, files, err := h.fs.parseInfo(name, data)
	if err != nil {
		return nil, err
	}
	b := &gbuilder{h: h, cfg: newConfig(), g: &Gaggled{KillWait: gaggledKillWait, StartWait: gaggledStartWait, Tick: gaggledTick}}
	b.cfg.Files = files
	b.cfg.Gaggled = b.g
	var global *infoNode
	for _, n := range root.children {
		if n.key != "gaggled" {
			continue
		}
		if global != nil {
			b.warn(n, "gaggled", "", fmt.Sprintf("a second gaggled block, ignored (the first, line %d, counts, as in gaggled)", global.pos.line))
			continue
		}
		global = n
		b.global(n)
	}
	seen := map[string]*infoNode{}
	for _, n := range root.children {
		if n.key == "gaggled" {
			continue
		}
		if prev := seen[n.key]; prev != nil {
			b.fail(n, n.key, "", fmt.Errorf("%w: duplicate program name %s (also at %s:%d)", ErrDuplicate, n.key, prev.pos.file, prev.pos.line))
			continue
		}
		seen[n.key] = n
		b.program(n)
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return b.cfg, nil
}

// unknownKeys warns about keys gaggled ignores (it reads only those it knows).
func (b *gbuilder) unknownKeys(n *infoNode, sec string, known []string) {
	for _, c := range n.children {
		if slices.Contains(known, c.key) {
			continue
		}
		text := "unknown key, ignored (as gaggled does)"
		if s := suggest(c.key, known); s != "" {
			text += fmt.Sprintf(" (did you mean %s?)", s)
		}
		b.warn(c, sec, c.key, text)
	}
}

// millis reads an integer number of milliseconds (gaggled parses strictly).
func (b *gbuilder) millis(n *infoNode, sec, key string, dst *time.Duration) {
	c := n.child(key)
	if c == nil {
		return
	}
	if v, ok := b.integer(c, sec, key, 0, maxMillis); ok {
		*dst = time.Duration(v) * time.Millisecond
	}
}

func (b *gbuilder) integer(c *infoNode, sec, key string, lo, hi int64) (int64, bool) {
	v, err := strconv.ParseInt(c.value, 10, 64)
	switch {
	case err != nil:
		b.fail(c, sec, key, fmt.Errorf("%w %q: want a whole number of milliseconds", ErrInvalidInt, c.value))
	case v < lo || v > hi:
		b.fail(c, sec, key, fmt.Errorf("%w %d: want %d to %d (milliseconds)", ErrInvalidValue, v, lo, hi))
	default:
		return v, true
	}
	return 0, false
}

// boolean reads gaggled's strict booleans: true, false, 1 or 0.
func (b *gbuilder) boolean(n *infoNode, sec, key string, dst *bool) {
	if c := n.child(key); c != nil {
		b.boolValue(c, sec, key, dst)
	}
}

func (b *gbuilder) boolValue(c *infoNode, sec, key string, dst *bool) {
	switch c.value {
	case "true", "1":
		*dst = true
	case "false", "0":
		*dst = false
	default:
		b.fail(c, sec, key, fmt.Errorf("%w %q: want true, false, 1 or 0", ErrInvalidBool, c.value))
	}
}

// envBlock reads NAME value pairs; a repeated name keeps its first value.
func (b *gbuilder) envBlock(n *infoNode, sec string, into map[string]string) {
	if !n.block && n.value != "" {
		b.fail(n, sec, "env", fmt.Errorf("%w: env is a block: env { NAME value … }", ErrInvalidValue))
		return
	}
	seen := map[string]bool{}
	for _, c := range n.children {
		switch {
		case c.block:
			b.fail(c, sec, "env."+c.key, fmt.Errorf("%w: an environment variable cannot have a block", ErrInvalidValue))
		case c.key == "" || strings.ContainsAny(c.key, "=\x00"):
			b.fail(c, sec, "env", fmt.Errorf("%w: %q is not an environment variable name", ErrInvalidValue, c.key))
		case strings.ContainsRune(c.value, 0):
			b.fail(c, sec, "env."+c.key, fmt.Errorf("%w: a NUL byte in the value", ErrInvalidValue))
		case seen[c.key]:
			b.warn(c, sec, "env."+c.key, "set twice; the first value counts, as in gaggled")
		default:
			seen[c.key] = true
			into[c.key] = c.value
		}
	}
}

// global reads the gaggled { … } block.
func (b *gbuilder) global(n *infoNode) {
	const sec = "gaggled"
	if !n.block {
		b.fail(n, sec, "", fmt.Errorf("%w: gaggled is the block of global settings: gaggled { killwait 3000 … }", ErrInvalidValue))
		return
	}
	b.unknownKeys(n, sec, gaggledGlobalKeys)
	b.millis(n, sec, "killwait", &b.g.KillWait)
	b.millis(n, sec, "startwait", &b.g.StartWait)
	b.millis(n, sec, "tick", &b.g.Tick)
	if c := n.child("path"); c != nil {
		b.g.Path = c.value
	}
	if c := n.child("env"); c != nil {
		b.env = map[string]string{}
		b.envBlock(c, sec, b.env)
	}
	for _, key := range []string{"eventurl", "controlurl"} {
		if c := n.child(key); c != nil {
			if key == "eventurl" {
				b.g.EventURL = c.value
			} else {
				b.g.ControlURL = c.value
			}
			b.warn(c, sec, key, "ZeroMQ channels are not supported, nothing is bound here; gafferd's own APIs replace them "+
				"(events: the websocket channel /channel/websocket, GET /watch and gafferctl watch; control: the REST API and gafferctl)")
		}
	}
	if c := n.child("smtpgate"); c != nil {
		b.smtpgate(c)
	}
}

// smtpgate maps gaggled's SMTP gate onto gafferd's mail notifications: the
// gate was a separate program fed by the event channel; gafferd mails by
// itself, so "auto" (run the gate) needs nothing more.
func (b *gbuilder) smtpgate(n *infoNode) {
	const sec = "gaggled.smtpgate"
	b.unknownKeys(n, sec, gaggledSMTPKeys)
	auto := false
	b.boolean(n, sec, "auto", &auto)
	str := func(k string) string {
		if c := n.child(k); c != nil {
			return c.value
		}
		return ""
	}
	var missing []string
	for _, k := range []string{"mx", "helo", "from", "to"} {
		if str(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		if auto {
			for _, k := range missing {
				b.fail(n, sec, k, fmt.Errorf("%w: required setting gaggled.smtpgate.%s is not set (smtpgate auto is true)", ErrMissing, k))
			}
		} else {
			b.warn(n, sec, "", fmt.Sprintf("incomplete (no %s): no e-mail is sent", strings.Join(missing, ", ")))
		}
		return
	}
	var period, batch time.Duration
	b.millis(n, sec, "period", &period)
	b.millis(n, sec, "batch", &batch)
	if c := n.child("period"); c != nil && period < time.Millisecond {
		b.fail(c, sec, "period", fmt.Errorf("%w %q: must be at least 1", ErrInvalidValue, c.value))
	}
	em := &Email{Host: str("mx"), Port: 25, TLS: EmailNoTLS, From: str("from"), To: []string{str("to")}, Helo: str("helo"),
		// gaggled's gate also announces programs coming back up.
		Events: append(slices.Clone(DefaultEmailEvents), EmailRecovered)}
	// gaggled mails one state change at a time after period ms of quiet,
	// or in batches at most every batch ms; gafferd batches what happens
	// within Batch, which covers both.
	switch {
	case batch > 0:
		em.Batch = batch
	case period > 0:
		em.Batch = period
	}
	if p := str("spfix"); p != "" {
		em.SubjectPrefix = strings.Replace(p, "__HOSTNAME__", b.h.hostname, 1)
	}
	em.ApplyDefaults()
	if err := em.Validate(); err != nil {
		for _, err := range splitJoined(err) {
			key := ""
			var ee *EmailError
			if errors.As(err, &ee) {
				key, err = ee.Key, ee.Err
			}
			gkey := map[string]string{"host": "mx", "from": "from", "to": "to", "helo": "helo", "subject_prefix": "spfix"}[key]
			at := n
			if c := n.child(gkey); c != nil {
				at = c
			}
			b.fail(at, sec, gkey, err)
		}
		return
	}
	b.cfg.Email = em
}

// program maps one top-level program block onto a job.
func (b *gbuilder) program(n *infoNode) {
	name := n.key
	if err := checkGroupName("program", name); err != nil {
		b.fail(n, name, "", err)
		return
	}
	if n.value != "" {
		b.warn(n, name, "", fmt.Sprintf("the value %q after the program name is ignored", n.value))
	}
	b.unknownKeys(n, name, gaggledProgramKeys)
	cmd := n.child("command")
	if cmd == nil || cmd.value == "" {
		hint := ""
		if slices.Contains(gaggledGlobalKeys, name) {
			hint = fmt.Sprintf(" (global settings such as %s go in the gaggled { } block)", name)
		}
		b.fail(n, name, "command", fmt.Errorf("%w setting: program %s has no command%s", ErrMissing, name, hint))
		return
	}
	nerr := len(b.errs)
	respawn, enabled := true, true
	b.boolean(n, name, "respawn", &respawn)
	b.boolean(n, name, "enabled", &enabled)

	env := map[string]string{}
	if b.g.Path != "" {
		env["PATH"] = b.g.Path + ":" + b.h.env["PATH"]
	}
	for k, v := range b.env {
		env[k] = v
	}
	if c := n.child("env"); c != nil {
		b.envBlock(c, name, env)
	}
	host := b.h.hostname
	if host == "" {
		host = b.h.env["HOSTNAME"]
	}
	// Set after env, which cannot override them (as in gaggled). The URLs
	// are empty: gafferd has no ZeroMQ channels to point children to.
	env["GAGGLED_PROGRAM_NAME"] = name
	env["GAGGLED_HOST"] = host
	env["GAGGLED_EVENT_URL"] = ""
	env["GAGGLED_CONTROL_URL"] = ""

	cfg := supervisor.NewJobConfig(name, shellQuote(cmd.value))
	if c := n.child("argv"); c != nil {
		// gaggled splits on blanks; there is no quoting.
		cfg.Args = strings.FieldsFunc(c.value, func(r rune) bool { return r == ' ' || r == '\t' })
	}
	if c := n.child("wd"); c != nil {
		cfg.Cwd = c.value
	}
	cfg.Env = env
	cfg.OSEnv = true
	cfg.Start = enabled
	cfg.GracefulTimeout = b.g.KillWait
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	cfg.Program = supervisor.DefaultProgram(supervisor.DefaultSession)
	// gaggled counts a program as running once it is forked.
	cfg.Program.StartSecs = 0
	cfg.Program.StartRetries = gaggledStartRetries
	cfg.Program.AutoRestart = supervisor.RestartNever
	if respawn {
		cfg.Program.AutoRestart = supervisor.RestartAlways
	}
	if c := n.child("depends"); c != nil {
		cfg.DependsOn = b.depends(c, name)
	}
	if len(b.errs) > nerr {
		return
	}
	for _, err := range splitErrors(cfg.Validate()) {
		b.fail(n, name, "", err)
	}
	b.cfg.Jobs = append(b.cfg.Jobs, Job{Session: supervisor.DefaultSession, Config: cfg,
		Source: fmt.Sprintf("%s:%d [%s]", n.pos.file, n.pos.line, name)})
}

// depends reads depends { on { delay MS propagate BOOL } … }.
func (b *gbuilder) depends(n *infoNode, name string) []supervisor.Dependency {
	if !n.block && n.value != "" {
		b.fail(n, name, "depends", fmt.Errorf("%w: depends is a block: depends { PROGRAM { delay MS propagate true } }", ErrInvalidValue))
		return nil
	}
	var out []supervisor.Dependency
	for _, c := range n.children {
		key := "depends." + c.key
		if c.value != "" {
			b.fail(c, name, key, fmt.Errorf("%w %q: a dependency takes a block: %s { delay MS propagate true }", ErrInvalidValue, c.value, c.key))
			continue
		}
		if slices.ContainsFunc(out, func(d supervisor.Dependency) bool { return d.Job == c.key }) {
			b.warn(c, name, key, "listed twice; the first counts")
			continue
		}
		b.unknownKeys(c, name, []string{"delay", "propagate"})
		d := supervisor.Dependency{Job: c.key, Condition: supervisor.Started}
		if dl := c.child("delay"); dl != nil {
			if v, ok := b.integer(dl, name, key+".delay", 0, maxMillis); ok {
				d.Delay = time.Duration(v) * time.Millisecond
			}
		}
		if p := c.child("propagate"); p != nil {
			b.boolValue(p, name, key+".propagate", &d.Propagate)
		}
		out = append(out, d)
	}
	return out
}

// shellQuote writes s as one word that supervisor.SplitCommand reads back.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
