package procfile

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// RedirectInputKey is the .env key listing (space-separated) the process
// types whose stdin gafferd opens as a pipe (gaffer-config.md §4). It is
// not passed to the processes.
const RedirectInputKey = "GAFFER_REDIRECT_INPUT"

// DefaultBasePort is the PORT of the first process when neither --port, the
// .env nor the environment give one (foreman's).
const DefaultBasePort = 5000

// PortStep separates the ports of consecutive process types (foreman's).
const PortStep = 100

// App is a Procfile application: its types and its environment.
type App struct {
	Name     string            // session name
	Root     string            // absolute app root: the processes' working directory
	Procfile string            // path read
	Types    []Type            // in Procfile order
	Env      map[string]string // merged .env files, without RedirectInputKey
	BasePort int               // PORT of the first process of the first type
	// RedirectInput is the set of types named by GAFFER_REDIRECT_INPUT.
	RedirectInput map[string]bool
}

// Options say where an App's files are.
type Options struct {
	Root     string   // app root; "" = "."
	Procfile string   // "" = Root/Procfile; relative to the working directory otherwise
	EnvFiles []string // read after Root/.env, in order
	Name     string   // session name; "" = the base name of Root
	Port     int      // base port; 0 = the .env's PORT, else LookupEnv("PORT"), else DefaultBasePort
	// ProcfileOptional accepts a missing Procfile (an app with no types).
	ProcfileOptional bool
	// LookupEnv reads the OS environment for .env references and PORT;
	// nil = none.
	LookupEnv func(string) (string, bool)
}

var appNameRe = regexp.MustCompile(`^[a-z][a-z0-9_+-]*$`)

// ValidAppName checks a session name as gaffer 0.5.2 does.
func ValidAppName(name string) error {
	if !appNameRe.MatchString(name) {
		return fmt.Errorf("invalid app name %q: want a lower-case letter then lower-case letters, digits, '_', '+' or '-' (rename the directory or use --app)", name)
	}
	return nil
}

