package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// sbuilder turns a supervisord.conf document into a Config.
type sbuilder struct {
	h    host
	doc  *document
	cfg  *Config
	sd   *Supervisord
	errs []error
	main string
	here map[string]string // file -> absolute directory

	budget    int               // see maxExpanded
	globalEnv map[string]string // [supervisord] environment, for ENV_ and jobs
	autoURL   string            // SUPERVISOR_SERVER_URL for serverurl=AUTO
	nprocs    int               // processes so far, for maxProcesses

	// depends_on resolution (resolveDeps): where each job's is written,
	// the processes of each "group:program", the groups of each program.
	depsAt     map[string]depSource
	progJobs   map[string][]string
	progGroups map[string][]string
}

func (b *sbuilder) fail(p pos, sec, key string, err error) {
	b.errs = append(b.errs, &Error{File: p.file, Line: p.line, Section: sec, Key: key, Err: err})
}

func (b *sbuilder) warn(p pos, sec, key, text string) {
	b.cfg.Warnings = append(b.cfg.Warnings, location(p.file, p.line, sec, key)+text)
}

func (h host) parseSupervisord(name string, data []byte) (*Config, error) {
	b := &sbuilder{h: h, doc: newDocumentDialect(supervisordDialect), cfg: newConfig(), main: name, here: map[string]string{},
		budget: maxExpanded, depsAt: map[string]depSource{}, progJobs: map[string][]string{}, progGroups: map[string][]string{}}
	b.sd = &Supervisord{}
	b.cfg.Supervisord = b.sd
	b.errs = b.doc.read(name, data)
	b.cfg.Files = []string{name}
	b.include()
	b.cfg.Warnings = append(b.doc.warnings, b.cfg.Warnings...)
	b.build()
	b.cfg.Warnings = dedupe(b.cfg.Warnings, func(w string) string { return w })
	if len(b.errs) > 0 {
		return nil, errors.Join(b.sortedErrors()...)
	}
	return b.cfg, nil
}

// sortedErrors are the problems without repeats, in the order of the files
// and lines they are at (problems of the whole config first).
func (b *sbuilder) sortedErrors() []error {
	errs := dedupe(b.errs, error.Error)
	at := func(err error) (int, int) {
		var e *Error
		if !errors.As(err, &e) || e.Line == 0 {
			return -1, 0
		}
		return slices.Index(b.cfg.Files, e.File), e.Line
	}
	slices.SortStableFunc(errs, func(x, y error) int {
		fx, lx := at(x)
		fy, ly := at(y)
		return cmp.Or(cmp.Compare(fx, fy), cmp.Compare(lx, ly))
	})
	return errs
}

