package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// console prints prefixed lines, "15:31:52 web.1  | text", with names
// padded to the longest and a colour per name on a terminal. Output pumps
// (one goroutine per process stream) and the event loop write to it
// concurrently; mu serializes them so lines never interleave.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	width   int
	color   bool
	colors  map[string]string
	partial map[streamKey][]byte // an unfinished last line per stream
	// Lines of a process are held back until its spawn line is printed:
	// the pumps write as soon as the process runs, before the spawn event
	// reaches the console.
	announced map[int]bool         // gaffer pid -> spawn line printed
	held      map[int][]streamLine // gaffer pid -> lines waiting for it
	now       func() time.Time
}

type streamLine struct {
	name string
	text []byte
}

type streamKey struct {
	pid         int
	name, label string
}

// foreman's palette: cyan, yellow, green, magenta, red, blue, then bright.
var palette = []string{"36", "33", "32", "35", "31", "34", "96", "93", "92", "95", "91", "94"}

// maxPartial is the longest line kept waiting for its newline; longer ones
// are printed in pieces.
const maxPartial = 64 << 10

func newConsole(w io.Writer, names []string) *console {
	c := &console{w: w, colors: map[string]string{}, partial: map[streamKey][]byte{},
		announced: map[int]bool{}, held: map[int][]streamLine{}, now: time.Now}
	for i, n := range names {
		c.width = max(c.width, len(n))
		c.colors[n] = palette[i%len(palette)]
	}
	c.color = isTerminal(w) && os.Getenv("NO_COLOR") == ""
	return c
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// linef prints one line of gaffer's own, under name.
func (c *console) linef(name, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeLine(name, []byte(fmt.Sprintf(format, args...)))
}

// writeLine prints one line; the caller holds mu.
func (c *console) writeLine(name string, text []byte) {
	text = bytes.TrimSuffix(text, []byte("\r"))
	prefix := fmt.Sprintf("%s %-*s |", c.now().Format("15:04:05"), c.width, name)
	var b bytes.Buffer
	if col := c.colors[name]; c.color && col != "" {
		b.WriteString("\x1b[" + col + "m" + prefix + "\x1b[0m")
	} else if c.color {
		b.WriteString("\x1b[1m" + prefix + "\x1b[0m")
	} else {
		b.WriteString(prefix)
	}
	if len(text) > 0 {
		b.WriteByte(' ')
		b.Write(text)
	}
	b.WriteByte('\n')
	c.w.Write(b.Bytes()) // a console that cannot be written to loses lines, never blocks the app
}

// stream returns the writer of one output stream of process pid, shown as name.
func (c *console) stream(name string, pid int, label string) io.Writer {
	return &streamWriter{c: c, key: streamKey{pid, name, label}}
}

// spawned prints a process's spawn line, then the lines it already wrote.
func (c *console) spawned(name string, pid int, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeLine(name, []byte(fmt.Sprintf(format, args...)))
	c.announced[pid] = true
	for _, l := range c.held[pid] {
		c.writeLine(l.name, l.text)
	}
	delete(c.held, pid)
}

// emit prints a line of process k.pid, or holds it until its spawn line;
// the caller holds mu.
func (c *console) emit(k streamKey, line []byte) {
	if c.announced[k.pid] {
		c.writeLine(k.name, line)
		return
	}
	c.held[k.pid] = append(c.held[k.pid], streamLine{k.name, append([]byte(nil), line...)})
}

// flush prints what is left of process pid (0 = of every process): held
// lines and unfinished last lines. A process that exited is forgotten.
func (c *console) flush(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]streamKey, 0, len(c.partial))
	for k := range c.partial {
		if pid == 0 || k.pid == pid {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b streamKey) int {
		if a.pid != b.pid {
			return a.pid - b.pid
		}
		return strings.Compare(a.label, b.label)
	})
	for _, k := range keys {
		c.emit(k, c.partial[k])
		delete(c.partial, k)
	}
	for p, lines := range c.held {
		if pid == 0 || p == pid {
			for _, l := range lines {
				c.writeLine(l.name, l.text)
			}
			delete(c.held, p)
		}
	}
	if pid != 0 {
		delete(c.announced, pid)
	}
}

type streamWriter struct {
	c   *console
	key streamKey
}

// Write prints every complete line of p, keeping the rest for the next
// chunk: pipes deliver chunks, not lines.
func (s *streamWriter) Write(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := append(c.partial[s.key], p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		c.emit(s.key, buf[:i])
		buf = buf[i+1:]
	}
	for len(buf) >= maxPartial {
		c.emit(s.key, buf[:maxPartial])
		buf = buf[maxPartial:]
	}
	if len(buf) == 0 {
		delete(c.partial, s.key)
	} else {
		c.partial[s.key] = append([]byte(nil), buf...)
	}
	return len(p), nil
}
