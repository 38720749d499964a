package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/logs"
	"github.com/gafferhq/gaffer/internal/proc"
)

// process is one spawned child. Fields are owned by the loop except where
// noted; output rings and the input queue have their own locks.
type process struct {
	id        int
	osPid     int
	job       *job
	cfg       JobConfig // the job's config at spawn (immutable)
	committed bool
	prog      string
	args      []string
	env       map[string]string
	started   time.Time
	graceful  time.Duration

	stopping bool
	killAt   time.Time
	escapees []int

	// Health (probes.go). ready: the readiness probe passed (or, without
	// one, never consulted); health: "", starting, healthy or unhealthy.
	ready      bool
	health     string
	lastProbe  string
	liveFails  bool // the liveness probe failed: restarted
	probers    []stopper
	propagated bool // stopped because a dependency went away

	daemon pidfileState // a pidfile job's launcher and daemon (pidfile.go)
	outPid atomic.Int64 // osPid for output events, read by the pumps

	releaseSocks func() // drops the process's socket references; nil when none

	outputs map[string]*Tail   // by label; immutable after newProcess
	inputs  map[string]*writer // "stdin" and custom stream labels; immutable after newProcess
}

func newProcess(s *Supervisor, id int, j *job, op *proc.Process, committed bool, prog string, args []string, env map[string]string) *process {
	p := &process{id: id, osPid: op.Pid, job: j, cfg: j.cfg, committed: committed, prog: prog, args: args,
		env: env, started: time.Now(), graceful: j.cfg.GracefulTimeout,
		outputs: map[string]*Tail{}, inputs: map[string]*writer{}}
	p.outPid.Store(int64(op.Pid))
	pump := func(label, kind string, r io.ReadCloser) {
		t := p.outputs[label]
		if t == nil {
			t = newTail(s.opts.TailSize)
			p.outputs[label] = t
		}
		var sinks []io.Writer
		var set *logSet
		if j.logs != nil && j.logs.ws[label] != nil {
			set = j.logs
			set.wg.Add(1)
			sinks = append(sinks, set.ws[label])
		}
		if s.opts.OutputSinks != nil {
			sinks = append(sinks, s.opts.OutputSinks(j.full, id, label)...)
		}
		var capture *logs.Capture
		if lf, ok := j.cfg.Logs[label]; ok && lf.CaptureMaxBytes > 0 && kind == "output" {
			capture = logs.NewCapture(lf.CaptureMaxBytes)
		}
		s.pumps.Add(1)
		go func() {
			defer s.pumps.Done()
			s.pump(p, label, kind, r, t, sinks, capture)
			if set != nil {
				set.wg.Done()
			}
		}()
	}
	labels := j.cfg.RedirectOutput
	if op.Stdout != nil {
		pump(labels[0], "output", op.Stdout)
	}
	if op.Stderr != nil {
		pump(labels[1], "output", op.Stderr)
	}
	if op.Stdin != nil {
		p.inputs["stdin"] = newWriter(op.Stdin)
	}
	for i, f := range op.Streams {
		label := j.cfg.CustomStreams[i]
		p.inputs[label] = newWriter(f)
		pump(label, "READ", f)
	}
	return p
}

// pump copies one stream of a child with a fixed buffer until EOF: into the
// in-memory tail, the sinks and to subscribers. It never parses lines, so
// every byte arrives, including a last line without newline, and a chatty
// child never blocks on a slow reader (subscribers have bounded queues).
//
// With capture mode on (LogFile.CaptureMaxBytes), the bytes between
// supervisor's XSUPERVISOR tokens go to none of those: each block is
// published once complete, on the output bus, as an event of Kind "comm" and
// type "comm.<pid>.<label>" (Data = the block without its tokens), in order
// with the stream's output. Subscribers to "<pid>" patterns (stream readers)
// therefore never receive captured blocks; "." receives both.
func (s *Supervisor) pump(p *process, label, kind string, r io.ReadCloser, t *Tail, sinks []io.Writer, capture *logs.Capture) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	typ := strconv.Itoa(p.id) + "." + label
	out := func(chunk []byte) {
		t.Write(chunk)
		for _, w := range sinks {
			if _, err := w.Write(chunk); err != nil {
				s.log.Error("output sink", "job", p.job.full, "pid", p.id, "label", label, "err", err)
			}
		}
		if s.output.HasSubscribers(typ) {
			s.output.Publish(events.Event{Type: typ, Kind: "output", Name: p.job.full, Pid: p.id,
				OSPid: int(p.outPid.Load()), Label: label, Data: append([]byte(nil), chunk...), Reason: kind})
		}
	}
	commTyp := "comm." + typ // not "<pid>…": stream readers never see captured blocks
	comm := func(block []byte) {
		if s.output.HasSubscribers(commTyp) {
			s.output.Publish(events.Event{Type: commTyp, Kind: "comm", Name: p.job.full, Pid: p.id,
				OSPid: int(p.outPid.Load()), Label: label, Data: append([]byte{}, block...), Reason: kind})
		}
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if capture != nil {
				capture.Feed(buf[:n], out, comm)
			} else {
				out(buf[:n])
			}
		}
		if err != nil {
			if capture != nil {
				capture.Flush(out)
			}
			t.close() // sinks belong to the job (log files) or to their provider
			return
		}
	}
}

