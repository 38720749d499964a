package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFormatWidth bounds a %-format width or precision. Python accepts up to
// the size of memory; a config never needs more than this, and a fuzzer
// must not make us allocate gigabytes.
const maxFormatWidth = 4096

// errUnknownName is returned by pyFormat for a %(name) that lookup does not
// know; the caller turns it into a message listing the available names.
type errUnknownName struct{ name string }

func (e *errUnknownName) Error() string { return fmt.Sprintf("unknown name %q", e.name) }

// pyFormat is Python's "s % mapping", which supervisor applies to option
// values (options.py expand): every conversion takes a %(name) key, which
// lookup resolves to a string or an int. It implements the flags #0- +,
// width, precision and the conversions d i u o x X e E f F g G c s r a, with
// Python's results (e.g. "%(n)05.3d" zero-pads past the precision). '*'
// widths and conversions without a key are errors: with a mapping, Python
// would format the mapping itself or fail. An output longer than limit
// bytes is an error (widths make a value grow).
func pyFormat(s string, lookup func(string) (any, bool), limit int) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		if s == "" {
			return "", fmt.Errorf("%w: incomplete format: a %% at the end (write %%%% for a literal %%)", ErrInterpolation)
		}
		if s[0] == '%' {
			b.WriteByte('%')
			s = s[1:]
			continue
		}
		if s[0] != '(' {
			return "", fmt.Errorf("%w: %%%s: want %%(name)s (or %%%% for a literal %%)", ErrInterpolation, clip(s))
		}
		// Python counts nested parentheses in the key.
		depth, j := 1, 1
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		if depth > 0 {
			return "", fmt.Errorf("%w: incomplete format key %%%s: no closing ')'", ErrInterpolation, clip(s))
		}
		key := s[1 : j-1]
		spec := "%" + s[:j]
		s = s[j:]
		v, ok := lookup(key)
		if !ok {
			return "", &errUnknownName{key}
		}
		var f fmtSpec
		for s != "" && strings.IndexByte("#0- +", s[0]) >= 0 {
			f.set(s[0])
			s = s[1:]
		}
		var err error
		if f.width, s, err = fmtNumber(s, spec, "width"); err != nil {
			return "", err
		}
		f.prec = -1
		if strings.HasPrefix(s, ".") {
			if f.prec, s, err = fmtNumber(s[1:], spec, "precision"); err != nil {
				return "", err
			}
		}
		s = strings.TrimLeft(s, "hlL") // length modifiers, ignored by Python
		if s == "" {
			return "", fmt.Errorf("%w: incomplete format %s: no conversion (such as s or d) after it", ErrInterpolation, spec)
		}
		conv, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		out, err := f.format(conv, v)
		if err != nil {
			return "", fmt.Errorf("%w: %s%c: %w", ErrInterpolation, spec, conv, err)
		}
		if b.Len()+len(out)+len(s) > limit {
			return "", fmt.Errorf("%w: the expanded text is longer than %d bytes", ErrInterpolation, limit)
		}
		b.WriteString(out)
	}
}

