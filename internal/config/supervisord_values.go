package config

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gafferhq/gaffer/supervisor"
)

// This file holds supervisor's value types (supervisor/datatypes.py), each
// accepting what the Python original accepts unless said otherwise.

// pyInt is Python's int(): surrounding whitespace, an optional sign,
// decimal digits with single underscores between them. Values beyond int64
// are errors (Python has no limit).
func pyInt(s string) (int64, error) {
	t := trim(s)
	digits := strings.TrimLeft(t, "+-")
	ok := len(t)-len(digits) <= 1 && digits != "" && digits[0] != '_' && digits[len(digits)-1] != '_' &&
		!strings.Contains(digits, "__")
	n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 64)
	if !ok || err != nil {
		if ok && strings.Trim(digits, "0123456789_") == "" {
			return 0, fmt.Errorf("%w %q: out of range", ErrInvalidInt, s)
		}
		return 0, fmt.Errorf("%w %q", ErrInvalidInt, s)
	}
	return n, nil
}

// pyIntRange is pyInt within [lo, hi]; the error names the bounds.
func pyIntRange(s string, lo, hi int64) (int, error) {
	n, err := pyInt(s)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w %s: want %d to %d", ErrInvalidValue, s, lo, hi)
	}
	return int(n), nil
}

// seconds bounds startsecs and stopwaitsecs (whole seconds in supervisor)
// to what supervisor.JobConfig.Validate accepts: one week.
const maxSecondsValue = 7 * 24 * 3600

// byteSize is datatypes.byte_size: an integer with an optional KB, MB or GB
// suffix (any case, ×1024ⁿ). Negative sizes, which Python takes, are errors.
func byteSize(s string) (int64, error) {
	mult := int64(1)
	t := strings.ToLower(s)
	for suffix, m := range map[string]int64{"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if strings.HasSuffix(t, suffix) {
			t, mult = t[:len(t)-2], m
			break
		}
	}
	n, err := pyInt(t)
	if err != nil {
		return 0, fmt.Errorf("%w %q: want bytes, e.g. 1024, 50KB, 50MB or 1GB", ErrInvalidValue, s)
	}
	if n < 0 {
		return 0, fmt.Errorf("%w %q: a size cannot be negative", ErrInvalidValue, s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w %q: too large", ErrInvalidValue, s)
	}
	return n * mult, nil
}

// octal is datatypes.octal_type (Python's int(s, 8), "0o" prefix allowed),
// limited to max: umask and chmod are file modes.
func octal(s string, max int64) (int, error) {
	t := trim(s)
	if len(t) > 2 && t[0] == '0' && (t[1] == 'o' || t[1] == 'O') {
		t = t[2:]
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 8, 64)
	if err != nil || t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") || t[0] == '+' || t[0] == '-' {
		return 0, fmt.Errorf("%w %q: want an octal number such as 022", ErrInvalidValue, s)
	}
	if n > max {
		return 0, fmt.Errorf("%w %q: at most %#o", ErrInvalidValue, s, max)
	}
	return int(n), nil
}

// exitCodes is datatypes.list_of_exitcodes: comma-separated integers
// 0-255; an empty value is an empty list (no exit is expected).
func exitCodes(s string) ([]int, error) {
	if s == "" {
		return []int{}, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := pyInt(p)
		if err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("%w %q: want comma-separated exit codes 0-255, e.g. 0,2", ErrInvalidValue, s)
		}
		out = append(out, int(n))
	}
	return out, nil
}

// autoRestart is datatypes.auto_restart.
func autoRestart(s string) (supervisor.AutoRestart, error) {
	switch l := strings.ToLower(s); {
	case l == "unexpected":
		return supervisor.RestartUnexpected, nil
	case l == "true" || l == "yes" || l == "on" || l == "1":
		return supervisor.RestartAlways, nil
	case l == "false" || l == "no" || l == "off" || l == "0":
		return supervisor.RestartNever, nil
	}
	return 0, fmt.Errorf("%w %q: want true, false or unexpected", ErrInvalidValue, s)
}

