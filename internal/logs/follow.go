package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Changed returns a channel that is closed at the next change to the log: a
// Write, a rotation, Clear, Reopen or Close. Take the channel before reading,
// then wait on it, so a change between the read and the wait is not missed.
// After Close it returns a closed channel.
//
// Nothing is allocated or closed by Write while nobody has asked for the
// channel, so an unwatched log pays nothing for this.
func (w *Writer) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changedLocked()
}

func (w *Writer) changedLocked() chan struct{} {
	if w.changed == nil {
		w.changed = make(chan struct{})
		if w.closed {
			close(w.changed)
		}
	}
	return w.changed
}

func (w *Writer) notifyLocked() {
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// followChunk bounds each slice a Follow stream sends.
const followChunk = 32 << 10

// Follow streams the log from offset on, as `tail -f` does: first the bytes
// already in the current file from offset (a negative offset means the last
// -offset bytes; an offset past the end, the end), then every byte written
// after, in order, as they are written. Each slice is new and belongs to the
// receiver.
//
// Rotation, Reopen and Clear do not end the stream. After a rotation (or a
// Reopen after an external rename) the stream delivers the rest of the file
// it was reading, then continues at the start of the new one, so nothing is
// lost or repeated unless it fell more than one file behind: then the files
// in between are skipped (they are in the backups). After Clear, or a
// rotation without backups, it continues at the start of the emptied file.
//
// The stream is closed when ctx is done (receivers that stop reading must
// cancel ctx to release its goroutine), after the last bytes once the
// Writer is closed, or on a read error. Follow fails on a closed Writer and
// on a file it cannot read (write-only, not regular).
func (w *Writer) Follow(ctx context.Context, offset int64) (<-chan []byte, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, fmt.Errorf("logs: follow %s: %w", w.path, os.ErrClosed)
	}
	if !w.readable || !w.regular {
		w.mu.Unlock()
		return nil, fmt.Errorf("logs: follow %s: not a readable regular file", w.path)
	}
	f, err := dupFile(w.f)
	gen, size := w.gen, w.size
	w.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("logs: follow %s: %w", w.path, err)
	}
	pos := min(offset, size)
	if offset < 0 {
		pos = max(size+offset, 0)
	}
	out := make(chan []byte)
	go w.follow(ctx, out, &follower{f: f, gen: gen, pos: pos})
	return out, nil
}

// follower is the state of one Follow stream, owned by its goroutine.
type follower struct {
	f   *os.File // own descriptor of the file being read: the Writer may close its own
	gen uint64   // the Writer's gen for f
	pos int64    // next byte of f to send
}

func (w *Writer) follow(ctx context.Context, out chan<- []byte, fl *follower) {
	defer close(out)
	defer func() { fl.f.Close() }()
	for {
		w.mu.Lock()
		wake := w.changedLocked()
		gen, size, closed, truncated := w.gen, w.size, w.closed, w.truncated
		var next *os.File
		var err error
		if gen != fl.gen && !closed {
			next, err = dupFile(w.f) // under the mutex, so next is the file of gen
		}
		w.mu.Unlock()
		if err != nil {
			return
		}

		if gen == fl.gen {
			if !fl.send(ctx, out, size) || closed {
				return
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
			continue
		}

		// The Writer has moved to another file.
		if next == nil {
			// Closed after moving: its last file is at the path.
			if next, err = os.Open(w.path); err != nil {
				return
			}
		}
		if sameFile(fl.f, next) {
			// Reopened or emptied in place: the same bytes stay at the same
			// offsets unless the file was truncated since fl.gen.
			if truncated > fl.gen {
				fl.pos = 0
			}
		} else {
			// fl.f has been renamed away (name.1, or by logrotate): the
			// Writer will not write it again, so its end is final.
			if !fl.send(ctx, out, -1) {
				next.Close()
				return
			}
			fl.pos = 0
		}
		fl.f.Close()
		fl.f, fl.gen = next, gen
	}
}

// send delivers fl.f from fl.pos up to end (-1: to EOF). It reports false
// when the stream must end (ctx done or a read error).
func (fl *follower) send(ctx context.Context, out chan<- []byte, end int64) bool {
	for end < 0 || fl.pos < end {
		n := int64(followChunk)
		if end >= 0 {
			n = min(n, end-fl.pos)
		}
		buf := make([]byte, n)
		k, err := fl.f.ReadAt(buf, fl.pos)
		if k > 0 {
			select {
			case out <- buf[:k]:
				fl.pos += int64(k)
			case <-ctx.Done():
				return false
			}
		}
		if errors.Is(err, io.EOF) {
			return true // shorter than the Writer counted: truncated by someone else
		}
		if err != nil {
			return false
		}
	}
	return true
}

// dupFile returns a second descriptor for f's open file, close-on-exec, so a
// follower can keep reading a file the Writer has closed. ForkLock keeps a
// child forked meanwhile from inheriting it before it is marked.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	err = rc.Control(func(orig uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		fd, dupErr = syscall.Dup(int(orig))
		if dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func sameFile(a, b *os.File) bool {
	ai, err := a.Stat()
	if err != nil {
		return false
	}
	bi, err := b.Stat()
	return err == nil && os.SameFile(ai, bi)
}
