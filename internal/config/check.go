package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gafferhq/gaffer/internal/deps"
	"github.com/gafferhq/gaffer/internal/proc"
	"github.com/gafferhq/gaffer/supervisor"
)

// Problem is one thing wrong with a loaded config, found by Check. Its
// String has the shape of every config error: "file:line: [section] key:
// message", and names the jobs concerned.
type Problem struct {
	File    string
	Line    int
	Section string
	Key     string
	Jobs    []string // full names (session.job) of the jobs concerned
	Err     error    // for errors.Is: deps.ErrCycle, deps.ErrUnknown, ErrDisabledDependency, proc.ErrNotFound
}

func (p Problem) String() string { return location(p.File, p.Line, p.Section, p.Key) + p.Err.Error() }

// Error makes a Problem usable as an error (Load returns graph problems so).
func (p Problem) Error() string { return p.String() }
func (p Problem) Unwrap() error { return p.Err }

// ErrDisabledDependency: a job started at boot depends on one that is not.
var ErrDisabledDependency = errors.New("depends on a job that does not start at boot")

// Check returns every problem of cfg that loading does not refuse by
// itself, and those it does refuse in the dependency graph, each on its own:
//
//   - dependency cycles, with their path, and dependencies on jobs that are
//     not in the config (both also refused by Load);
//   - a job started at boot (start, autostart, enabled) that depends on a
//     job that is not: it would wait until someone starts the other;
//   - a job without a command;
//   - commands that cannot be found on the PATH the job will run with
//     (its env's PATH, else gafferd's, as the supervisor composes it), from
//     its working directory; only for jobs started at boot, not for those
//     run through a shell.
//
// It reads the file system and gafferd's environment (PATH), nothing else.
func Check(cfg *Config) []Problem {
	ps := graphProblems(cfg)
	idx := jobIndex(cfg)
	for _, j := range cfg.Jobs {
		if !j.Config.Start {
			continue
		}
		for _, d := range j.Config.DependsOn {
			full := depFullName(j, d.Job)
			k, ok := idx[full]
			if !ok || cfg.Jobs[k].Config.Start {
				continue
			}
			p := jobProblem(cfg, j, depKey(cfg))
			p.Jobs = []string{j.FullName(), full}
			p.Err = fmt.Errorf("%w: %s starts at boot and depends on %s, which does not (%s): %s would wait until %s is started by hand",
				ErrDisabledDependency, j.FullName(), full, startKey(cfg), j.FullName(), full)
			ps = append(ps, p)
		}
	}
	for _, j := range cfg.Jobs {
		if strings.TrimSpace(j.Config.Cmd) == "" {
			p := jobProblem(cfg, j, cmdKey(cfg))
			p.Jobs = []string{j.FullName()}
			p.Err = fmt.Errorf("%w: %s has no command", supervisor.ErrMissingCmd, j.FullName())
			ps = append(ps, p)
			continue
		}
		if !j.Config.Start || j.Config.Shell || j.Config.NumProcesses == 0 {
			continue
		}
		words, err := supervisor.SplitCommand(j.Config.Cmd)
		if err != nil || len(words) == 0 {
			continue // Validate reported it
		}
		path := jobPath(j.Config)
		if _, err := proc.LookPath(words[0], path, j.Config.Cwd); err != nil {
			p := jobProblem(cfg, j, cmdKey(cfg))
			p.Jobs = []string{j.FullName()}
			where := ""
			if j.Config.Cwd != "" {
				where = ", working directory " + j.Config.Cwd
			}
			if path == "" {
				path = proc.DefaultPath
			}
			p.Err = fmt.Errorf("%w: %s: command %q cannot be run (PATH=%s%s)", unwrapLookPath(err), j.FullName(), words[0], path, where)
			ps = append(ps, p)
		}
	}
	return ps
}