// logLevels is loggers.LevelsByDescription: note "warn", not "warning".
var supervisordLogLevels = []string{"critical", "error", "warn", "info", "debug", "trace", "blather"}

// checkName is datatypes.process_or_group_name plus brackets and any
// whitespace (supervisor forbids ' ', ':' and '/'): names travel in event
// headers ("processname:x groupname:y") and in "group:name" specs.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s: empty name: %w", what, supervisor.ErrBadName)
	}
	for _, r := range name {
		if r == ':' || r == '/' || r == '[' || r == ']' || isSpace(r) || r == utf8.RuneError {
			return fmt.Errorf("%s %q: %q is not allowed in a name: %w", what, name, r, supervisor.ErrBadName)
		}
	}
	return nil
}

// checkGroupName adds gaffer's own rule to checkName: no '.' in a group
// name. supervisord accepts one, but a group is a gaffer session, and gaffer
// splits a full job name (session.job: the REST API, gafferctl, events) at
// its first '.', so "a.b" + "x" would read back as "a" + "b.x". A program
// inside a group may have dots: "g" + "x.y" is "g.x.y", read back right.
func checkGroupName(what, name string) error {
	if err := checkName(what, name); err != nil {
		return err
	}
	if !strings.Contains(name, ".") {
		return nil
	}
	var subject, fix string
	switch what {
	case "group":
		subject = fmt.Sprintf("group name %q", name)
		fix = fmt.Sprintf("rename the group (e.g. %s)", strings.ReplaceAll(name, ".", "_"))
	case "eventlistener":
		subject = fmt.Sprintf("event listener %q (a listener pool is a group)", name)
		fix = fmt.Sprintf("rename the pool (e.g. %s)", strings.ReplaceAll(name, ".", "_"))
	default:
		subject = fmt.Sprintf("program %q (a program outside any [group:…] is its own group)", name)
		fix = "rename it, or list it in the programs of a [group:…] whose name has no '.'"
	}
	return fmt.Errorf("%s has a '.': supervisord accepts that, gafferd cannot, because a group is a gaffer session "+
		"and gaffer splits a full job name (session.job) at its first '.'; %s: %w", subject, fix, supervisor.ErrBadName)
}

// inetAddress is datatypes.inet_address: "host:port", "*:port", ":port" or
// "port"; it returns "host:port" with host lower-cased, "" for all
// interfaces. Like supervisor it splits at the first ':', so IPv6 hosts
// cannot be written.
func inetAddress(s string) (string, error) {
	host, port, found := strings.Cut(s, ":")
	if !found {
		host, port = "", s
	}
	n, err := pyInt(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w %q: want host:port, *:port or :port with a port from 1 to 65535", ErrInvalidValue, s)
	}
	host = strings.ToLower(host)
	if host == "*" {
		host = ""
	}
	return host + ":" + strconv.Itoa(int(n)), nil
}

// checkPassword accepts a plain password or "{SHA}" followed by the hex
// SHA-1 of the password, as supervisor's HTTP server compares them.
// Supervisor takes a malformed hash and then never matches; here it is an error.
func checkPassword(p string) error {
	if h, ok := strings.CutPrefix(p, "{SHA}"); ok {
		if b, err := hex.DecodeString(h); err != nil || len(b) != 20 {
			return fmt.Errorf("%w: {SHA} must be followed by the 40 hex digits of a SHA-1 hash", ErrInvalidValue)
		}
	}
	return nil
}

// checkOwner accepts chown's "user" or "user:group". The names are resolved
// when the socket is created, not here.
func checkOwner(s string) error {
	u, g, hasGroup := strings.Cut(s, ":")
	if trim(u) == "" || hasGroup && trim(g) == "" {
		return fmt.Errorf("%w %q: want user or user:group", ErrInvalidValue, s)
	}
	return nil
}

