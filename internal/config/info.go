package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// infoNode is one key of a Boost property-tree INFO document (the format
// of gaggled's config): a key, an optional value, and children when the key
// opens a block. Duplicate keys are kept in order; lookups take the first,
// as property_tree's get does.
type infoNode struct {
	key, value string
	pos        pos
	block      bool // written with braces (possibly empty)
	children   []*infoNode
}

// child returns the first child named key, or nil.
func (n *infoNode) child(key string) *infoNode {
	for _, c := range n.children {
		if c.key == key {
			return c
		}
	}
	return nil
}

// Limits of the INFO reader: include depth and total size read, so that a
// file including itself or a huge tree is an error, not a hang.
const (
	maxInfoIncludeDepth = 16
	maxInfoBytes        = 64 << 20
	maxInfoNesting      = 100
)

// infoReader reads INFO text into a tree. The syntax (boost/property_tree
// detail/info_parser_read.hpp):
//
//   - A line holds "key", "key value", either followed by "{" to open a
//     block of children, or a lone "{" (the block of the key on the line
//     before) or "}". "{" and "}" may also follow a key on the same line,
//     so "depends { progx }" is one block with one child.
//   - Keys and values are words (up to blank, "{", "}" or ";") or
//     double-quoted strings with C escapes (\0 \a \b \f \n \r \t \v \" \'
//     \\); a quoted value ending a line with "\" continues with the next
//     line's quoted string.
//   - ";" starts a comment to the end of the line (outside quotes).
//   - "#include "file"" (or an unquoted name) splices in another file at
//     the current level, relative to the including file's directory.
type infoReader struct {
	fs           fileSystem
	skipIncludes bool     // for detection: do not read other files
	files        []string // every file read, in order
	size         int
}

// infoError is a syntax problem at a line.
func infoError(p pos, format string, args ...any) error {
	return &Error{File: p.file, Line: p.line, Err: fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, args...)...)}
}

// read parses data (the content of file) into root's children.
func (r *infoReader) read(file string, data []byte, root *infoNode, depth int) error {
	r.files = append(r.files, file)
	r.size += len(data)
	if r.size > maxInfoBytes {
		return &Error{File: file, Err: fmt.Errorf("%w: more than %d bytes in the config and its includes", ErrInvalidValue, maxInfoBytes)}
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(text, "\n")
	stack := []*infoNode{root}
	var last *infoNode // the last key of the current level, for a "{" on the next line
	for i := 0; i < len(lines); i++ {
		p := pos{file, i + 1}
		s := &infoLine{text: lines[i]}
		s.skipBlank()
		if s.done() {
			continue
		}
		if s.peek() == '#' {
			if err := r.directive(file, p, s, stack[len(stack)-1], depth); err != nil {
				return err
			}
			last = nil
			continue
		}
		for !s.done() {
			switch s.peek() {
			case '{':
				s.i++
				if last == nil {
					return infoError(p, "\"{\" without a key before it")
				}
				if len(stack) > maxInfoNesting {
					return infoError(p, "blocks nested more than %d deep", maxInfoNesting)
				}
				last.block = true
				stack = append(stack, last)
				last = nil
			case '}':
				s.i++
				if len(stack) == 1 {
					return infoError(p, "\"}\" without an open block")
				}
				stack = stack[:len(stack)-1]
				last = nil
			default:
				key, err := s.token(p)
				if err != nil {
					return err
				}
				n := &infoNode{key: key, pos: p}
				s.skipBlank()
				if !s.done() && s.peek() != '{' && s.peek() != '}' {
					if n.value, err = s.token(p); err != nil {
						return err
					}
					// A quoted value may continue: "a" \ on the next line "b".
					for s.cont {
						i++
						if i >= len(lines) {
							return infoError(p, "a line ends with \\ but no line follows")
						}
						p = pos{file, i + 1}
						s = &infoLine{text: lines[i]}
						s.skipBlank()
						if s.done() || s.peek() != '"' {
							return infoError(p, "a continued value must go on with a quoted string")
						}
						more, err := s.token(p)
						if err != nil {
							return err
						}
						n.value += more
					}
				}
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
				last = n
				s.skipBlank()
				if !s.done() && s.peek() != '{' && s.peek() != '}' {
					return infoError(p, "unexpected %q after %s (a value with blanks needs double quotes)", s.rest(), key)
				}
			}
			s.skipBlank()
		}
	}
	if len(stack) > 1 {
		open := stack[len(stack)-1]
		return infoError(pos{file, len(lines)}, "block %s (line %d) is not closed with \"}\"", open.key, open.pos.line)
	}
	return nil
}

// directive handles a "#" line: only #include exists.
func (r *infoReader) directive(file string, p pos, s *infoLine, parent *infoNode, depth int) error {
	s.i++
	word := s.word()
	if word != "include" {
		return infoError(p, "unknown directive #%s (only #include \"file\" exists; comments start with ;)", word)
	}
	s.skipBlank()
	if s.done() {
		return infoError(p, "#include needs a file name")
	}
	name, err := s.token(p)
	if err != nil {
		return err
	}
	if s.skipBlank(); !s.done() || name == "" {
		return infoError(p, "#include takes one file name")
	}
	if r.skipIncludes {
		return nil
	}
	if depth >= maxInfoIncludeDepth {
		return infoError(p, "#include %s: includes nested more than %d deep (does a file include itself?)", name, maxInfoIncludeDepth)
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(file), path)
	}
	data, err := r.fs.readFile(path)
	if err != nil {
		return &Error{File: p.file, Line: p.line, Key: "#include", Err: err}
	}
	return r.read(path, data, parent, depth+1)
}