// dedupe drops repeats, keeping the first: a program listed in several
// groups is read once per group, and each process of a program repeats the
// program's warnings.
func dedupe[T any](xs []T, key func(T) string) []T {
	seen := map[string]bool{}
	out := xs[:0]
	for _, x := range xs {
		if k := key(x); !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// hereOf is %(here)s for an option written in file: its absolute directory.
func (b *sbuilder) hereOf(file string) string {
	if h, ok := b.here[file]; ok {
		return h
	}
	h := b.h.absPath(b.h.wd, filepath.Dir(file))
	b.here[file] = h
	return h
}

// expander resolves %(name)s references for one kind of option.
type expander struct {
	names   map[string]any      // besides here and ENV_X: string or int values
	env     []map[string]string // ENV_X sources, searched last first
	envFrom []string            // their descriptions, for messages
	budget  *int                // bytes all expansions of the config may still produce
}

// maxExpanded bounds what the expansions of one config produce: %(x)4000s
// in a command of numprocs = 10000 must be an error, not gigabytes. A
// variable so that a test can lower it.
var maxExpanded = 64 << 20

func (b *sbuilder) expander(names map[string]any, env []map[string]string, envFrom []string) *expander {
	return &expander{names: names, env: env, envFrom: envFrom, budget: &b.budget}
}

func (x *expander) with(names map[string]any, env map[string]string, envFrom string) *expander {
	y := &expander{names: map[string]any{}, env: slices.Clone(x.env), envFrom: slices.Clone(x.envFrom), budget: x.budget}
	for k, v := range x.names {
		y.names[k] = v
	}
	for k, v := range names {
		y.names[k] = v
	}
	if env != nil {
		y.env = append(y.env, env)
		y.envFrom = append(y.envFrom, envFrom)
	}
	return y
}

func (x *expander) expand(s, here string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	v, err := pyFormat(s, func(name string) (any, bool) {
		if name == "here" {
			return here, true
		}
		if v, ok := x.names[name]; ok {
			return v, true
		}
		if k, ok := strings.CutPrefix(name, "ENV_"); ok {
			for i := len(x.env) - 1; i >= 0; i-- {
				if v, ok := x.env[i][k]; ok {
					return v, true
				}
			}
		}
		return nil, false
	}, max(*x.budget, 0))
	var unknown *errUnknownName
	if errors.As(err, &unknown) {
		return "", x.unknown(unknown.name)
	}
	*x.budget -= len(v)
	return v, err
}

// unknown explains a %(name)s that cannot be expanded, listing what can.
func (x *expander) unknown(name string) error {
	if k, ok := strings.CutPrefix(name, "ENV_"); ok {
		return fmt.Errorf("%w: %%(%s)s: no variable %s in %s", ErrInterpolation, name, k, strings.Join(x.envFrom, " or "))
	}
	avail := []string{"here"}
	for k := range x.names {
		avail = append(avail, k)
	}
	slices.Sort(avail)
	hint := ""
	for _, a := range avail {
		if strings.EqualFold(a, name) {
			hint = fmt.Sprintf(" (names are case-sensitive: %%(%s)s)", a)
		}
	}
	switch {
	case hint != "":
	case x.names["program_name"] == nil && slices.Contains([]string{"program_name", "group_name", "host_node_name", "process_num", "numprocs"}, name):
		hint = " (only program and eventlistener sections have it)"
	case name == "process_num" || name == "numprocs":
		hint = " (only the per-process options have it: command, process_name, directory, environment and the stdout/stderr logfile and syslog options)"
	}
	return fmt.Errorf("%w: %%(%s)s: unknown name%s; available: %s and ENV_<NAME> for environment variables",
		ErrInterpolation, name, hint, strings.Join(avail, ", "))
}

// value returns the expanded value of key in sec (or [DEFAULT]). ok is
// false when the key is not set, or when expansion failed (reported).
func (b *sbuilder) value(sec *section, key string, x *expander) (string, *entry, bool) {
	e := b.doc.lookup(sec, key)
	if e == nil {
		return "", nil, false
	}
	v, err := x.expand(e.value, b.hereOf(e.pos.file))
	if err != nil {
		b.fail(e.pos, sec.name, e.name, err)
		return "", e, false
	}
	return v, e, true
}

// opts reads typed options of one section, reporting bad values at the
// key's definition and leaving the default in place.
type opts struct {
	b   *sbuilder
	sec *section
	x   *expander
}

func (o opts) str(key string, dst *string) bool {
	v, _, ok := o.b.value(o.sec, key, o.x)
	if ok {
		*dst = v
	}
	return ok
}

func (o opts) boolean(key string, dst *bool) {
	if v, e, ok := o.b.value(o.sec, key, o.x); ok {
		if x, err := parseBool(v); err != nil {
			o.b.fail(e.pos, o.sec.name, e.name, err)
		} else {
			*dst = x
		}
	}
}

func (o opts) integer(key string, dst *int, lo, hi int64) {
	if v, e, ok := o.b.value(o.sec, key, o.x); ok {
		if n, err := pyIntRange(v, lo, hi); err != nil {
			o.b.fail(e.pos, o.sec.name, e.name, err)
		} else {
			*dst = n
		}
	}
}

func (o opts) size(key string, dst *int64) {
	if v, e, ok := o.b.value(o.sec, key, o.x); ok {
		if n, err := byteSize(v); err != nil {
			o.b.fail(e.pos, o.sec.name, e.name, err)
		} else {
			*dst = n
		}
	}
}

func (o opts) octal(key string, dst *int, max int64) bool {
	if v, e, ok := o.b.value(o.sec, key, o.x); ok {
		if n, err := octal(v, max); err != nil {
			o.b.fail(e.pos, o.sec.name, e.name, err)
		} else {
			*dst = n
			return true
		}
	}
	return false
}

// check reports err (if any) against key's definition.
func (o opts) check(key string, err error) {
	if err == nil {
		return
	}
	if e := o.b.doc.lookup(o.sec, key); e != nil {
		o.b.fail(e.pos, o.sec.name, e.name, err)
	} else {
		o.b.fail(o.sec.pos, o.sec.name, key, err)
	}
}

// checkKeys reports every key written in sec that is not one of known.
// [DEFAULT] keys are not checked: they apply to every section that has them.
func (b *sbuilder) checkKeys(sec *section, known []string) {
	for _, k := range sec.order {
		if slices.Contains(known, k) {
			continue
		}
		e := sec.keys[k]
		var msg string
		if s := suggest(k, known); s != "" {
			msg = fmt.Sprintf(" (did you mean %s?)", s)
		} else if len(known) <= 8 {
			msg = fmt.Sprintf("; [%s] accepts %s", sec.name, strings.Join(known, ", "))
		}
		b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w%s", ErrUnknownKey, msg))
	}
}

// include reads [include] files= (before anything else, as supervisor
// does): space-separated globs relative to the main file's directory, with
// %(here)s and %(host_node_name)s. Included files cannot include further.
func (b *sbuilder) include() {
	sec := b.doc.byName["include"]
	if sec == nil {
		return
	}
	b.checkKeys(sec, []string{"files"})
	x := b.expander(map[string]any{"host_node_name": b.h.hostname}, []map[string]string{b.h.env}, []string{"gafferd's environment"})
	files, e, ok := b.value(sec, "files", x)
	if e == nil {
		b.fail(sec.pos, sec.name, "files", fmt.Errorf("%w: [include] needs files = GLOB…", ErrMissing))
		return
	}
	if !ok {
		return
	}
	before := sec.keys["files"]
	base := b.hereOf(b.main)
	read := map[string]bool{b.h.absPath(b.h.wd, b.main): true}
	for _, pattern := range strings.Fields(files) {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(base, pattern)
		}
		matches := b.h.fs.pyGlob(pattern)
		if len(matches) == 0 {
			b.warn(e.pos, sec.name, e.name, fmt.Sprintf("no file matches %s", pattern))
			continue
		}
		for _, f := range matches {
			if read[f] {
				b.warn(e.pos, sec.name, e.name, fmt.Sprintf("%s is already read, skipped", f))
				continue
			}
			read[f] = true
			if fi, err := b.h.fs.stat(f); err == nil && fi.IsDir() {
				b.warn(e.pos, sec.name, e.name, fmt.Sprintf("%s is a directory, skipped", f))
				continue
			}
			data, err := b.h.fs.readFile(f)
			if err != nil {
				b.fail(e.pos, sec.name, e.name, err)
				continue
			}
			b.errs = append(b.errs, b.doc.read(f, data)...)
			b.cfg.Files = append(b.cfg.Files, f)
		}
	}
	if after := sec.keys["files"]; after != before {
		b.warn(after.pos, sec.name, after.name, "includes in an included file are not followed")
	}
}

// gafferSections belong to gafferd's own format; mixing the two is a mistake
// whose jobs would silently never run.
func isGafferSection(name string) bool {
	return name == "gaffer" || name == "webhooks" ||
		strings.HasPrefix(name, "job:") || strings.HasPrefix(name, "process:") || strings.HasPrefix(name, "env:")
}

func (b *sbuilder) build() {
	sup := b.doc.byName["supervisord"]
	if sup == nil {
		b.fail(pos{file: b.main}, "", "", fmt.Errorf("%w: no [supervisord] section (supervisord requires one, even empty)", ErrMissing))
		sup = newSection("supervisord", pos{file: b.main})
	}
	b.supervisord(sup)
	b.servers()
	b.rpcInterfaces()
	for _, sec := range b.doc.sections {
		switch n := sec.name; {
		case n == "supervisord" || n == "unix_http_server" || n == "inet_http_server" || n == "include":
		case strings.HasPrefix(n, "program:") || strings.HasPrefix(n, "eventlistener:") || strings.HasPrefix(n, "fcgi-program:") ||
			strings.HasPrefix(n, "group:") || strings.HasPrefix(n, "rpcinterface:"):
		case strings.HasPrefix(n, "ctlplugin:"): // supervisorctl's
		case n == "supervisorctl":
			b.ctl(sec)
		case n == "email": // gafferd's mail notifications; supervisord ignores the section
			b.email(sec)
		case isGafferSection(n):
			b.fail(sec.pos, n, "", fmt.Errorf("%w: a gafferd section in a supervisord.conf; a file is either gafferd's INI or a supervisord.conf", ErrUnsupported))
		default:
			b.warn(sec.pos, n, "", "unknown section, ignored (supervisord ignores it too)")
		}
	}
	b.programs()
}

var supervisordKeys = []string{"logfile", "logfile_maxbytes", "logfile_backups", "loglevel", "pidfile", "umask",
	"nodaemon", "silent", "minfds", "minprocs", "nocleanup", "childlogdir", "user", "directory", "strip_ansi",
	"environment", "identifier"}

// supervisord reads [supervisord]. Its options see %(here)s and
// %(ENV_X)s of gafferd's environment.
func (b *sbuilder) supervisord(sec *section) {
	b.checkKeys(sec, supervisordKeys)
	sd := b.sd
	x := b.expander(map[string]any{}, []map[string]string{b.h.env}, []string{"gafferd's environment"})
	o := opts{b, sec, x}
	*sd = Supervisord{
		Logfile: b.h.absPath(b.h.wd, "supervisord.log"), LogfileMaxBytes: 50 << 20, LogfileBackups: 10,
		LogLevel: "info", Pidfile: b.h.absPath(b.h.wd, "supervisord.pid"), Umask: 0o22,
		Minfds: 1024, Minprocs: 200, Childlogdir: b.h.tempDir, Identifier: "supervisor",
		Environment: map[string]string{}, RPCInterfaces: map[string]string{},
	}
	path := func(key string, dst *string, base string) {
		if v, e, ok := b.value(sec, key, x); ok {
			if v == "" {
				b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: empty path", ErrInvalidValue))
				return
			}
			*dst = b.h.absPath(base, v)
		}
	}
	path("directory", &sd.Directory, b.h.wd)
	if v, e, ok := b.value(sec, "logfile", x); ok {
		switch {
		case v == "":
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: empty path", ErrInvalidValue))
		case v == "syslog":
			sd.Logfile = v
		default:
			sd.Logfile = b.h.absPath(b.h.wd, v)
		}
	}
	path("pidfile", &sd.Pidfile, b.h.wd)
	path("childlogdir", &sd.Childlogdir, b.runDir())
	o.size("logfile_maxbytes", &sd.LogfileMaxBytes)
	o.integer("logfile_backups", &sd.LogfileBackups, 0, maxScaleValue)
	if v, e, ok := b.value(sec, "loglevel", x); ok {
		if l := strings.ToLower(v); slices.Contains(supervisordLogLevels, l) {
			sd.LogLevel = l
		} else {
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w %q: want one of %s", ErrInvalidValue, v, strings.Join(supervisordLogLevels, ", ")))
		}
	}
	o.octal("umask", &sd.Umask, 0o777)
	o.boolean("nodaemon", &sd.Nodaemon)
	o.boolean("silent", &sd.Silent)
	o.integer("minfds", &sd.Minfds, 0, 1<<31-1)
	o.integer("minprocs", &sd.Minprocs, 0, 1<<31-1)
	o.boolean("nocleanup", &sd.Nocleanup)
	o.boolean("strip_ansi", &sd.StripANSI)
	if o.str("user", &sd.User) && trim(sd.User) == "" {
		o.check("user", fmt.Errorf("%w: empty user name", ErrInvalidValue))
	}
	o.str("identifier", &sd.Identifier)
	// supervisor expands environment= twice (options.py read_config): once
	// as every option, then again with %(host_node_name)s too. A working
	// config therefore writes %%%% for a literal %, and we must read it the same.
	if v, e, ok := b.value(sec, "environment", x); ok {
		envX := x.with(map[string]any{"host_node_name": b.h.hostname}, nil, "")
		v, err := envX.expand(v, b.hereOf(e.pos.file))
		var dropped []string
		if err == nil {
			sd.Environment, dropped, err = envPairs(v)
		}
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		} else if dropped != nil {
			b.warn(e.pos, sec.name, e.name, droppedWarning(dropped))
		}
	}
	b.globalEnv = sd.Environment
}

