package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/gafferhq/gaffer/supervisor"
)

// MainFile is the config file gafferd reads from a config directory (0.5.2).
const MainFile = "gafferd.ini"

// DefaultBacklog is the listen backlog when [gaffer] backlog is not set.
const DefaultBacklog = 128

// Config is gaffer's configuration: gafferd's INI file and its includes,
// merged, decoded and validated.
type Config struct {
	Files    []string  // every file read, main first
	Global   Global    // [gaffer] section
	Jobs     []Job     // in boot order: ascending priority, ties in file order (supervisord.conf: see Supervisord.Groups)
	Webhooks []Webhook // [webhooks]: event type -> URL (several allowed)
	Email    *Email    // [email]: mail notifications; nil when absent
	SSL      *SSL      // [ssl]: TLS on TCP listeners; nil when absent
	Auth     Auth      // [auth]: key and user store files
	Cluster  *Cluster  // [cluster]: NATS cluster membership; nil when absent
	Warnings []string  // non-fatal notes, each "file:line: [section] key: text"

	// Supervisord is set when the file was a supervisord.conf: everything
	// of it beyond Jobs. It takes the place of Global, which then keeps its
	// defaults. nil for gaffer files.
	Supervisord *Supervisord

	// Gaggled is set when the file was a gaggled config (see IsGaggled):
	// its global settings. nil for other files.
	Gaggled *Gaggled
}

// Global is the [gaffer] section (gaffer-config.md §3.1). Zero values mean
// "not set": the caller applies its own defaults and command-line flags.
type Global struct {
	Bind             []string // "host:port" entries; empty = caller's default
	Unix             string   // unix socket path ("unix = /path" or a "unix:/path" bind entry); empty = default
	Backlog          int      // default DefaultBacklog
	Daemonize        bool
	Pidfile          string
	ErrorLog         string // "-" = stderr
	LogLevel         string // critical, error, warning, info, debug; default info
	RequireKey       *bool  // nil = not set (gaffer: true when a config file exists)
	PluginsDir       string
	LookupdAddresses []string // every lookupd_address* key, in file order
	BroadcastAddress string   // URL announced to lookupd; "" = derived by the caller
	MetricsBind      string   // metrics_bind: "host:port" of the read-only /metrics listener; "" = none
	AllowedOrigins   []string // allowed_origins: other origins whose pages may call the API
}

// Job is one job of the config.
type Job struct {
	Session string // supervisor.DefaultSession when none
	Config  supervisor.JobConfig
	Source  string // "file:line [section]" for messages
}

// FullName is the job's API name, session.job.
func (j Job) FullName() string { return j.Session + "." + j.Config.Name }

// Webhook posts events of type Event ("." = all) to URL.
type Webhook struct{ Event, URL string }

// Error is one problem of a config, located as precisely as known.
type Error struct {
	File    string
	Line    int    // 0 when unknown
	Section string // INI section, or the job's place in a JSON file
	Key     string
	Err     error
}

func (e *Error) Error() string {
	msg := "invalid config"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return location(e.File, e.Line, e.Section, e.Key) + msg
}

func (e *Error) Unwrap() error { return e.Err }

// location renders "file:line: [section] key: ", leaving out what is unknown.
func location(file string, line int, section, key string) string {
	var b strings.Builder
	if file != "" {
		b.WriteString(file)
		if line > 0 {
			fmt.Fprintf(&b, ":%d", line)
		}
		b.WriteString(": ")
	}
	if section != "" {
		b.WriteString("[" + section + "] ")
	}
	if key != "" {
		b.WriteString(key + ": ")
	}
	return b.String()
}

// What went wrong, for errors.Is. Problems found by supervisor's Validate
// keep its sentinels (supervisor.ErrMissingName, ErrBadValue, …).
var (
	ErrSyntax        = errors.New("syntax error")
	ErrDuplicate     = errors.New("duplicate")
	ErrInterpolation = errors.New("bad interpolation")
	ErrUnknownKey    = errors.New("unknown key")
	ErrInvalidInt    = errors.New("invalid integer")
	ErrInvalidBool   = errors.New("invalid boolean")
	ErrInvalidNumber = errors.New("invalid number")
	ErrInvalidValue  = errors.New("invalid value")

	// supervisord.conf only.
	ErrMissing        = errors.New("missing")            // a required section or key
	ErrUnknownProgram = errors.New("unknown program")    // [group:x] programs names no [program:…]
	ErrUnknownEvent   = errors.New("unknown event type") // [eventlistener:x] events
	ErrUnsupported    = errors.New("not supported")      // valid for supervisord, not (yet) for gaffer
)

// Load reads gafferd's configuration. path is an INI file, or a config
// directory holding MainFile (the 0.5.2 form), where a missing MainFile
// means an empty configuration. A file that IsSupervisord is read as a
// supervisord.conf (see ParseSupervisord); a directory is always gaffer's.
//
// A JSON job file (first non-blank byte "{", see LoadJSONJobs) and a
// gaggled config (IsGaggled) are read as such too. Every format then gets
// the same dependency check: a cycle, or a dependency on a job that is not
// in the config, is refused (see Check).
func Load(path string) (*Config, error) { return checked(osFS.load(path)) }

