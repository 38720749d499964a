package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// defaultSection is configparser's default_section; the name is case-sensitive.
const defaultSection = "DEFAULT"

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// pos is where something was written.
type pos struct {
	file string
	line int
}

// entry is one key of a section.
type entry struct {
	name  string // as written (after env:NAME folding), for messages and env names
	value string // raw, before interpolation
	pos   pos
}

type section struct {
	name  string
	pos   pos               // first header
	keys  map[string]*entry // by lower-cased key
	order []string          // lower-cased keys, first definition first
}

func newSection(name string, p pos) *section {
	return &section{name: name, pos: p, keys: map[string]*entry{}}
}

func (s *section) set(key string, e *entry) {
	if _, ok := s.keys[key]; !ok {
		s.order = append(s.order, key)
	}
	s.keys[key] = e
}

// document is the merge of every file read, like one ConfigParser that read
// them all in order: sections keep the order of their first appearance and a
// later file overrides keys of the same section.
type document struct {
	defaults *section
	sections []*section
	byName   map[string]*section
	dialect  dialect
	// warnings are problems the dialect tolerates (lenient duplicates),
	// each "file:line: [section] key: text".
	warnings []string
}

// dialect selects how text is read. The zero value is not used: gaffer
// files get gafferDialect, supervisord.conf files supervisordDialect.
type dialect struct {
	// envKeys reads "env:NAME = v" as the key env:NAME (gaffer's extension).
	envKeys bool
	// inlineComments: a ';' or '#' at the start of a line or after
	// whitespace starts a comment, on every line (Python 3 configparser with
	// inline_comment_prefixes=(';', '#'), as supervisor's
	// UnhosedConfigParser sets it). It truncates values, commands included.
	inlineComments bool
	// lenient is configparser's strict=False: within one file a repeated
	// section is merged and a repeated key overrides; both are warnings
	// here instead of errors.
	lenient bool
}

var (
	gafferDialect      = dialect{envKeys: true}
	supervisordDialect = dialect{inlineComments: true, lenient: true}
)

func newDocument() *document { return newDocumentDialect(gafferDialect) }

func newDocumentDialect(d dialect) *document {
	return &document{defaults: newSection(defaultSection, pos{}), byName: map[string]*section{}, dialect: d}
}

// isSpace is Python's str.isspace, which also counts the ASCII separator
// controls \x1c-\x1f; Python's strip() and the indentation rule use it.
func isSpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

func trim(s string) string { return strings.TrimFunc(s, isSpace) }

// indent counts characters, not bytes, as Python does, so that a multi-byte
// space does not count as deeper indentation than an ASCII one.
func indent(line string) int {
	i := strings.IndexFunc(line, func(r rune) bool { return !isSpace(r) })
	if i < 0 {
		return 0
	}
	return utf8.RuneCountInString(line[:i])
}

// read merges one file into d. It follows Python 3's RawConfigParser._read
// with strict=True, but keeps going after an error so that every problem of
// the file is reported.
func (d *document) read(file string, data []byte) []error {
	text := strings.TrimPrefix(string(data), "\ufeff")
	// Python reads text files with universal newlines.
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	type pending struct {
		e     *entry
		lines []string
	}
	var (
		errs      []error
		cur       *section
		opt       *pending // the key whose value may continue
		optIndent int
		values    []*pending
		seenSec   = map[string]int{}    // section -> header line, this file only
		seenKey   = map[[2]string]int{} // (section, key) -> line, this file only
		noHeader  bool
	)
	fail := func(line int, sec, key string, err error) {
		errs = append(errs, &Error{File: file, Line: line, Section: sec, Key: key, Err: err})
	}
	for i, raw := range strings.Split(text, "\n") {
		lineno := i + 1
		inline := false
		if d.dialect.inlineComments {
			end := inlineCommentStart(raw)
			raw, inline = raw[:end], end < len(raw)
		}
		value := trim(raw)
		// A line left empty by an inline comment is a comment line, not a
		// blank one: configparser does not add it to the value in progress.
		comment := strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";") || inline && value == ""
		if value == "" || comment {
			// A blank line belongs to the value in progress (dropped again if
			// it ends up trailing); a comment line is simply skipped.
			if !comment && opt != nil {
				opt.lines = append(opt.lines, "")
			}
			continue
		}
		ind := indent(raw)
		if opt != nil && ind > optIndent {
			opt.lines = append(opt.lines, value)
			continue
		}
		opt, optIndent = nil, ind
		if name, rest, ok := sectionHeader(value); ok {
			if name == defaultSection {
				cur = d.defaults
				if cur.pos.file == "" {
					cur.pos = pos{file, lineno}
				}
			} else {
				if first, dup := seenSec[name]; dup && d.dialect.lenient {
					d.warnings = append(d.warnings, location(file, lineno, name, "")+
						fmt.Sprintf("section repeated (first on line %d); the two are merged", first))
				} else if dup {
					fail(lineno, name, "", fmt.Errorf("%w section (first on line %d); merge the two", ErrDuplicate, first))
				} else {
					seenSec[name] = lineno
				}
				cur = d.byName[name]
				if cur == nil {
					cur = newSection(name, pos{file, lineno})
					d.sections = append(d.sections, cur)
					d.byName[name] = cur
				}
			}
			if rest = trim(rest); rest != "" && rest[0] != '#' && rest[0] != ';' {
				fail(lineno, name, "", fmt.Errorf("%w: text after the section header: %q", ErrSyntax, rest))
			}
			continue
		}
		if cur == nil {
			if !noHeader {
				fail(lineno, "", "", fmt.Errorf("%w: %q before the first [section] header", ErrSyntax, value))
				noHeader = true
			}
			continue
		}
		name, val, ok := splitOption(value, d.dialect.envKeys)
		if !ok {
			fail(lineno, cur.name, "", fmt.Errorf("%w: %q is not a [section] header, a key = value line or a comment", ErrSyntax, value))
			continue
		}
		key := strings.ToLower(name)
		if first, dup := seenKey[[2]string{cur.name, key}]; dup && d.dialect.lenient {
			d.warnings = append(d.warnings, location(file, lineno, cur.name, name)+
				fmt.Sprintf("key repeated (first on line %d); this later value wins", first))
		} else if dup {
			fail(lineno, cur.name, name, fmt.Errorf("%w key (first on line %d)", ErrDuplicate, first))
		} else {
			seenKey[[2]string{cur.name, key}] = lineno
		}
		e := &entry{name: name, pos: pos{file, lineno}}
		cur.set(key, e)
		opt = &pending{e: e, lines: []string{val}}
		values = append(values, opt)
	}
	for _, p := range values {
		p.e.value = strings.TrimRightFunc(strings.Join(p.lines, "\n"), isSpace)
	}
	return errs
}