// maxScaleValue bounds counts that have no natural limit.
const maxScaleValue = 1_000_000

// runDir is where supervisord resolves the relative paths it opens after
// start-up: its directory= once it has chdir'ed there, else where it started.
func (b *sbuilder) runDir() string {
	if b.sd.Directory != "" {
		return b.sd.Directory
	}
	return b.h.wd
}

// generic is the expander of sections other than [supervisord] and
// program-like ones: %(here)s and %(ENV_X)s, [supervisord] environment included.
func (b *sbuilder) generic() *expander {
	return b.expander(map[string]any{}, []map[string]string{b.h.env, b.globalEnv},
		[]string{"gafferd's environment", "[supervisord] environment"})
}

// servers reads [unix_http_server] and [inet_http_server].
func (b *sbuilder) servers() {
	x := b.generic()
	if sec := b.doc.byName["unix_http_server"]; sec != nil {
		b.checkKeys(sec, []string{"file", "chmod", "chown", "username", "password"})
		o := opts{b, sec, x}
		s := &HTTPServer{Chmod: 0o700}
		if v, e, ok := b.value(sec, "file", x); ok {
			if v = trim(v); v == "" {
				b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: empty path", ErrInvalidValue))
			}
			s.File = b.h.absPath(b.h.wd, v)
		} else if e == nil {
			b.fail(sec.pos, sec.name, "file", fmt.Errorf("%w: [unix_http_server] needs file = SOCKET PATH", ErrMissing))
		}
		var mode int
		if o.octal("chmod", &mode, 0o7777) {
			s.Chmod = fs.FileMode(mode)
		}
		if o.str("chown", &s.Chown) {
			o.check("chown", checkOwner(s.Chown))
		}
		b.credentials(o, s)
		b.sd.Unix = s
	}
	if sec := b.doc.byName["inet_http_server"]; sec != nil {
		b.checkKeys(sec, []string{"port", "username", "password"})
		o := opts{b, sec, x}
		s := &HTTPServer{}
		if v, e, ok := b.value(sec, "port", x); ok {
			var err error
			if s.Port, err = inetAddress(v); err != nil {
				b.fail(e.pos, sec.name, e.name, err)
			}
		} else if e == nil {
			b.fail(sec.pos, sec.name, "port", fmt.Errorf("%w: [inet_http_server] needs port = HOST:PORT", ErrMissing))
		}
		b.credentials(o, s)
		b.sd.Inet = s
	}
	// supervisor prefers the unix socket for its children's
	// SUPERVISOR_SERVER_URL (options.py ServerOptions.realize).
	switch {
	case b.sd.Unix != nil && b.sd.Unix.File != "":
		b.autoURL = b.sd.Unix.URL()
	case b.sd.Inet != nil && b.sd.Inet.Port != "":
		b.autoURL = b.sd.Inet.URL()
	}
}

