package procfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Type is one process type of a Procfile.
type Type struct {
	Name    string // "web"
	Command string // the command line as written, trimmed
	Line    int    // line of the (last) definition, from 1
}

// What went wrong, for errors.Is.
var (
	ErrBadName      = errors.New("invalid process type name")
	ErrNoCommand    = errors.New("no command")
	ErrNoEquals     = errors.New("no '=' after the key")
	ErrBadKey       = errors.New("invalid key")
	ErrUnterminated = errors.New("unterminated quote")
	ErrTrailing     = errors.New("text after the closing quote")
	ErrTooLong      = errors.New("line too long")
)

// Error is a problem at one line of a file.
type Error struct {
	File string // "" when unknown
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// maxLine bounds one line (and one .env value), so that a corrupt file
// cannot make a reader hold gigabytes.
const maxLine = 1 << 20

// ParseProcfile reads a Procfile. Errors are *Error without File; the
// caller names the file.
func ParseProcfile(r io.Reader) ([]Type, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var (
		types []Type
		at    = map[string]int{}
		errs  []error
		line  int
	)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || text[0] == '#' {
			continue
		}
		name, cmd, ok := strings.Cut(text, ":")
		if !ok {
			continue // foreman ignores lines that are not entries
		}
		if !validTypeName(name) {
			errs = append(errs, &Error{Line: line, Err: fmt.Errorf("%w %q: use letters, digits, '_' and '-'", ErrBadName, name)})
			continue
		}
		cmd = strings.TrimSpace(cmd)
		if cmd == "" {
			errs = append(errs, &Error{Line: line, Err: fmt.Errorf("%s: %w", name, ErrNoCommand)})
			continue
		}
		if i, dup := at[name]; dup {
			types[i].Command, types[i].Line = cmd, line
			continue
		}
		at[name] = len(types)
		types = append(types, Type{Name: name, Command: cmd, Line: line})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = ErrTooLong
		}
		errs = append(errs, &Error{Line: line + 1, Err: err})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return types, nil
}

func validTypeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
