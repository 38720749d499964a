// Package numline is the line format of the benchmark's log-capture
// scenario, shared by the writer (bench/cmd/writer) and the harness that
// checks the captured files.
//
// Line n (0-based) is exactly Size bytes: n as 10 decimal digits, a space,
// 88 letters that depend on n, and a newline:
//
//	0000000042 qrstuvwxyzabc…\n
//
// The letters make a line spliced from two others, or shifted, detectable.
package numline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

const (
	// Size is the length of every line, newline included.
	Size    = 100
	digits  = 10
	padding = Size - digits - 2
)

// pads[k] is the padding of every line n with n%26 == k.
var pads = func() (p [26][padding]byte) {
	for k := range p {
		for j := range p[k] {
			p[k][j] = 'a' + byte((k+j)%26)
		}
	}
	return p
}()

// Append appends line n to dst.
func Append(dst []byte, n uint64) []byte {
	var d [digits]byte
	for i, m := digits-1, n; i >= 0; i-- {
		d[i] = '0' + byte(m%10)
		m /= 10
	}
	dst = append(dst, d[:]...)
	dst = append(dst, ' ')
	dst = append(dst, pads[n%26][:]...)
	return append(dst, '\n')
}

func uint64FromDigits(d []byte) uint64 {
	var n uint64
	for _, c := range d {
		n = n*10 + uint64(c-'0')
	}
	return n
}

// Parse returns the number of a well-formed line (newline included).
func Parse(line []byte) (uint64, bool) {
	if len(line) != Size || line[Size-1] != '\n' || line[digits] != ' ' {
		return 0, false
	}
	for _, c := range line[:digits] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n := uint64FromDigits(line[:digits])
	if !bytes.Equal(line[digits+1:Size-1], pads[n%26][:]) {
		return 0, false
	}
	return n, true
}

// Checker reads a stream that should hold lines 0 … Want-1 once each and
// in order, and counts what differs.
type Checker struct {
	Want uint64 // lines expected

	Lines     uint64 // well-formed lines read
	Bytes     int64  // bytes read
	Dup       uint64 // well-formed lines whose number was already seen
	Reordered uint64 // first sightings of a number below one seen before
	Corrupt   uint64 // malformed lines (wrong length or content, or number ≥ Want)

	seen []uint64 // bitmap of numbers seen
	next uint64   // 1 + the highest number seen
	any  bool
}

// NewChecker expects lines 0 … want-1.
func NewChecker(want uint64) *Checker {
	return &Checker{Want: want, seen: make([]uint64, (want+63)/64)}
}

// Feed reads the readers one after the other as one stream (a line may
// span two files), in bounded memory. It may be called only once.
func (c *Checker) Feed(rs ...io.Reader) error {
	br := bufio.NewReaderSize(io.MultiReader(rs...), 1<<20)
	long := false // inside a line longer than the buffer
	for {
		line, err := br.ReadSlice('\n')
		c.Bytes += int64(len(line))
		if errors.Is(err, bufio.ErrBufferFull) {
			long = true
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		switch {
		case long:
			c.Corrupt++ // certainly not a line
			long = false
		case len(line) > 0:
			c.line(line)
		}
		if err == io.EOF {
			return nil
		}
	}
}

func (c *Checker) line(line []byte) {
	n, ok := Parse(line)
	if !ok || n >= c.Want {
		c.Corrupt++
		return
	}
	c.Lines++
	w, bit := n/64, uint64(1)<<(n%64)
	if c.seen[w]&bit != 0 {
		c.Dup++
		return
	}
	c.seen[w] |= bit
	if c.any && n+1 < c.next {
		c.Reordered++
	}
	c.any = true
	c.next = max(c.next, n+1)
}

// Lost is the number of expected lines never seen (well-formed).
func (c *Checker) Lost() uint64 {
	var seen uint64
	for _, w := range c.seen {
		for ; w != 0; w &= w - 1 {
			seen++
		}
	}
	return c.Want - seen
}

// OK reports whether the stream was exactly lines 0 … Want-1 in order.
func (c *Checker) OK() bool {
	return c.Lost() == 0 && c.Dup == 0 && c.Reordered == 0 && c.Corrupt == 0 && c.Bytes == int64(c.Want)*Size
}