func (b *sbuilder) credentials(o opts, s *HTTPServer) {
	hasUser := o.str("username", &s.Username)
	hasPass := o.str("password", &s.Password)
	if hasPass {
		o.check("password", checkPassword(s.Password))
	}
	if hasUser != hasPass {
		missing := "password"
		if hasPass {
			missing = "username"
		}
		b.fail(o.sec.pos, o.sec.name, missing, fmt.Errorf("%w: username and password go together (give both or neither)", ErrMissing))
	}
}

// ctl reads [supervisorctl]. supervisord never reads it; it is checked so
// that one file serves both programs, as in supervisor.
func (b *sbuilder) ctl(sec *section) {
	b.checkKeys(sec, []string{"serverurl", "username", "password", "prompt", "history_file"})
	o := opts{b, sec, b.generic()}
	c := &Ctl{ServerURL: "http://localhost:9001", Prompt: "supervisor"}
	if o.str("serverurl", &c.ServerURL) {
		o.check("serverurl", checkURL(c.ServerURL))
		if p, ok := strings.CutPrefix(c.ServerURL, "unix://"); ok && p != "" {
			c.ServerURL = "unix://" + b.h.absPath(b.h.wd, p)
		}
	}
	o.str("username", &c.Username)
	o.str("password", &c.Password)
	o.str("prompt", &c.Prompt)
	if o.str("history_file", &c.HistoryFile) && c.HistoryFile != "" {
		c.HistoryFile = b.h.absPath(b.h.wd, c.HistoryFile)
	}
	b.sd.Ctl = c
}