// exited releases what the process held once it is reaped.
func (p *process) exited(proc.Exit) {
	if p.releaseSocks != nil {
		p.releaseSocks()
		p.releaseSocks = nil
	}
	for _, w := range p.inputs {
		w.close()
	}
}

// Tail is the last bytes of one output stream, with absolute offsets: the
// byte at offset n is the n-th byte the stream ever produced.
type Tail struct {
	mu     sync.Mutex
	buf    []byte // ring
	size   int
	total  int64 // bytes ever written
	closed bool
	wake   chan struct{} // closed and replaced on every write: followers wait on it
}

func newTail(size int) *Tail {
	return &Tail{buf: make([]byte, size), size: size, wake: make(chan struct{})}
}

// Write appends to the ring. Safe for concurrent use with reads. The ring
// grows as output arrives, so a quiet process costs no buffer.
func (t *Tail) Write(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) < t.size {
		if len(t.buf)+len(b) <= t.size {
			// Filling: the byte at offset o is at index o, as in the ring.
			t.buf = append(t.buf, b...)
			t.total += int64(len(b))
			t.wakeUp()
			return
		}
		ring := make([]byte, t.size)
		copy(ring, t.buf)
		t.buf = ring
	}
	if len(b) >= t.size {
		copy(t.buf, b[len(b)-t.size:])
		t.total += int64(len(b))
		t.rotateTo()
	} else {
		start := int(t.total % int64(t.size))
		n := copy(t.buf[start:], b)
		copy(t.buf, b[n:])
		t.total += int64(len(b))
	}
	t.wakeUp()
}

func (t *Tail) wakeUp() {
	close(t.wake)
	t.wake = make(chan struct{})
}

// rotateTo re-lays the ring after a write larger than it, so that the byte at
// absolute offset o lives at index o % size.
func (t *Tail) rotateTo() {
	shift := int(t.total % int64(t.size))
	tmp := make([]byte, t.size)
	copy(tmp[shift:], t.buf[:t.size-shift])
	copy(tmp, t.buf[t.size-shift:])
	t.buf = tmp
}

func (t *Tail) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.wakeUp()
}

// Read returns the bytes from absolute offset off (clamped to what the ring
// still holds), the offset after them, a channel closed at the next write,
// and whether the stream has ended.
func (t *Tail) Read(off int64) (data []byte, next int64, wake <-chan struct{}, closed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := max(t.total-int64(t.size), 0)
	if off < first {
		off = first
	}
	if off > t.total {
		off = t.total
	}
	n := int(t.total - off)
	data = make([]byte, n)
	start := int(off % int64(t.size))
	c := copy(data, t.buf[start:min(start+n, t.size)])
	copy(data[c:], t.buf[:n-c])
	return data, t.total, t.wake, t.closed
}

// Last returns up to n of the most recent bytes.
func (t *Tail) Last(n int) []byte {
	t.mu.Lock()
	total := t.total
	t.mu.Unlock()
	data, _, _, _ := t.Read(total - int64(n))
	return data
}

// writer queues writes to a child's stdin or custom stream and flushes them
// in order from its own goroutine, so a child that does not read never blocks
// the caller or the loop.
type writer struct {
	mu     sync.Mutex
	q      chan []byte
	f      *os.File
	closed bool
}

// ErrInputFull means a child is not reading its input fast enough.
var ErrInputFull = errors.New("input queue full: the process is not reading")

func newWriter(f *os.File) *writer {
	w := &writer{q: make(chan []byte, 1024), f: f}
	go func() {
		defer f.Close()
		for b := range w.q {
			if _, err := f.Write(b); err != nil {
				for range w.q { // drain: the reader is gone
				}
				return
			}
		}
	}()
	return w
}

func (w *writer) write(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("write: %w", ErrProcessFinished)
	}
	select {
	case w.q <- append([]byte(nil), b...):
		return nil
	default:
		return ErrInputFull
	}
}

func (w *writer) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
}