// infoLine is a cursor over one line.
type infoLine struct {
	text string
	i    int
	cont bool // the last quoted token was followed by a continuation "\"
}

func (s *infoLine) done() bool { return s.i >= len(s.text) || s.text[s.i] == ';' }
func (s *infoLine) peek() byte { return s.text[s.i] }
func (s *infoLine) rest() string {
	r := s.text[s.i:]
	if j := strings.IndexByte(r, ';'); j >= 0 {
		r = r[:j]
	}
	return strings.TrimRight(r, " \t")
}

func (s *infoLine) skipBlank() {
	for s.i < len(s.text) && (s.text[s.i] == ' ' || s.text[s.i] == '\t' || s.text[s.i] == '\r' || s.text[s.i] == '\v' || s.text[s.i] == '\f') {
		s.i++
	}
}

// word reads a bare word: up to a blank, brace, quote or comment.
func (s *infoLine) word() string {
	start := s.i
	for s.i < len(s.text) && !strings.ContainsRune(" \t\r\v\f{};\"", rune(s.text[s.i])) {
		s.i++
	}
	return s.text[start:s.i]
}

// token reads a word or a quoted string.
func (s *infoLine) token(p pos) (string, error) {
	s.cont = false
	if s.peek() != '"' {
		w := s.word()
		if w == "" {
			return "", infoError(p, "unexpected %q", s.rest())
		}
		if s.i < len(s.text) && s.text[s.i] == '"' {
			return "", infoError(p, "a quote inside the word %s", w)
		}
		return w, nil
	}
	s.i++
	var b strings.Builder
	for {
		if s.i >= len(s.text) {
			return "", infoError(p, "no closing quote")
		}
		c := s.text[s.i]
		s.i++
		switch c {
		case '"':
			// A lone "\" after the string continues it on the next line.
			j := s.i
			for j < len(s.text) && (s.text[j] == ' ' || s.text[j] == '\t') {
				j++
			}
			if j < len(s.text) && s.text[j] == '\\' {
				k := j + 1
				for k < len(s.text) && (s.text[k] == ' ' || s.text[k] == '\t' || s.text[k] == '\r') {
					k++
				}
				if k == len(s.text) {
					s.i, s.cont = k, true
				}
			}
			return b.String(), nil
		case '\\':
			if s.i >= len(s.text) {
				return "", infoError(p, "no closing quote (a string cannot span lines; end it and continue with \\)")
			}
			e := s.text[s.i]
			s.i++
			r, ok := infoEscapes[e]
			if !ok {
				return "", infoError(p, "unknown escape \\%c (want \\0 \\a \\b \\f \\n \\r \\t \\v \\\" \\' \\\\)", e)
			}
			b.WriteByte(r)
		default:
			b.WriteByte(c)
		}
	}
}

var infoEscapes = map[byte]byte{'0': 0, 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
	'v': '\v', '"': '"', '\'': '\'', '\\': '\\'}

// parseInfo reads an INFO file and its includes.
func (fsys fileSystem) parseInfo(name string, data []byte) (*infoNode, []string, error) {
	r := &infoReader{fs: fsys}
	root := &infoNode{block: true}
	if err := r.read(name, data, root, 0); err != nil {
		return nil, r.files, err
	}
	return root, r.files, nil
}