// rpcInterfaces reads every [rpcinterface:NAME]. supervisord imports the
// factory, a Python callable; gaffer serves its own implementation of the
// factories it knows (supervisor's, supervisor_twiddler's, supervisor_cache's)
// and refuses any other: a namespace a config asks for and a client then
// cannot call is a failure found late, so it is an error at load.
func (b *sbuilder) rpcInterfaces() {
	const key = "supervisor.rpcinterface_factory"
	for _, sec := range b.doc.sections {
		name, ok := strings.CutPrefix(sec.name, "rpcinterface:")
		if !ok {
			continue
		}
		factory, e, ok := b.value(sec, key, b.generic())
		if e == nil {
			b.fail(sec.pos, sec.name, key, fmt.Errorf("%w: [%s] needs %s = MODULE:CALLABLE", ErrMissing, sec.name, key))
			continue
		}
		if !ok {
			continue
		}
		switch factory {
		case MainRPCInterfaceFactory:
			// The main factory takes no options; supervisord would fail to call it.
			b.checkKeys(sec, []string{key})
		case TwiddlerRPCInterfaceFactory, CacheRPCInterfaceFactory:
			// Their factories take **config and use none of it.
			for _, k := range sec.order {
				if en := sec.keys[k]; k != key {
					b.warn(en.pos, sec.name, en.name, "option not used by gaffer's "+name+" interface, ignored")
				}
			}
		default:
			b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: factory %s is a Python extension, which gaffer cannot load; gaffer serves %s, %s and %s",
				ErrUnsupported, factory, MainRPCInterfaceFactory, TwiddlerRPCInterfaceFactory, CacheRPCInterfaceFactory))
			continue
		}
		b.sd.RPCInterfaces[name] = factory
	}
}