// clip shortens the rest of a value for a message.
func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// fmtNumber reads a width or precision: digits (none = 0).
func fmtNumber(s, spec, what string) (int, string, error) {
	if strings.HasPrefix(s, "*") {
		return 0, s, fmt.Errorf("%w: %s*: a '*' %s needs a positional argument, which supervisor never passes", ErrInterpolation, spec, what)
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, nil
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n > maxFormatWidth {
		return 0, s, fmt.Errorf("%w: %s: %s %s too large (at most %d)", ErrInterpolation, spec, what, s[:i], maxFormatWidth)
	}
	return n, s[i:], nil
}

type fmtSpec struct {
	alt, zero, left, space, plus bool
	width, prec                  int // prec -1 = none
}

func (f *fmtSpec) set(c byte) {
	switch c {
	case '#':
		f.alt = true
	case '0':
		f.zero = true
	case '-':
		f.left = true
	case ' ':
		f.space = true
	case '+':
		f.plus = true
	}
}

// format converts v (a string or an int) as Python does.
func (f *fmtSpec) format(conv rune, v any) (string, error) {
	n, isInt := v.(int)
	str, _ := v.(string)
	switch conv {
	case 's':
		if isInt {
			str = strconv.Itoa(n)
		}
		return f.pad(f.truncate(str)), nil
	case 'r', 'a':
		if isInt {
			str = strconv.Itoa(n)
		} else {
			str = pyRepr(str, conv == 'a')
		}
		return f.pad(f.truncate(str)), nil
	case 'c':
		switch {
		case isInt && n >= 0 && n <= unicode.MaxRune:
			return f.pad(string(rune(n))), nil
		case !isInt && utf8.RuneCountInString(str) == 1:
			return f.pad(str), nil
		}
		return "", fmt.Errorf("%%c requires an int (a code point) or a single character")
	case 'd', 'i', 'u', 'o', 'x', 'X':
		if !isInt {
			return "", fmt.Errorf("%%%c needs a number, not the text %q", conv, str)
		}
		return f.integer(conv, n), nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		if !isInt {
			return "", fmt.Errorf("%%%c needs a number, not the text %q", conv, str)
		}
		return f.float(conv, float64(n)), nil
	}
	return "", fmt.Errorf("unsupported format character %q", conv)
}

func (f *fmtSpec) truncate(s string) string {
	if f.prec < 0 || utf8.RuneCountInString(s) <= f.prec {
		return s
	}
	i := 0
	for n := 0; n < f.prec; n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// pad applies the width to text ('0' does not apply to text in Python).
func (f *fmtSpec) pad(s string) string {
	n := f.width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	if f.left {
		return s + strings.Repeat(" ", n)
	}
	return strings.Repeat(" ", n) + s
}

func (f *fmtSpec) integer(conv rune, n int) string {
	sign := ""
	switch {
	case n < 0:
		sign = "-"
	case f.plus:
		sign = "+"
	case f.space:
		sign = " "
	}
	u := uint64(n)
	if n < 0 {
		u = -u
	}
	base, prefix := 10, ""
	switch conv {
	case 'o':
		base = 8
		if f.alt {
			prefix = "0o"
		}
	case 'x', 'X':
		base = 16
		if f.alt {
			prefix = "0x"
		}
	}
	digits := strconv.FormatUint(u, base)
	if len(digits) < f.prec {
		digits = strings.Repeat("0", f.prec-len(digits)) + digits
	}
	if conv == 'X' {
		digits, prefix = strings.ToUpper(digits), strings.ToUpper(prefix)
	}
	head := sign + prefix
	if fill := f.width - len(head) - len(digits); fill > 0 {
		switch {
		case f.left:
			return head + digits + strings.Repeat(" ", fill)
		case f.zero:
			return head + strings.Repeat("0", fill) + digits
		default:
			return strings.Repeat(" ", fill) + head + digits
		}
	}
	return head + digits
}

// float uses fmt, whose e/f/g verbs and flags agree with Python's for the
// finite values an int converts to.
func (f *fmtSpec) float(conv rune, x float64) string {
	var spec strings.Builder
	spec.WriteByte('%')
	for _, fl := range []struct {
		on bool
		c  byte
	}{{f.left, '-'}, {f.plus, '+'}, {f.space, ' '}, {f.zero, '0'}, {f.alt, '#'}} {
		if fl.on {
			spec.WriteByte(fl.c)
		}
	}
	if f.width > 0 {
		spec.WriteString(strconv.Itoa(f.width))
	}
	prec := f.prec
	if prec < 0 {
		prec = 6
	}
	spec.WriteString("." + strconv.Itoa(prec))
	spec.WriteRune(conv)
	return fmt.Sprintf(spec.String(), x)
}

// pyRepr is Python's repr() of a str (ascii() when ascii is set).
func pyRepr(s string, ascii bool) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case !ascii && unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}
