package logs

import (
	"slices"
	"strings"
	"testing"
)

type captured struct {
	logged []string
	comms  []string
}

func feedAll(c *Capture, chunks ...string) captured {
	var r captured
	for _, ch := range chunks {
		c.Feed([]byte(ch),
			func(b []byte) { r.logged = append(r.logged, string(b)) },
			func(b []byte) { r.comms = append(r.comms, string(b)) })
	}
	return r
}

func TestCapture(t *testing.T) {
	const begin, end = "<!--XSUPERVISOR:BEGIN-->", "<!--XSUPERVISOR:END-->"
	for _, tt := range []struct {
		name    string
		max     int64
		chunks  []string
		logged  string
		comms   []string
		pending string
	}{
		{"off passes everything", 0, []string{"a", begin + "x" + end}, "a|" + begin + "x" + end + "|", nil, ""},
		{"one block", 100, []string{"before" + begin + "secret" + end + "after, and some more output"},
			"before|after, and some more output|", []string{"secret"}, ""},
		{"tokens split across reads", 100,
			[]string{"before<!--XSUPER", "VISOR:BEGIN-->sec", "ret<!--XSUPERVISOR:E", "ND-->after, and some more output"},
			"before|after, and some more output|", []string{"secret"}, ""},
		{"short output waits for a token's length", 100, []string{"hi\n"}, "", nil, "hi\n"},
		{"possible token start held back", 100, []string{"a long line of output <!--XSUP"},
			"a long line of output |", nil, "<!--XSUP"},
		{"two blocks in one read", 100, []string{begin + "one" + end + begin + "two" + end + "0123456789012345678901234"},
			"0123456789012345678901234|", []string{"one", "two"}, ""},
		{"empty block", 100, []string{begin + end + "0123456789012345678901234"},
			"0123456789012345678901234|", []string{""}, ""},
		{"block keeps its last max bytes", 4, []string{begin + "0123456789" + end + strings.Repeat(".", 30)},
			strings.Repeat(".", 30) + "|", []string{"6789"}, ""},
		{"begin inside a block is data", 100, []string{begin + "a" + begin + "b" + end + strings.Repeat(".", 30)},
			strings.Repeat(".", 30) + "|", []string{"a" + begin + "b"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCapture(tt.max)
			got := feedAll(c, tt.chunks...)
			logged := strings.Join(got.logged, "|")
			if len(got.logged) > 0 {
				logged += "|"
			}
			if logged != tt.logged || !slices.Equal(got.comms, tt.comms) || string(c.pending) != tt.pending {
				t.Errorf("logged %q comms %q pending %q\nwant   %q comms %q pending %q",
					logged, got.comms, c.pending, tt.logged, tt.comms, tt.pending)
			}
		})
	}
}

// TestCaptureSplitAtEveryByte feeds a stream one byte per read, and cut at
// every possible point in two reads: the result is always that of one read.
func TestCaptureSplitAtEveryByte(t *testing.T) {
	const stream = "log 1\n<!--XSUPERVISOR:BEGIN-->secret\n<!--XSUPERVISOR:END-->log 2\n<" +
		"<!--XSUPERVISOR:BEGIN--><!--XSUPERVISOR:END-->log 3 <!--XSUPERVISOR"
	flush := func(c *Capture, r *captured) {
		c.Flush(func(b []byte) { r.logged = append(r.logged, string(b)) })
	}
	whole := NewCapture(100)
	want := feedAll(whole, stream)
	flush(whole, &want)
	wantLog := strings.Join(want.logged, "")
	if wantLog != "log 1\nlog 2\n<log 3 <!--XSUPERVISOR" || !slices.Equal(want.comms, []string{"secret\n", ""}) {
		t.Fatalf("whole stream: logged %q comms %q", wantLog, want.comms)
	}
	var bytewise []string
	for i := range len(stream) {
		bytewise = append(bytewise, stream[i:i+1])
	}
	cuts := [][]string{bytewise}
	for i := 1; i < len(stream); i++ {
		cuts = append(cuts, []string{stream[:i], stream[i:]})
	}
	for _, chunks := range cuts {
		c := NewCapture(100)
		got := feedAll(c, chunks...)
		flush(c, &got)
		if log := strings.Join(got.logged, ""); log != wantLog || !slices.Equal(got.comms, want.comms) {
			t.Fatalf("in %d reads (first %q): logged %q comms %q", len(chunks), chunks[0], log, got.comms)
		}
	}
}

func TestCaptureFlushDropsAnOpenBlock(t *testing.T) {
	c := NewCapture(100)
	got := feedAll(c, "out <!--XSUPERVISOR:BEGIN-->never ended, and long enough")
	c.Flush(func(b []byte) { got.logged = append(got.logged, string(b)) })
	if strings.Join(got.logged, "") != "out " || len(got.comms) != 0 {
		t.Errorf("logged %q comms %q", got.logged, got.comms)
	}
}

// FuzzCapture checks that how output is cut into reads never changes the
// blocks captured nor the bytes passed through (or still held back).
func FuzzCapture(f *testing.F) {
	f.Add("x<!--XSUPERVISOR:BEGIN-->y<!--XSUPERVISOR:END-->z and the rest", uint8(3))
	f.Add("<!--XSUPERVISOR:BEGIN--><!--XSUPERVISOR:BEGIN--><!--XSUPERVISOR:END-->", uint8(1))
	f.Add("<!--X<!--XSUPERVISOR:BEGIN-->", uint8(5))
	f.Fuzz(func(t *testing.T, data string, step uint8) {
		n := int(step)%16 + 1
		var chunks []string
		for s := data; len(s) > 0; {
			k := min(n, len(s))
			chunks = append(chunks, s[:k])
			s = s[k:]
		}
		a, b := NewCapture(1<<20), NewCapture(1<<20)
		whole := feedAll(a, data)
		cut := feedAll(b, chunks...)
		flat := func(r captured, c *Capture) string {
			s := strings.Join(r.logged, "")
			if c.capturing {
				return s + "\x00" + string(c.captured) + string(c.pending)
			}
			return s + string(c.pending)
		}
		if !slices.Equal(whole.comms, cut.comms) || a.capturing != b.capturing || flat(whole, a) != flat(cut, b) {
			t.Fatalf("whole: %q %q, in pieces of %d: %q %q", whole.logged, whole.comms, n, cut.logged, cut.comms)
		}
	})
}

func TestPrefixAtEnd(t *testing.T) {
	for _, tt := range []struct {
		buf  string
		want int
	}{{"abc", 0}, {"abc<", 1}, {"abc<!--XSUPERVISOR:BEGIN--", 23}, {"<!--X<!--XS", 6}, {"", 0}} {
		if got := prefixAtEnd([]byte(tt.buf), BeginToken); got != tt.want {
			t.Errorf("prefixAtEnd(%q) = %d, want %d", tt.buf, got, tt.want)
		}
	}
}