// sectionHeader matches configparser's SECTCRE, \[(?P<header>[^]]+)\]: the
// name runs to the first ']', and whatever follows is returned as rest.
func sectionHeader(line string) (name, rest string, ok bool) {
	if !strings.HasPrefix(line, "[") {
		return "", "", false
	}
	end := strings.IndexByte(line, ']')
	if end < 2 {
		return "", "", false
	}
	return line[1:end], line[end+1:], true
}

// inlineCommentStart is where configparser's inline comment search ends
// line (len(line) when it finds none). It repeats configparser's rounds
// exactly: each round moves every prefix to its next occurrence and stops
// at the first round where one follows whitespace (or starts the line), so
// the result is not always the leftmost such occurrence.
func inlineCommentStart(line string) int {
	const none = -1
	next := map[byte]int{';': none, '#': none}
	for len(next) > 0 {
		start := len(line)
		for _, p := range []byte{';', '#'} { // fixed order: deterministic
			from, ok := next[p]
			if !ok {
				continue
			}
			i := strings.IndexByte(line[from+1:], p)
			if i < 0 {
				delete(next, p)
				continue
			}
			i += from + 1
			next[p] = i
			if prev, _ := utf8.DecodeLastRuneInString(line[:i]); i == 0 || isSpace(prev) {
				start = min(start, i)
			}
		}
		if start < len(line) {
			return start
		}
	}
	return len(line)
}

// splitOption matches configparser's OPTCRE: the key ends at the first '='
// or ':'. With envKeys, "env:NAME = value" is the exception: configparser
// would split it at the ':' (key "env"), which makes per-variable keys
// impossible, so a key "env" followed by ':' absorbs the name up to the
// next delimiter.
func splitOption(line string, envKeys bool) (key, value string, ok bool) {
	i := strings.IndexAny(line, "=:")
	if i < 0 {
		return "", "", false
	}
	key, value = trim(line[:i]), trim(line[i+1:])
	if key == "" {
		return "", "", false
	}
	if envKeys && line[i] == ':' && strings.EqualFold(key, "env") {
		if j := strings.IndexAny(value, "=:"); j > 0 {
			if name := trim(value[:j]); name != "" {
				return key + ":" + name, trim(value[j+1:]), true
			}
		}
	}
	return key, value, true
}

// lookup finds key (lower-cased) in sec, else in [DEFAULT]. sec may be nil.
func (d *document) lookup(sec *section, key string) *entry {
	if sec != nil {
		if e := sec.keys[key]; e != nil {
			return e
		}
	}
	return d.defaults.keys[key]
}

// get returns the interpolated value of e read in the context of sec, as
// configparser's BasicInterpolation does: references are resolved in sec,
// then [DEFAULT], even for a value that was inherited from [DEFAULT].
func (d *document) get(sec *section, e *entry) (string, error) {
	if !strings.Contains(e.value, "%") {
		return e.value, nil
	}
	var b strings.Builder
	if err := d.interpolate(sec, e.value, 1, &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (d *document) interpolate(sec *section, rest string, depth int, b *strings.Builder) error {
	if depth > maxInterpolationDepth {
		return fmt.Errorf("%w: more than %d nested %%(name)s references (a loop?)", ErrInterpolation, maxInterpolationDepth)
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end <= 2 || !strings.HasPrefix(rest[end:], ")s") {
				return fmt.Errorf("%w: bad reference %q: want %%(name)s", ErrInterpolation, rest)
			}
			name := strings.ToLower(rest[2:end])
			rest = rest[end+2:]
			ref := d.lookup(sec, name)
			if ref == nil {
				where := "[DEFAULT]"
				if sec != nil && sec != d.defaults {
					where = "[" + sec.name + "] or [DEFAULT]"
				}
				return fmt.Errorf("%w: %%(%s)s: no key %q in %s", ErrInterpolation, name, name, where)
			}
			if !strings.Contains(ref.value, "%") {
				b.WriteString(ref.value)
			} else if err := d.interpolate(sec, ref.value, depth+1, b); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: '%%' must be followed by '%%' or '(' (write %%%% for a literal %%): %q", ErrInterpolation, rest)
		}
	}
	return nil
}
