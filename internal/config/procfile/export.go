package procfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gafferhq/gaffer/supervisor"
)

// ErrNotExportable is a value a target format cannot hold.
var ErrNotExportable = errors.New("cannot be written in this format")

// Formats lists the export formats.
var Formats = []string{"gafferd", "json", "supervisord", "systemd"}

// Export writes the app's jobs in format. Single-file formats (gafferd,
// json, supervisord) give one file named <app>.ini, .json or .conf;
// systemd gives <app>.target and one <app>-<type>@.service per type.
func (a *App) Export(format string, concurrency map[string]int) (map[string][]byte, error) {
	var b bytes.Buffer
	var err error
	switch format {
	case "gafferd":
		err = a.exportGafferd(&b, concurrency)
		return map[string][]byte{a.Name + ".ini": b.Bytes()}, err
	case "json":
		err = a.exportJSON(&b, concurrency)
		return map[string][]byte{a.Name + ".json": b.Bytes()}, err
	case "supervisord":
		err = a.exportSupervisord(&b, concurrency)
		return map[string][]byte{a.Name + ".conf": b.Bytes()}, err
	case "systemd":
		return a.exportSystemd(concurrency)
	}
	return nil, fmt.Errorf("export format %q: want one of %s", format, strings.Join(Formats, ", "))
}

func notExportable(format, typ, what string) error {
	return fmt.Errorf("%s: %s %w (%s)", typ, what, ErrNotExportable, format)
}

// ---- gafferd INI -------------------------------------------------------------

// iniValue writes v as an INI value that gaffer's reader gives back
// exactly: '%' doubled (interpolation), several lines as continuation
// lines. Values it trims or reads as comments are refused.
func iniValue(v string) (string, bool) {
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != l || (i > 0 && (l == "" || l[0] == '#' || l[0] == ';')) || strings.ContainsRune(l, '\r') {
			return "", false
		}
	}
	return strings.ReplaceAll(strings.Join(lines, "\n    "), "%", "%%"), true
}

