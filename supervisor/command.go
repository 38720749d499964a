package supervisor

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
)

// ErrUnterminatedQuote is returned by SplitCommand for a quote left open
// (shlex: "No closing quotation") and for a backslash that ends the command
// with nothing to escape ("No escaped character"); the message says which.
var ErrUnterminatedQuote = errors.New("unterminated quote")

// SplitCommand splits a command line exactly as Python's shlex.split does
// (POSIX mode, no comments), which is what supervisord and gaffer do:
// words are separated by spaces, tabs, CRs and LFs; single quotes keep
// everything; inside double quotes a backslash escapes only " and \ (it
// stays before anything else, "\$" is \$); outside quotes a backslash
// escapes any character, a newline included; quotes join the pieces of a
// word, and empty quotes are an empty word.
func SplitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool // a character or a quote was seen: even "" makes a word
	)
	noEscaped := func(at int) error {
		return fmt.Errorf("%w in %q: no escaped character after the backslash at byte %d", ErrUnterminatedQuote, s, at)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("%w in %q: no closing quotation for the ' at byte %d", ErrUnterminatedQuote, s, i)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			inWord = true
			open := i
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					if i+1 == len(s) {
						return nil, noEscaped(i)
					}
					if s[i+1] == '"' || s[i+1] == '\\' {
						i++
					}
				}
				cur.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("%w in %q: no closing quotation for the \" at byte %d", ErrUnterminatedQuote, s, open)
			}
		case '\\':
			if i+1 == len(s) {
				return nil, noEscaped(i)
			}
			inWord = true
			i++
			cur.WriteByte(s[i])
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// ErrUndefinedVariable is returned when an argument names a variable the
// process environment does not define.
var ErrUndefinedVariable = errors.New("undefined variable")

// expandVars substitutes $NAME and ${NAME} from env ($$ is a literal $). An
// undefined variable is an error, as in gaffer (string.Template.substitute).
func expandVars(s string, env map[string]string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		n := s[i+1]
		switch {
		case n == '$':
			b.WriteByte('$')
			i++
		case n == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteByte('$')
				continue
			}
			name := s[i+2 : i+2+end]
			v, ok := env[name]
			if !ok {
				return "", fmt.Errorf("%w ${%s}", ErrUndefinedVariable, name)
			}
			b.WriteString(v)
			i += end + 2
		case isIdentStart(n):
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			name := s[i+1 : j]
			v, ok := env[name]
			if !ok {
				return "", fmt.Errorf("%w $%s", ErrUndefinedVariable, name)
			}
			b.WriteString(v)
			i = j - 1
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdent(c byte) bool      { return isIdentStart(c) || c >= '0' && c <= '9' }

// osEnv is gafferd's own environment, parsed once per spawn batch rather
// than per process: starting 1,000 jobs would otherwise parse it 1,000 times.
// It is read again when it changed (tests set variables).
func osEnv() map[string]string {
	environ := os.Environ()
	osEnvMu.Lock()
	defer osEnvMu.Unlock()
	if slices.Equal(environ, osEnvRaw) {
		return osEnvMap
	}
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	osEnvRaw, osEnvMap = environ, m
	return m
}

var (
	osEnvMu  sync.Mutex
	osEnvRaw []string
	osEnvMap map[string]string
)

// buildEnv composes a process environment (gaffer-http-api.md §5.3): the job's
// env, then gafferd's own environment on top when os_env, then the session env,
// then a commit's env. A fresh map every time.
func buildEnv(cfg *JobConfig, session, commit map[string]string) map[string]string {
	env := make(map[string]string, len(cfg.Env)+8)
	if cfg.Program != nil {
		// supervisor's order: its own environment, then the program's on top.
		if cfg.OSEnv {
			for k, v := range osEnv() {
				env[k] = v
			}
		}
		for k, v := range cfg.Env {
			env[k] = v
		}
		for k, v := range session {
			env[k] = v
		}
		for k, v := range commit {
			env[k] = v
		}
		return env
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	if cfg.OSEnv {
		for k, v := range osEnv() {
			env[k] = v
		}
	}
	for k, v := range session {
		env[k] = v
	}
	for k, v := range commit {
		env[k] = v
	}
	return env
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// commandLine builds program and argv (without argv[0]) as gaffer does
// (gaffer-http-api.md §5.2), except that shell mode passes the whole cmd as
// the script, as the spec recommends.
func commandLine(cfg *JobConfig, env map[string]string) (prog string, args []string, err error) {
	words, err := SplitCommand(cfg.Cmd)
	if err != nil {
		return "", nil, err
	}
	if len(words) == 0 {
		return "", nil, ErrMissingCmd
	}
	if cfg.Program != nil {
		// supervisor passes the words as they are: no $VAR expansion.
		return words[0], append(words[1:len(words):len(words)], cfg.Args...), nil
	}
	extra := make([]string, len(cfg.Args))
	for i, a := range cfg.Args {
		if extra[i], err = expandVars(a, env); err != nil {
			return "", nil, err
		}
	}
	if cfg.Shell {
		// The whole cmd is the script; extra args become $1, $2, …
		return "/bin/sh", append([]string{"-c", cfg.Cmd, "sh"}, extra...), nil
	}
	prog = words[0]
	for _, w := range words[1:] {
		x, err := expandVars(w, env)
		if err != nil {
			return "", nil, err
		}
		args = append(args, x)
	}
	args = append(args, extra...)
	return prog, args, nil
}
