package numline

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func stream(n uint64) []byte {
	var b []byte
	for i := range n {
		b = Append(b, i)
	}
	return b
}

func TestAppendParse(t *testing.T) {
	for _, n := range []uint64{0, 1, 25, 26, 42, 2097151, 9999999999} {
		line := Append(nil, n)
		if len(line) != Size {
			t.Fatalf("line %d: %d bytes", n, len(line))
		}
		if got, ok := Parse(line); !ok || got != n {
			t.Errorf("Parse(Append(%d)) = %d, %v", n, got, ok)
		}
	}
	if got := string(Append(nil, 42)[:14]); got != "0000000042 qrs" {
		t.Errorf("line 42 starts %q", got)
	}
	bad := Append(nil, 7)
	bad[50]++
	if _, ok := Parse(bad); ok {
		t.Error("changed padding parsed")
	}
	if _, ok := Parse(Append(nil, 7)[:Size-1]); ok {
		t.Error("short line parsed")
	}
}

func check(t *testing.T, want uint64, rs ...io.Reader) *Checker {
	t.Helper()
	c := NewChecker(want)
	if err := c.Feed(rs...); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckerClean(t *testing.T) {
	s := stream(1000)
	// Split across "files" in the middle of lines, as rotation does.
	c := check(t, 1000, bytes.NewReader(s[:12345]), bytes.NewReader(s[12345:50001]), bytes.NewReader(s[50001:]))
	if !c.OK() || c.Lines != 1000 || c.Lost() != 0 {
		t.Errorf("clean stream: %+v lost %d", c, c.Lost())
	}
}

func TestCheckerFaults(t *testing.T) {
	s := stream(100)
	line := func(i int) []byte { return s[i*Size : (i+1)*Size] }
	var b []byte
	b = append(b, s[:10*Size]...)                // 0-9
	b = append(b, line(5)...)                    // dup 5
	b = append(b, s[12*Size:20*Size]...)         // 12-19: 10, 11 lost so far
	b = append(b, line(10)...)                   // 10 late: reordered
	b = append(b, line(20)[:40]...)              // half of 20: corrupt with the next
	b = append(b, s[21*Size:]...)                // 21-99
	b = append(b, strings.Repeat("x", 3<<20)...) // a huge line without newline
	c := check(t, 100, bytes.NewReader(b))
	if c.Lost() != 3 || c.Dup != 1 || c.Reordered != 1 || c.Corrupt != 2 || c.OK() {
		t.Errorf("lost %d dup %d reordered %d corrupt %d ok %v", c.Lost(), c.Dup, c.Reordered, c.Corrupt, c.OK())
	}
	if c.Bytes != int64(len(b)) {
		t.Errorf("bytes %d, want %d", c.Bytes, len(b))
	}
}

func BenchmarkAppend(b *testing.B) {
	buf := make([]byte, 0, Size)
	b.SetBytes(Size)
	for i := range b.N {
		buf = Append(buf[:0], uint64(i))
	}
}