func (a *App) exportGafferd(w io.Writer, concurrency map[string]int) error {
	jobs, err := a.Jobs(concurrency)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# gafferd jobs of the Procfile app %q, written by \"gaffer export gafferd\".\n", a.Name)
	fmt.Fprintf(&b, "# Sections are [job:<session>:<job>]; add this file to [gaffer] include.\n")
	for _, j := range jobs {
		fmt.Fprintf(&b, "\n[job:%s:%s]\n", a.Name, j.Name)
		put := func(key, v string) error {
			s, ok := iniValue(v)
			if !ok {
				return notExportable("gafferd INI", j.Name, fmt.Sprintf("%s %q", key, clip(v)))
			}
			if s == "" {
				fmt.Fprintf(&b, "%s =\n", key)
			} else {
				fmt.Fprintf(&b, "%s = %s\n", key, s)
			}
			return nil
		}
		quoted := make([]string, len(j.Args))
		for i, arg := range j.Args {
			quoted[i] = ShellQuote(arg)
		}
		errs := []error{put("cmd", j.Cmd)}
		if len(j.Args) > 0 {
			errs = append(errs, put("args", strings.Join(quoted, " ")))
		}
		errs = append(errs, put("cwd", j.Cwd))
		fmt.Fprintf(&b, "numprocesses = %d\n", j.NumProcesses)
		fmt.Fprintf(&b, "os_env = %t\n", j.OSEnv)
		fmt.Fprintf(&b, "redirect_output = %s\n", strings.Join(j.RedirectOutput, ", "))
		if j.RedirectInput {
			fmt.Fprintf(&b, "redirect_input = true\n")
		}
		seen := map[string]string{}
		for _, k := range sortedKeys(j.Env) {
			// INI keys are case-insensitive: PATH and Path would collide.
			if prev, dup := seen[strings.ToLower(k)]; dup {
				errs = append(errs, notExportable("gafferd INI", j.Name, fmt.Sprintf("env %s and %s (keys differing only in case)", prev, k)))
				continue
			}
			seen[strings.ToLower(k)] = k
			errs = append(errs, put("env:"+k, j.Env[k]))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// ---- JSON --------------------------------------------------------------------

func (a *App) exportJSON(w io.Writer, concurrency map[string]int) error {
	jobs, err := a.Jobs(concurrency)
	if err != nil {
		return err
	}
	type jsonJob struct {
		Name           string            `json:"name"`
		Cmd            string            `json:"cmd"`
		Args           []string          `json:"args"`
		Env            map[string]string `json:"env"`
		OSEnv          bool              `json:"os_env"`
		Cwd            string            `json:"cwd"`
		NumProcesses   int               `json:"numprocesses"`
		RedirectOutput []string          `json:"redirect_output"`
		RedirectInput  bool              `json:"redirect_input"`
	}
	out := struct {
		Session string    `json:"session"`
		Jobs    []jsonJob `json:"jobs"`
	}{Session: a.Name, Jobs: []jsonJob{}}
	for _, j := range jobs {
		args := j.Args
		if args == nil {
			args = []string{}
		}
		out.Jobs = append(out.Jobs, jsonJob{j.Name, j.Cmd, args, j.Env, j.OSEnv, j.Cwd, j.NumProcesses, j.RedirectOutput, j.RedirectInput})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ---- command words with $NAME references -------------------------------------

// segment is a piece of a command word: literal text, or a variable
// reference ($NAME or ${NAME}) gaffer would expand at spawn.
type segment struct {
	text string
	ref  bool
}

// segments splits a word as gaffer's expansion reads it ($$ is a literal $).
func segments(w string) []segment {
	var out []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, segment{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(w); i++ {
		if w[i] != '$' || i+1 >= len(w) {
			lit.WriteByte(w[i])
			continue
		}
		switch n := w[i+1]; {
		case n == '$':
			lit.WriteByte('$')
			i++
		case n == '{':
			end := strings.IndexByte(w[i+2:], '}')
			if end < 0 {
				lit.WriteByte('$')
				continue
			}
			flush()
			out = append(out, segment{text: w[i+2 : i+2+end], ref: true})
			i += end + 2
		case n == '_' || n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z':
			j := i + 1
			for j < len(w) && (w[j] == '_' || w[j] >= 'a' && w[j] <= 'z' || w[j] >= 'A' && w[j] <= 'Z' || w[j] >= '0' && w[j] <= '9') {
				j++
			}
			flush()
			out = append(out, segment{text: w[i+1 : j], ref: true})
			i = j - 1
		default:
			lit.WriteByte('$')
		}
	}
	flush()
	return out
}

// argv is a job's program and arguments, unquoted.
func argv(j supervisor.JobConfig) ([]string, error) {
	words, err := supervisor.SplitCommand(j.Cmd)
	if err != nil {
		return nil, err
	}
	return append(words, j.Args...), nil
}

// ---- supervisord.conf --------------------------------------------------------

// hasInlineComment reports whether supervisor's reader would cut s at a
// ';' or '#' that follows whitespace.
func hasInlineComment(s string) bool {
	for i := 1; i < len(s); i++ {
		if (s[i] == ';' || s[i] == '#') && (s[i-1] == ' ' || s[i-1] == '\t') {
			return true
		}
	}
	return false
}

// supervisordEnvValue quotes v for supervisor's environment= parser (a
// non-POSIX shlex, then quotes trimmed from both ends).
func supervisordEnvValue(v string) (string, bool) {
	if strings.ContainsAny(v, "\n\r") || hasInlineComment(v) {
		return "", false
	}
	v = strings.ReplaceAll(v, "%", "%%")
	switch {
	case !strings.Contains(v, `"`) && !strings.HasPrefix(v, "'") && !strings.HasSuffix(v, "'"):
		return `"` + v + `"`, true
	case !strings.Contains(v, `'`):
		return `'` + v + `'`, true
	}
	return "", false
}

func (a *App) exportSupervisord(w io.Writer, concurrency map[string]int) error {
	jobs, err := a.Jobs(concurrency)
	if err != nil {
		return err
	}
	const format = "supervisord.conf"
	var b strings.Builder
	fmt.Fprintf(&b, "; supervisord programs of the Procfile app %q, written by \"gaffer export supervisord\".\n", a.Name)
	fmt.Fprintf(&b, "; Process N of a type is named <program>_<port> and gets that PORT.\n\n[supervisord]\n\n")
	var programs []string
	for _, j := range jobs {
		programs = append(programs, a.Name+"-"+j.Name)
	}
	fmt.Fprintf(&b, "[group:%s]\nprograms = %s\n", a.Name, strings.Join(programs, ","))
	var errs []error
	for k, j := range jobs {
		words, err := argv(j)
		if err != nil {
			return err
		}
		// gaffer expands $NAME in arguments at spawn; supervisor expands
		// %(ENV_NAME)s (its own environment, then the program's).
		quoted := make([]string, len(words))
		for i, word := range words {
			segs := segments(word)
			if i == 0 || !slices.ContainsFunc(segs, func(s segment) bool { return s.ref }) {
				quoted[i] = strings.ReplaceAll(ShellQuote(word), "%", "%%")
				continue
			}
			var s strings.Builder
			for _, seg := range segs {
				if seg.ref {
					s.WriteString("%(ENV_" + seg.text + ")s")
				} else {
					s.WriteString(strings.ReplaceAll(strings.ReplaceAll(seg.text, "%", "%%"), "'", `'\''`))
				}
			}
			quoted[i] = "'" + s.String() + "'"
		}
		command := strings.Join(quoted, " ")
		if strings.ContainsAny(command, "\n\r") || hasInlineComment(command) {
			errs = append(errs, notExportable(format, j.Name, fmt.Sprintf("command %q (a newline, or ';' or '#' after a space)", clip(command))))
		}
		fmt.Fprintf(&b, "\n[program:%s]\n", programs[k])
		fmt.Fprintf(&b, "command = %s\n", command)
		if strings.ContainsAny(j.Cwd, "\n\r") || hasInlineComment(j.Cwd) || strings.TrimSpace(j.Cwd) != j.Cwd {
			errs = append(errs, notExportable(format, j.Name, fmt.Sprintf("directory %q", j.Cwd)))
		}
		fmt.Fprintf(&b, "directory = %s\n", strings.ReplaceAll(j.Cwd, "%", "%%"))
		fmt.Fprintf(&b, "numprocs = %d\n", j.NumProcesses)
		fmt.Fprintf(&b, "numprocs_start = %d\n", a.Port(j.Name, 1))
		fmt.Fprintf(&b, "process_name = %%(program_name)s_%%(process_num)02d\n")
		var env []string
		for _, key := range sortedKeys(j.Env) {
			if key == "PORT" {
				continue
			}
			v, ok := supervisordEnvValue(j.Env[key])
			if !ok {
				errs = append(errs, notExportable(format, j.Name, fmt.Sprintf("env %s=%q", key, clip(j.Env[key]))))
				continue
			}
			env = append(env, key+"="+v)
		}
		env = append(env, `PORT="%(process_num)d"`)
		fmt.Fprintf(&b, "environment = %s\n", strings.Join(env, ","))
		fmt.Fprintf(&b, "autostart = true\nautorestart = true\nstopasgroup = true\nkillasgroup = true\n")
		fmt.Fprintf(&b, "stopwaitsecs = %d\n", seconds(j.GracefulTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// ---- systemd -----------------------------------------------------------------

// systemdQuote writes s as one double-quoted word of a unit file: C escapes
// for '\\', '"' and control characters, '%' doubled (specifiers).
func systemdQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '%':
			b.WriteString("%%")
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (a *App) exportSystemd(concurrency map[string]int) (map[string][]byte, error) {
	jobs, err := a.Jobs(concurrency)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var wants []string
	for _, j := range jobs {
		unit := a.Name + "-" + j.Name
		for n := 1; n <= j.NumProcesses; n++ {
			wants = append(wants, fmt.Sprintf("%s@%d.service", unit, a.Port(j.Name, n)))
		}
		words, err := argv(j)
		if err != nil {
			return nil, err
		}
		// ExecStart needs an absolute path, or a name found in PATH.
		if strings.Contains(words[0], "/") && !filepath.IsAbs(words[0]) {
			words[0] = filepath.Join(j.Cwd, words[0])
		}
		exec := make([]string, len(words))
		for i, word := range words {
			if i == 0 {
				exec[i] = systemdQuote(word)
				continue
			}
			// systemd expands ${NAME} inside a word; $$ is a literal $.
			var s strings.Builder
			for _, seg := range segments(word) {
				if seg.ref {
					s.WriteString("${" + seg.text + "}")
				} else {
					q := systemdQuote(seg.text)
					s.WriteString(strings.ReplaceAll(q[1:len(q)-1], "$", "$$"))
				}
			}
			exec[i] = `"` + s.String() + `"`
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# Process type %q of the Procfile app %q, written by \"gaffer export systemd\".\n", j.Name, a.Name)
		fmt.Fprintf(&b, "# The instance is the port: %s@%d.service listens on PORT=%d.\n", unit, a.Port(j.Name, 1), a.Port(j.Name, 1))
		fmt.Fprintf(&b, "[Unit]\nDescription=%s %s on port %%i\nPartOf=%s.target\nStopWhenUnneeded=yes\n\n", a.Name, j.Name, a.Name)
		fmt.Fprintf(&b, "[Service]\nWorkingDirectory=%s\n", systemdQuote(j.Cwd))
		for _, k := range sortedKeys(j.Env) {
			if k != "PORT" {
				fmt.Fprintf(&b, "Environment=%s\n", systemdQuote(k+"="+j.Env[k]))
			}
		}
		fmt.Fprintf(&b, "Environment=PORT=%%i\nEnvironment=PS=%s.%%i\n", j.Name)
		fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(exec, " "))
		fmt.Fprintf(&b, "Restart=always\nRestartSec=1\nKillMode=mixed\nTimeoutStopSec=%d\n", seconds(j.GracefulTimeout))
		fmt.Fprintf(&b, "StandardInput=null\nSyslogIdentifier=%s.%%i\n", unit)
		files[unit+"@.service"] = []byte(b.String())
	}
	files[a.Name+".target"] = []byte(fmt.Sprintf("# Procfile app %q, written by \"gaffer export systemd\".\n"+
		"# systemctl start %s.target starts every process; stop stops them.\n"+
		"[Unit]\nDescription=%s\nWants=%s\n\n[Install]\nWantedBy=multi-user.target\n",
		a.Name, a.Name, a.Name, strings.Join(wants, " ")))
	return files, nil
}