// unwrapLookPath keeps LookPath's sentinel (proc.ErrNotFound, fs errors)
// for errors.Is without repeating the quoted name it adds.
func unwrapLookPath(err error) error {
	if errors.Is(err, proc.ErrNotFound) {
		return proc.ErrNotFound
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// jobPath is the PATH a job's process gets, as supervisor.buildEnv
// composes the environment: a supervisor program's env over gafferd's, a
// gaffer job's os_env over its env.
func jobPath(c supervisor.JobConfig) string {
	osPath, osHas := os.LookupEnv("PATH")
	envPath, envHas := c.Env["PATH"]
	switch {
	case c.Program != nil && envHas:
		return envPath
	case c.Program != nil && c.OSEnv && osHas:
		return osPath
	case c.Program == nil && c.OSEnv && osHas:
		return osPath
	case envHas:
		return envPath
	}
	return ""
}

// graphProblems are the dependency problems Load refuses: unknown jobs
// and cycles (internal/deps finds them, with the cycle's path).
func graphProblems(cfg *Config) []Problem {
	idx := jobIndex(cfg)
	var ps []Problem
	nodes := make([]string, 0, len(cfg.Jobs))
	edges := map[string][]string{}
	for i, j := range cfg.Jobs {
		full := j.FullName()
		if idx[full] != i {
			continue // a duplicate, refused by the parser
		}
		nodes = append(nodes, full)
		for _, d := range j.Config.DependsOn {
			target := depFullName(j, d.Job)
			if _, ok := idx[target]; !ok {
				p := jobProblem(cfg, j, depKey(cfg))
				p.Jobs = []string{full, target}
				hint := ""
				known := make([]string, 0, len(idx))
				for n := range idx {
					known = append(known, n)
				}
				slices.Sort(known)
				if s := suggest(target, known); s != "" {
					hint = fmt.Sprintf(" (did you mean %s?)", s)
				}
				p.Err = fmt.Errorf("%w: %s depends on %s, which is not in this config%s", deps.ErrUnknown, full, target, hint)
				ps = append(ps, p)
				continue
			}
			edges[full] = append(edges[full], target)
		}
	}
	if _, err := deps.New(nodes, edges); err != nil {
		for _, err := range splitErrors(err) {
			if !errors.Is(err, deps.ErrCycle) {
				continue
			}
			path := strings.Split(strings.TrimPrefix(err.Error(), deps.ErrCycle.Error()+": "), " -> ")
			p := Problem{Jobs: slices.Compact(slices.Clone(path)), Err: err}
			if k, ok := idx[path[0]]; ok {
				p = jobProblem(cfg, cfg.Jobs[k], depKey(cfg))
				p.Jobs = path[:len(path)-1]
				p.Err = err
			}
			ps = append(ps, p)
		}
	}
	return ps
}

// checked applies Load's dependency check to a freshly parsed config.
func checked(cfg *Config, err error) (*Config, error) {
	if err != nil {
		return nil, err
	}
	if ps := graphProblems(cfg); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

func jobIndex(cfg *Config) map[string]int {
	idx := make(map[string]int, len(cfg.Jobs))
	for i, j := range cfg.Jobs {
		if _, dup := idx[j.FullName()]; !dup {
			idx[j.FullName()] = i
		}
	}
	return idx
}

// depFullName resolves a dependency as the supervisor does: "session.job",
// or a job of the dependent's own session.
func depFullName(j Job, dep string) string {
	if strings.Contains(dep, ".") {
		return dep
	}
	return j.Session + "." + dep
}

// jobProblem locates a problem at a job's section, from its Source
// ("file:line [section]" or "file [jobs[1]]").
func jobProblem(cfg *Config, j Job, key string) Problem {
	src := j.Source
	var p Problem
	if i := strings.LastIndex(src, " ["); i >= 0 && strings.HasSuffix(src, "]") {
		p.Section = src[i+2 : len(src)-1]
		src = src[:i]
	}
	if i := strings.LastIndexByte(src, ':'); i >= 0 {
		if n, err := strconv.Atoi(src[i+1:]); err == nil {
			p.Line, src = n, src[:i]
		}
	}
	p.File = src
	if p.Section == "" && cfg.Supervisord == nil && cfg.Gaggled == nil {
		p.Section = j.FullName() // a lone JSON job
	}
	p.Key = key
	return p
}

func depKey(cfg *Config) string {
	if cfg.Gaggled != nil {
		return "depends"
	}
	return "depends_on"
}

func cmdKey(cfg *Config) string {
	switch {
	case cfg.Gaggled != nil, cfg.Supervisord != nil:
		return "command"
	}
	return "cmd"
}

func startKey(cfg *Config) string {
	switch {
	case cfg.Gaggled != nil:
		return "enabled false"
	case cfg.Supervisord != nil:
		return "autostart = false"
	}
	return "start = false"
}

// isJSON reports whether data is a JSON job file: its first non-blank
// byte is "{" (neither INI nor INFO can start so).
func isJSON(data []byte) bool {
	s := strings.TrimLeft(strings.TrimPrefix(string(data), "\ufeff"), " \t\r\n")
	return strings.HasPrefix(s, "{")
}
