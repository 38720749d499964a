package supervisor

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal accepts what gaffer accepts for a signal: an integer, a string
// of digits, or a name with or without "SIG" in any case ("HUP", "sigterm").
// Anything else, including 0 and numbers past the real-time range, is
// ErrBadSignal naming the value.
func ParseSignal(v any) (syscall.Signal, error) {
	bad := func() (syscall.Signal, error) { return 0, fmt.Errorf("signal %v: %w", v, ErrBadSignal) }
	var n int
	switch t := v.(type) {
	case syscall.Signal:
		n = int(t)
	case int:
		n = t
	case float64:
		if t != math.Trunc(t) || t > 1000 || t < -1000 {
			return bad()
		}
		n = int(t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return bad()
		}
		return ParseSignal(f)
	case string:
		s := strings.TrimSpace(t)
		if s == "" {
			return bad()
		}
		if i, err := strconv.Atoi(s); err == nil {
			n = i
			break
		}
		name := strings.ToUpper(s)
		if !strings.HasPrefix(name, "SIG") {
			name = "SIG" + name
		}
		sig := unix.SignalNum(name)
		if sig == 0 {
			return bad()
		}
		return sig, nil
	default:
		return bad()
	}
	if n < 1 || n > 64 || (n > 31 && n < 34) { // 32 and 33 belong to the C library
		return bad()
	}
	return syscall.Signal(n), nil
}

// maxScale bounds a scale value: far more processes than any machine runs,
// small enough that no arithmetic overflows.
const maxScale = 1_000_000

// ScaleOp is a parsed scale request: add (+N), subtract (-N) or set (=N).
type ScaleOp struct {
	Op byte // '+', '-' or '='
	N  int
}

// ParseScale reads gaffer's scale value (gaffer-http-api.md §6.1): a JSON
// integer n > 0 adds n, n <= 0 subtracts |n|; a string of digits ADDS; "+N",
// "-N", "=N" add, subtract, set. Anything else is ErrBadScale.
func ParseScale(v any) (ScaleOp, error) {
	bad := func() (ScaleOp, error) { return ScaleOp{}, fmt.Errorf("scale %v: %w", v, ErrBadScale) }
	switch t := v.(type) {
	case int:
		if t > 0 {
			return ScaleOp{'+', t}, nil
		}
		return ScaleOp{'-', -t}, nil
	case float64:
		if t != math.Trunc(t) || math.Abs(t) > maxScale {
			return bad()
		}
		return ParseScale(int(t))
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return bad()
		}
		return ParseScale(f)
	case string:
		s := strings.TrimSpace(t)
		if s == "" {
			return bad()
		}
		op := byte('+')
		switch s[0] {
		case '+', '-', '=':
			op, s = s[0], s[1:]
		}
		if s == "" || strings.TrimLeft(s, "0123456789") != "" || len(s) > 7 {
			return bad()
		}
		n, _ := strconv.Atoi(s)
		if n > maxScale {
			return bad()
		}
		return ScaleOp{op, n}, nil
	}
	return bad()
}

// Apply returns the new target for current count c.
func (o ScaleOp) Apply(c int) int {
	switch o.Op {
	case '+':
		c += o.N
	case '-':
		c -= o.N
	case '=':
		c = o.N
	}
	return max(c, 0)
}

func (o ScaleOp) String() string { return string(o.Op) + strconv.Itoa(o.N) }
