package supervisor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func FuzzParseScale(f *testing.F) {
	for _, s := range []string{"+3", "-1", "=0", "3", "", "x", "*2", "=", "+-1", "0003", "=9999999", " 4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		op, err := ParseScale(s)
		if err != nil {
			if !errors.Is(err, ErrBadScale) {
				t.Fatalf("ParseScale(%q) error %v is not ErrBadScale", s, err)
			}
			return
		}
		if op.N < 0 || !strings.ContainsRune("+-=", rune(op.Op)) {
			t.Fatalf("ParseScale(%q) = %+v", s, op)
		}
		if op.Apply(5) < 0 {
			t.Fatalf("negative target from %q", s)
		}
		// The JSON number form agrees with the digits form for plain integers.
		var n json.Number
		if json.Unmarshal([]byte(s), &n) == nil && op.Op == '+' {
			if _, err := ParseScale(n); err != nil {
				t.Fatalf("ParseScale(json %q): %v", s, err)
			}
		}
	})
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "sigterm", "SIGHUP", "9", "0", "65", "-1", "", "SIG", "KILL ", "rtmin", "32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if !errors.Is(err, ErrBadSignal) {
				t.Fatalf("ParseSignal(%q) error %v is not ErrBadSignal", s, err)
			}
			return
		}
		if sig < 1 || sig > 64 {
			t.Fatalf("ParseSignal(%q) = %d, out of range", s, sig)
		}
	})
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{`echo hi`, `sh -c 'a b' "c \" d"`, `a\ b`, `"unterminated`, `'x`, "", `a  "" b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err != nil {
			if !errors.Is(err, ErrUnterminatedQuote) {
				t.Fatalf("SplitCommand(%q): %v", s, err)
			}
			return
		}
		// Words contain no unquoted separators: joining with single quotes
		// and splitting again round-trips when no word has a quote.
		for _, w := range words {
			if strings.ContainsRune(w, '\'') {
				return
			}
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		again, err := SplitCommand(strings.Join(quoted, " "))
		if err != nil || len(again) != len(words) {
			t.Fatalf("round trip of %q: %q, %v", words, again, err)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("round trip of %q: %q", words, again)
			}
		}
	})
}

func TestParseSignalAndScaleTables(t *testing.T) {
	sigs := []struct {
		in   any
		want int
		err  error
	}{
		{"TERM", 15, nil}, {"sigterm", 15, nil}, {"SIGHUP", 1, nil}, {"9", 9, nil}, {15, 15, nil},
		{float64(2), 2, nil}, {json.Number("10"), 10, nil},
		{"NOPE", 0, ErrBadSignal}, {0, 0, ErrBadSignal}, {65, 0, ErrBadSignal}, {"", 0, ErrBadSignal},
		{1.5, 0, ErrBadSignal}, {true, 0, ErrBadSignal}, {32, 0, ErrBadSignal},
	}
	for _, tt := range sigs {
		got, err := ParseSignal(tt.in)
		if !errors.Is(err, tt.err) || (err == nil && int(got) != tt.want) {
			t.Errorf("ParseSignal(%#v) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	scales := []struct {
		in   any
		cur  int
		want int
		err  error
	}{
		{"+2", 1, 3, nil}, {"-2", 1, 0, nil}, {"=5", 1, 5, nil}, {"3", 1, 4, nil},
		{3, 1, 4, nil}, {-3, 4, 1, nil}, {0, 2, 2, nil}, {float64(2), 1, 3, nil},
		{"x", 0, 0, ErrBadScale}, {"*3", 0, 0, ErrBadScale}, {"", 0, 0, ErrBadScale},
		{1.5, 0, 0, ErrBadScale}, {"=", 0, 0, ErrBadScale}, {nil, 0, 0, ErrBadScale},
	}
	for _, tt := range scales {
		op, err := ParseScale(tt.in)
		if !errors.Is(err, tt.err) || (err == nil && op.Apply(tt.cur) != tt.want) {
			t.Errorf("ParseScale(%#v) on %d = %v, %v; want %d, %v", tt.in, tt.cur, op.Apply(tt.cur), err, tt.want, tt.err)
		}
	}
}