// checkURL is datatypes.url: a scheme and a host or path (unix:///path).
func checkURL(s string) error {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(s), "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#") || rest == "" {
		return fmt.Errorf("%w %q: want a URL such as http://localhost:9001 or unix:///path/to/socket", ErrInvalidValue, s)
	}
	return nil
}

// envPairs is datatypes.dict_of_key_value_pairs: KEY=val,KEY2="v, 2".
// It is exactly the original, quirks included, because configs depend on
// them: Python's shlex in non-POSIX mode splits the text into tokens
// (words of letters, digits and _/.+-():, quoted strings kept with their
// quotes, any other character alone, '#' to the end of the line is a
// comment); then tokens are taken four at a time as key, '=', value and a
// separator that is never checked (so ';' separates like ','). Values lose
// their surrounding quotes. A value with other characters ($, *, ~, spaces)
// must be quoted.
//
// dropped lists the separators that were not commas: text that supervisor
// silently discards, as in A=$HOME (A is "$", HOME is dropped), worth a warning.
func envPairs(s string) (env map[string]string, dropped []string, err error) {
	toks, err := shlexNonPOSIX(s)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %w", ErrInvalidValue, s, err)
	}
	env = map[string]string{}
	for i := 0; i < len(toks); i += 4 {
		if i+3 > len(toks) || toks[i+1] != "=" {
			return nil, nil, fmt.Errorf("%w %q: want KEY=value pairs separated by commas; quote values that hold other characters than letters, digits and _/.+-():",
				ErrInvalidValue, s)
		}
		env[toks[i]] = strings.Trim(toks[i+2], `'"`)
		if i+3 < len(toks) && toks[i+3] != "," {
			dropped = append(dropped, toks[i+3])
		}
	}
	return env, dropped, nil
}

// droppedWarning explains what envPairs dropped.
func droppedWarning(dropped []string) string {
	return fmt.Sprintf("supervisor reads %q as separators and drops them (a value holding other characters than letters, digits and _/.+-(): must be quoted)",
		dropped)
}

func isShlexWordChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_/.+-():", r)
}

func isShlexSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }

// shlexNonPOSIX lists the tokens of Python's shlex.shlex(s) (posix=False)
// with wordchars += '/.+-():', as datatypes.dict_of_key_value_pairs uses it.
func shlexNonPOSIX(s string) ([]string, error) {
	var (
		toks  []string
		tok   strings.Builder
		state = ' ' // ' ' between tokens, 'a' in a word, a quote inside quotes
		rs    = []rune(s)
	)
	skipLine := func(i int) int { // readline(): up to and including '\n'
		for i < len(rs) && rs[i] != '\n' {
			i++
		}
		return i
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch state {
		case ' ':
			switch {
			case isShlexSpace(r):
			case r == '#':
				i = skipLine(i + 1)
			case isShlexWordChar(r):
				tok.WriteRune(r)
				state = 'a'
			case r == '\'' || r == '"':
				tok.WriteRune(r)
				state = r
			default:
				toks = append(toks, string(r))
			}
		case 'a':
			switch {
			case isShlexSpace(r):
				toks = append(toks, tok.String())
				tok.Reset()
				state = ' '
			case r == '#':
				// Non-POSIX shlex skips the rest of the line and goes on
				// with the same word on the next line.
				i = skipLine(i + 1)
			case isShlexWordChar(r) || r == '\'' || r == '"':
				tok.WriteRune(r)
			default:
				// Pushed back, then returned alone as the next token.
				toks = append(toks, tok.String(), string(r))
				tok.Reset()
				state = ' '
			}
		default: // inside quotes
			tok.WriteRune(r)
			if r == state {
				toks = append(toks, tok.String())
				tok.Reset()
				state = ' '
			}
		}
	}
	switch state {
	case 'a':
		toks = append(toks, tok.String())
	case '\'', '"':
		return nil, fmt.Errorf("no closing quotation")
	}
	return toks, nil
}

// suggest returns the known name closest to got (at most 2 edits), or "".
func suggest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(got, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