// LoadUnchecked is Load without the dependency check, for gafferd -t,
// which reports it with the rest of Check's problems.
func LoadUnchecked(path string) (*Config, error) { return osFS.load(path) }

// Parse parses one INI document named name (used in messages). Includes are
// resolved relative to the working directory, as gaffer does, and, when not
// found there, relative to the directory of name.
func Parse(name string, data []byte) (*Config, error) { return checked(osFS.parse(name, data)) }

func newConfig() *Config {
	return &Config{Global: Global{Backlog: DefaultBacklog, LogLevel: "info"}}
}

// fileSystem is the file access of Load and Parse; tests and fuzzing swap it
// so that an include in the input cannot make them walk the real disk.
type fileSystem struct {
	stat     func(string) (fs.FileInfo, error)
	readFile func(string) ([]byte, error)
	walkDir  func(string, fs.WalkDirFunc) error
	readDir  func(string) ([]fs.DirEntry, error) // for supervisord [include] globs
}

var osFS = fileSystem{stat: os.Stat, readFile: os.ReadFile, walkDir: filepath.WalkDir, readDir: os.ReadDir}

func (fsys fileSystem) load(path string) (*Config, error) {
	fi, err := fsys.stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		path = filepath.Join(path, MainFile)
		if _, err := fsys.stat(path); errors.Is(err, fs.ErrNotExist) {
			return newConfig(), nil
		}
	}
	data, err := fsys.readFile(path)
	if err != nil {
		return nil, err
	}
	if isJSON(data) {
		return loadJSONConfig(path, data)
	}
	if IsGaggled(data) {
		h := osHost()
		h.fs = fsys
		return h.parseGaggled(path, data)
	}
	if IsSupervisord(data) {
		h := osHost()
		h.fs = fsys
		return h.parseSupervisord(path, data)
	}
	return fsys.parse(path, data)
}

func (fsys fileSystem) parse(name string, data []byte) (*Config, error) {
	b := &builder{fs: fsys, doc: newDocument(), cfg: newConfig()}
	b.errs = b.doc.read(name, data)
	b.cfg.Files = []string{name}
	b.readIncludes(name)
	b.build()
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return b.cfg, nil
}

// builder turns the merged document into a Config, collecting every problem.
type builder struct {
	fs   fileSystem
	doc  *document
	cfg  *Config
	errs []error
	jobs []*Job
	seen map[string]*Job // full name -> job, for duplicates
}

func (b *builder) fail(p pos, sec, key string, err error) {
	b.errs = append(b.errs, &Error{File: p.file, Line: p.line, Section: sec, Key: key, Err: err})
}

func (b *builder) warn(p pos, sec, key, text string) {
	b.cfg.Warnings = append(b.cfg.Warnings, location(p.file, p.line, sec, key)+text)
}

// value returns the interpolated value of key as seen from sec, or ok=false
// when it is not set or (after reporting it) cannot be interpolated.
func (b *builder) value(sec *section, key string) (v string, e *entry, ok bool) {
	e = b.doc.lookup(sec, key)
	if e == nil {
		return "", nil, false
	}
	v, err := b.doc.get(sec, e)
	if err != nil {
		b.fail(e.pos, sec.name, e.name, err)
		return "", e, false
	}
	return v, e, true
}

// readIncludes reads [gaffer] include and include_dir of the main file, in
// that order, after it (gaffer-config.md §2). Like gaffer, it does not
// follow includes named by included files.
func (b *builder) readIncludes(main string) {
	g := b.doc.byName["gaffer"]
	if g == nil {
		return
	}
	// include is an include file and the key that named it, for messages.
	type include struct {
		path string
		at   pos
		key  string
	}
	var paths []include
	if v, e, ok := b.value(g, "include"); ok {
		for _, p := range strings.Fields(v) {
			path, fi, err := b.fs.resolve(main, p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				b.warn(e.pos, g.name, "include", fmt.Sprintf("%s: no such file, skipped", p))
			case err != nil:
				b.fail(e.pos, g.name, "include", err)
			case fi.IsDir():
				b.fail(e.pos, g.name, "include", fmt.Errorf("%w: %s is a directory (use include_dir)", ErrInvalidValue, p))
			default:
				paths = append(paths, include{path, e.pos, "include"})
			}
		}
	}
	if v, e, ok := b.value(g, "include_dir"); ok {
		for _, p := range strings.Fields(v) {
			dir, fi, err := b.fs.resolve(main, p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				b.warn(e.pos, g.name, "include_dir", fmt.Sprintf("%s: no such directory, skipped", p))
			case err != nil:
				b.fail(e.pos, g.name, "include_dir", err)
			case !fi.IsDir():
				b.fail(e.pos, g.name, "include_dir", fmt.Errorf("%w: %s is not a directory (use include)", ErrInvalidValue, p))
			default:
				for _, p := range b.iniFiles(dir, e.pos) {
					paths = append(paths, include{p, e.pos, "include_dir"})
				}
			}
		}
	}
	before := map[string]*entry{"include": g.keys["include"], "include_dir": g.keys["include_dir"]}
	read := map[string]bool{canonicalPath(main): true}
	for _, inc := range paths {
		c := canonicalPath(inc.path)
		if read[c] {
			// Reading it again would let it override the files in between.
			b.warn(inc.at, "gaffer", inc.key, fmt.Sprintf("%s is already read, skipped", inc.path))
			continue
		}
		read[c] = true
		data, err := b.fs.readFile(inc.path)
		if err != nil {
			b.fail(inc.at, "gaffer", inc.key, err)
			continue
		}
		b.errs = append(b.errs, b.doc.read(inc.path, data)...)
		b.cfg.Files = append(b.cfg.Files, inc.path)
	}
	if g := b.doc.byName["gaffer"]; g != nil {
		for _, k := range []string{"include", "include_dir"} {
			if e := g.keys[k]; e != nil && e != before[k] {
				b.warn(e.pos, g.name, e.name, "includes in an included file are not followed")
			}
		}
	}
}

func canonicalPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// resolve finds an include relative to the working directory, as gaffer
// does, else relative to the including file's directory, so that a config
// directory keeps working when gafferd is started elsewhere.
func (fsys fileSystem) resolve(base, p string) (string, fs.FileInfo, error) {
	cands := []string{p}
	if !filepath.IsAbs(p) {
		if alt := filepath.Join(filepath.Dir(base), p); alt != filepath.Clean(p) {
			cands = append(cands, alt)
		}
	}
	var hard error
	for _, c := range cands {
		fi, err := fsys.stat(c)
		if err == nil {
			return c, fi, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) && hard == nil {
			hard = err
		}
	}
	if hard != nil {
		return "", nil, hard
	}
	return "", nil, fs.ErrNotExist
}

// iniFiles lists every *.ini file under dir (gaffer's os.walk + fnmatch),
// in lexical order so that overrides between them are predictable.
func (b *builder) iniFiles(dir string, at pos) []string {
	var out []string
	err := b.fs.walkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			b.fail(at, "gaffer", "include_dir", err)
			return nil
		}
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".ini") {
			return nil
		}
		if de.Type()&fs.ModeSymlink != 0 {
			// os.walk lists a symlink to a directory as a directory.
			if fi, err := b.fs.stat(p); err == nil && fi.IsDir() {
				return nil
			}
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		b.fail(at, "gaffer", "include_dir", err)
	}
	return out
}

// ignoredSections belong to features configured elsewhere (TLS, auth); they
// are valid in a gafferd file and not an error here.
var ignoredSections = map[string]bool{"ssl": true, "auth": true, "lookup_ssl": true}

func (b *builder) build() {
	b.seen = map[string]*Job{}
	envs := map[string]*section{}
	var envOrder []string
	for _, sec := range b.doc.sections {
		switch {
		case sec.name == "gaffer":
			b.global(sec)
		case sec.name == "webhooks":
			b.webhooks(sec)
		case sec.name == "email":
			b.email(sec)
		case sec.name == "ssl":
			b.ssl(sec)
		case sec.name == "auth":
			b.auth(sec)
		case sec.name == "cluster":
			b.cluster(sec)
		case strings.HasPrefix(sec.name, "job:") || strings.HasPrefix(sec.name, "process:"):
			b.job(sec)
		case strings.HasPrefix(sec.name, "env:"):
			session, name, err := splitSpec(strings.TrimPrefix(sec.name, "env:"))
			if err != nil {
				b.fail(sec.pos, sec.name, "", err)
				continue
			}
			full := session + "." + name
			if prev := envs[full]; prev != nil {
				b.fail(sec.pos, sec.name, "", fmt.Errorf("%w: environment of %s already given by %s:%d [%s]",
					ErrDuplicate, full, prev.pos.file, prev.pos.line, prev.name))
				continue
			}
			envs[full] = sec
			envOrder = append(envOrder, full)
		case ignoredSections[sec.name]:
		default:
			b.warn(sec.pos, sec.name, "", "unknown section, ignored"+sectionHint(sec.name))
		}
	}
	for _, full := range envOrder {
		b.applyEnv(envs[full], full)
	}
	slices.SortStableFunc(b.jobs, func(x, y *Job) int {
		return cmpInt(x.Config.Priority, y.Config.Priority)
	})
	for _, j := range b.jobs {
		b.cfg.Jobs = append(b.cfg.Jobs, *j)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sectionHint explains the likely mistake behind an unknown section name.
func sectionHint(name string) string {
	t := trim(name)
	want := ""
	switch l := strings.ToLower(t); {
	case l == "default":
		want = defaultSection
	case l == "gaffer" || l == "webhooks" || l == "email" || ignoredSections[l]:
		want = l
	default:
		for _, p := range []string{"job:", "process:", "env:"} {
			if len(t) >= len(p) && strings.EqualFold(t[:len(p)], p) {
				want = p + trim(t[len(p):])
			}
		}
	}
	if want == "" || want == name {
		return ""
	}
	return fmt.Sprintf(" (section names are case-sensitive and spaces count: did you mean [%s]?)", want)
}