// Load reads an app: its Procfile, Root/.env when present, then each of
// opts.EnvFiles (which must exist).
func Load(opts Options) (*App, error) {
	root := opts.Root
	if root == "" {
		root = "."
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("app root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("app root %s: not a directory", root)
	}
	a := &App{Root: abs, Name: opts.Name, Env: map[string]string{}, RedirectInput: map[string]bool{}}
	if a.Name == "" {
		a.Name = filepath.Base(abs)
	}
	if err := ValidAppName(a.Name); err != nil {
		return nil, err
	}
	a.Procfile = opts.Procfile
	if a.Procfile == "" {
		a.Procfile = filepath.Join(root, "Procfile")
	}
	f, err := os.Open(a.Procfile)
	switch {
	case opts.ProcfileOptional && errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("procfile: %w", err)
	default:
		a.Types, err = ParseProcfile(f)
		f.Close()
		if err != nil {
			return nil, prefixFile(a.Procfile, err)
		}
	}
	if len(a.Types) == 0 && !opts.ProcfileOptional {
		return nil, fmt.Errorf("%s: no process type (want lines \"name: command\")", a.Procfile)
	}
	files := []string{filepath.Join(root, ".env")}
	for _, ef := range opts.EnvFiles {
		files = append(files, ef)
	}
	for k, name := range files {
		f, err := os.Open(name)
		if k == 0 && errors.Is(err, fs.ErrNotExist) {
			continue // the root's .env is optional
		}
		if err != nil {
			return nil, fmt.Errorf("env file: %w", err)
		}
		err = ParseDotenv(name, f, a.Env, opts.LookupEnv)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if v, ok := a.Env[RedirectInputKey]; ok {
		delete(a.Env, RedirectInputKey)
		for _, t := range strings.Fields(v) {
			if a.Type(t) == nil {
				return nil, fmt.Errorf("%s: no process type %q in %s", RedirectInputKey, t, a.Procfile)
			}
			a.RedirectInput[t] = true
		}
	}
	a.BasePort = opts.Port
	if a.BasePort == 0 {
		src, v := ".env PORT", a.Env["PORT"]
		if v == "" && opts.LookupEnv != nil {
			src = "$PORT"
			v, _ = opts.LookupEnv("PORT")
		}
		if v == "" {
			a.BasePort = DefaultBasePort
		} else if a.BasePort, err = strconv.Atoi(v); err != nil || a.BasePort <= 0 || a.BasePort > 65535 {
			return nil, fmt.Errorf("%s %q: want a port number", src, v)
		}
	}
	if a.BasePort <= 0 || a.BasePort > 65535 {
		return nil, fmt.Errorf("port %d: want 1-65535", a.BasePort)
	}
	return a, nil
}

// prefixFile puts the file name in front of the line errors of a Procfile.
func prefixFile(file string, err error) error {
	var errs []error
	for _, e := range unjoin(err) {
		if pe, ok := e.(*Error); ok && pe.File == "" {
			e = &Error{File: file, Line: pe.Line, Err: pe.Err}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Type returns the process type called name, or nil.
func (a *App) Type(name string) *Type {
	for i := range a.Types {
		if a.Types[i].Name == name {
			return &a.Types[i]
		}
	}
	return nil
}

// Port is the PORT of instance n (from 1) of type t, as foreman numbers
// them: base + 100 per type before it in the Procfile + (n-1).
func (a *App) Port(t string, n int) int {
	for i, ty := range a.Types {
		if ty.Name == t {
			return a.BasePort + PortStep*i + n - 1
		}
	}
	return 0
}

// ParseConcurrency reads -c options: each "type=n[,type=n]…" ("all=n" sets
// every type). Types not in the app are errors. Types left out run 1.
func (a *App) ParseConcurrency(specs []string) (map[string]int, error) {
	c := map[string]int{}
	for _, t := range a.Types {
		c[t.Name] = 1
	}
	for _, spec := range specs {
		for part := range strings.SplitSeq(spec, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, v, ok := strings.Cut(part, "=")
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if !ok || err != nil || n < 0 || n > 1000 {
				return nil, fmt.Errorf("concurrency %q: want TYPE=N with 0 <= N <= 1000", part)
			}
			name = strings.TrimSpace(name)
			if name == "all" && a.Type("all") == nil {
				for k := range c {
					c[k] = n
				}
				continue
			}
			if a.Type(name) == nil {
				return nil, fmt.Errorf("concurrency %q: no process type %q in %s (types: %s)", part, name, a.Procfile, strings.Join(a.TypeNames(), ", "))
			}
			c[name] = n
		}
	}
	return c, nil
}

// TypeNames lists the types in Procfile order.
func (a *App) TypeNames() []string {
	names := make([]string, len(a.Types))
	for i, t := range a.Types {
		names[i] = t.Name
	}
	return names
}

// Command splits a type's command line: the program (shell-quoted again
// when it needs it, since a job's cmd is split at spawn) and its arguments.
func Command(line string) (cmd string, args []string, err error) {
	words, err := supervisor.SplitCommand(line)
	if err != nil {
		return "", nil, err
	}
	if len(words) == 0 {
		return "", nil, ErrNoCommand
	}
	return ShellQuote(words[0]), words[1:], nil
}

// Job is the job of one process type with n processes: cmd and args from
// its command line, the app's environment with PORT = the type's first
// port, the app root as working directory, gafferd's environment under it
// (os_env) and both output streams captured.
func (a *App) Job(t Type, n int) (supervisor.JobConfig, error) {
	cmd, args, err := Command(t.Command)
	if err != nil {
		return supervisor.JobConfig{}, fmt.Errorf("%s:%d: %s: %w", a.Procfile, t.Line, t.Name, err)
	}
	cfg := supervisor.NewJobConfig(t.Name, cmd)
	cfg.Args = args
	cfg.Env = maps.Clone(a.Env)
	cfg.Env["PORT"] = strconv.Itoa(a.Port(t.Name, 1))
	cfg.OSEnv = true
	cfg.Cwd = a.Root
	cfg.NumProcesses = n
	cfg.RedirectOutput = []string{"out", "err"}
	cfg.RedirectInput = a.RedirectInput[t.Name]
	return cfg, nil
}

// Jobs are the jobs of every type (Procfile order) with their concurrency
// (missing = 1).
func (a *App) Jobs(concurrency map[string]int) ([]supervisor.JobConfig, error) {
	var jobs []supervisor.JobConfig
	for _, t := range a.Types {
		n, ok := concurrency[t.Name]
		if !ok {
			n = 1
		}
		j, err := a.Job(t, n)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// ShellQuote returns s as one shell word: unchanged when it holds only
// safe characters, else in single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./=+:,@%$", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// seconds renders a duration as whole seconds, rounding up.
func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
