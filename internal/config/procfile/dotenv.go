package procfile

import (
	"fmt"
	"io"
	"strings"
)

// ParseDotenv reads one .env file named name (for messages) into env, which
// holds the variables of earlier files and receives this file's (later
// wins). References are resolved in env, then with lookupOS (nil = none).
// On error env may hold the variables before the bad line.
func ParseDotenv(name string, r io.Reader, env map[string]string, lookupOS func(string) (string, bool)) error {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > 64<<20 {
		return fmt.Errorf("%s: larger than 64 MiB", name)
	}
	p := &dotenv{file: name, src: strings.ReplaceAll(strings.TrimPrefix(string(data), "\ufeff"), "\r\n", "\n"),
		line: 1, env: env, lookup: lookupOS}
	return p.parse()
}

type dotenv struct {
	file   string
	src    string
	i      int // read position in src
	line   int // line of src[i]
	env    map[string]string
	lookup func(string) (string, bool)
}

func (p *dotenv) fail(line int, err error) error { return &Error{File: p.file, Line: line, Err: err} }

// restOfLine returns the text up to the end of the line and moves past it.
func (p *dotenv) restOfLine() string {
	j := strings.IndexByte(p.src[p.i:], '\n')
	var s string
	if j < 0 {
		s, p.i = p.src[p.i:], len(p.src)
	} else {
		s, p.i = p.src[p.i:p.i+j], p.i+j+1
		p.line++
	}
	return s
}

func (p *dotenv) parse() error {
	for p.i < len(p.src) {
		start := p.line
		// Look at the line without consuming it: a quoted value may go on.
		j := strings.IndexByte(p.src[p.i:], '\n')
		if j < 0 {
			j = len(p.src) - p.i
		}
		text := strings.TrimLeft(p.src[p.i:p.i+j], " \t")
		if strings.TrimSpace(text) == "" || text[0] == '#' {
			p.restOfLine()
			continue
		}
		if rest, ok := strings.CutPrefix(text, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			text = strings.TrimLeft(rest, " \t")
		}
		eq := strings.IndexByte(text, '=')
		if eq < 0 {
			return p.fail(start, fmt.Errorf("%w in %q: want KEY=VALUE", ErrNoEquals, clip(strings.TrimSpace(text))))
		}
		key := strings.TrimRight(text[:eq], " \t")
		if !validKey(key) {
			return p.fail(start, fmt.Errorf("%w %q: use letters, digits, '_', '.' and '-', not starting with a digit", ErrBadKey, clip(key)))
		}
		// Move to the value: it starts after '=' and any blanks.
		p.i += j - len(text) + eq + 1
		for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
			p.i++
		}
		v, err := p.value(start)
		if err != nil {
			return err
		}
		p.env[key] = v
	}
	return nil
}

// value reads a value starting at p.i and the rest of its (last) line.
func (p *dotenv) value(start int) (string, error) {
	if p.i >= len(p.src) {
		return "", nil
	}
	switch q := p.src[p.i]; q {
	case '\'', '"':
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.src) {
				return "", p.fail(start, fmt.Errorf("%w: %c opened here is never closed", ErrUnterminated, q))
			}
			if b.Len() > maxLine {
				return "", p.fail(start, fmt.Errorf("%w: value longer than %d bytes", ErrTooLong, maxLine))
			}
			c := p.src[p.i]
			switch {
			case c == q:
				p.i++
				rest := p.restOfLine()
				if t := strings.TrimLeft(rest, " \t"); t != "" && (t[0] != '#' || t == rest) {
					return "", p.fail(p.lineOf(start, rest), fmt.Errorf("%w: %q", ErrTrailing, clip(t)))
				}
				return b.String(), nil
			case c == '\n':
				p.line++
				b.WriteByte(c)
				p.i++
			case q == '"' && c == '\\' && p.i+1 < len(p.src):
				p.i += 2
				switch n := p.src[p.i-1]; n {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case '"', '\\', '$':
					b.WriteByte(n)
				default:
					b.WriteByte('\\')
					p.i-- // the next character is read normally
				}
			case q == '"' && c == '$':
				p.i += p.expand(p.src[p.i:], &b)
			default:
				b.WriteByte(c)
				p.i++
			}
		}
	}
	raw := p.restOfLine()
	// A comment starts at '#' after whitespace.
	for k := 1; k < len(raw); k++ {
		if raw[k] == '#' && (raw[k-1] == ' ' || raw[k-1] == '\t') {
			raw = raw[:k]
			break
		}
	}
	raw = strings.TrimSpace(raw)
	var b strings.Builder
	for k := 0; k < len(raw); {
		switch {
		case raw[k] == '\\' && k+1 < len(raw) && raw[k+1] == '$':
			b.WriteByte('$')
			k += 2
		case raw[k] == '$':
			k += p.expand(raw[k:], &b)
		default:
			b.WriteByte(raw[k])
			k++
		}
	}
	return b.String(), nil
}

// lineOf is the line holding rest, which restOfLine just returned: the
// line before the current one unless the input ended.
func (p *dotenv) lineOf(start int, rest string) int {
	if p.i == len(p.src) && !strings.HasSuffix(p.src, "\n") {
		return p.line
	}
	return max(start, p.line-1)
}

// expand resolves the reference at the start of s (s[0] == '$') into b and
// returns the bytes it used. A '$' that starts no reference is kept.
func (p *dotenv) expand(s string, b *strings.Builder) int {
	if len(s) > 1 && s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 || strings.IndexByte(s[:end], '\n') >= 0 {
			b.WriteByte('$')
			return 1
		}
		name, def, hasDef := strings.Cut(s[2:end], ":-")
		if !validKey(name) {
			b.WriteByte('$')
			return 1
		}
		v, ok := p.get(name)
		if hasDef && (!ok || v == "") {
			v = def
		}
		b.WriteString(v)
		return end + 1
	}
	n := 1
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 1 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 1 {
		b.WriteByte('$')
		return 1
	}
	v, _ := p.get(s[1:n])
	b.WriteString(v)
	return n
}

func (p *dotenv) get(name string) (string, bool) {
	if v, ok := p.env[name]; ok {
		return v, true
	}
	if p.lookup != nil {
		return p.lookup(name)
	}
	return "", false
}

func validKey(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// clip shortens s for a message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
