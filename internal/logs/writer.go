package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// Writer is one log file with size-based rotation, like supervisord's
// RotatingFileHandler. When a Write would take the file past MaxBytes, the
// file is rotated first (name.N-1 → name.N, …, name → name.1, keeping
// Backups old files; with Backups 0 the file is truncated instead) and the
// Write goes whole into the fresh file, even when it alone is larger than
// MaxBytes. MaxBytes 0 means never rotate.
//
// Write does one write(2) and no stat: the size is counted in memory. There
// is no buffering, so what Write accepted is in the kernel when it returns.
type Writer struct {
	path     string // immutable after Open
	maxBytes int64  // immutable after Open; 0 = never rotate
	backups  int    // immutable after Open

	written atomic.Uint64 // bytes Write accepted since Open, across rotations and Clear

	mu        sync.Mutex    // guards the fields below
	f         *os.File      // current file; closed, not nil, after Close
	size      int64         // bytes in f, counted by Write
	regular   bool          // f is a regular file: only those rotate
	readable  bool          // f is open O_RDWR: readers can pread it
	retryAt   int64         // after a failed rotation, no new attempt before size reaches this
	gen       uint64        // bumped when f is replaced (rotation, Clear, Reopen)
	truncated uint64        // gen of the last replacement that emptied the same file
	changed   chan struct{} // closed on the next change; nil while nobody waits
	closed    bool
}

// Open opens (creating it with mode 0644, less the umask) the log file at
// path for appending. The directory must exist, as supervisord requires.
// maxBytes 0 disables rotation; backups 0 makes rotation truncate the file.
func Open(path string, maxBytes int64, backups int) (*Writer, error) {
	if maxBytes < 0 || backups < 0 {
		return nil, fmt.Errorf("logs: open %s: negative maxbytes (%d) or backups (%d)", path, maxBytes, backups)
	}
	w := &Writer{path: path, maxBytes: maxBytes, backups: backups}
	f, fi, readable, err := openFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	w.f, w.size, w.regular, w.readable = f, fi.Size(), fi.Mode().IsRegular(), readable
	return w, nil
}

// openFile opens path for appending, readable if possible: ReadLog, TailLog
// and Follow pread the Writer's own descriptor. A target we may write but not
// read (a socket behind /dev/stdout) is opened write-only.
func openFile(path string, trunc bool) (*os.File, fs.FileInfo, bool, error) {
	flag := os.O_CREATE | os.O_APPEND
	if trunc {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag|os.O_RDWR, 0o644)
	readable := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, flag|os.O_WRONLY, 0o644)
	}
	if err != nil {
		return nil, nil, false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, false, err
	}
	return f, fi, readable, nil
}

// Path returns the log file's name as given to Open.
func (w *Writer) Path() string { return w.path }

// Size returns the size of the current file, as counted by the Writer.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// BytesWritten is the number of bytes written to the log since Open, across
// rotations, Clear and Reopen (a counter for metrics; Size is the current
// file's). Safe to call at any time, without the Writer's lock.
func (w *Writer) BytesWritten() uint64 { return w.written.Load() }

// Write appends p to the log, rotating first if p would take the file past
// MaxBytes. It never splits p. If the rotation fails, p still goes to the
// current file: Write then returns len(p) and the rotation error.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, fmt.Errorf("logs: write %s: %w", w.path, os.ErrClosed)
	}
	if len(p) == 0 {
		w.mu.Unlock()
		return 0, nil
	}
	var old *os.File
	var rotateErr error
	if w.maxBytes > 0 && w.regular && w.size > 0 && w.size+int64(len(p)) > w.maxBytes && w.size >= w.retryAt {
		old, rotateErr = w.rotateLocked()
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	w.written.Add(uint64(n))
	w.notifyLocked()
	w.mu.Unlock()
	if old != nil {
		// Everything written to it is in the kernel already: a close error
		// cannot mean lost bytes on a local file system.
		old.Close()
	}
	if err != nil {
		return n, fmt.Errorf("logs: %w", err)
	}
	return n, rotateErr
}

// rotateLocked moves the current file to name.1 (shifting older backups) or,
// without backups, truncates it, and makes a fresh file current. It returns
// the replaced file for the caller to close once the mutex is released. On
// error the current file stays in use, so the pending Write loses nothing.
func (w *Writer) rotateLocked() (*os.File, error) {
	if w.backups == 0 {
		// supervisord reopens with 'wb': the same file, emptied.
		old, err := w.replaceLocked(true)
		if err != nil {
			return nil, w.rotateFailed(err)
		}
		return old, nil
	}
	for i := w.backups - 1; i > 0; i-- {
		if _, err := renameIfExists(backupName(w.path, i), backupName(w.path, i+1)); err != nil {
			return nil, w.rotateFailed(err)
		}
	}
	// A missing current file (removed by a cleanup script) is not an error,
	// as in supervisord: the open file is simply left behind.
	moved, err := renameIfExists(w.path, backupName(w.path, 1))
	if err != nil {
		return nil, w.rotateFailed(err)
	}
	old, err := w.replaceLocked(false)
	if err != nil {
		if moved {
			// Best effort: put the file back where readers look for it. The
			// open descriptor follows it either way.
			os.Rename(backupName(w.path, 1), w.path)
		}
		return nil, w.rotateFailed(err)
	}
	return old, nil
}

func (w *Writer) rotateFailed(err error) error {
	w.retryAt = w.size + w.maxBytes
	return fmt.Errorf("logs: rotate %s: %w", w.path, err)
}

// replaceLocked opens path again (emptied if trunc) and makes it current.
// It returns the previous file, which the caller closes after unlocking.
func (w *Writer) replaceLocked(trunc bool) (*os.File, error) {
	f, fi, readable, err := openFile(w.path, trunc)
	if err != nil {
		return nil, err
	}
	old := w.f
	w.f, w.size, w.regular, w.readable = f, fi.Size(), fi.Mode().IsRegular(), readable
	w.retryAt = 0
	w.gen++
	if trunc {
		w.truncated = w.gen
	}
	w.notifyLocked()
	return old, nil
}

func renameIfExists(from, to string) (bool, error) {
	err := os.Rename(from, to)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func backupName(path string, i int) string { return path + "." + strconv.Itoa(i) }

// Clear empties the current file (clearProcessLogs, clearLog). Backups are
// kept, as supervisord keeps them. After Close, Clear still empties the file
// by path (creating it, as supervisord's reopen does), so the log of a
// stopped process can be cleared through its last Writer.
func (w *Writer) Clear() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("logs: clear: %w", err)
		}
		return f.Close()
	}
	old, err := w.replaceLocked(true)
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("logs: clear: %w", err)
	}
	old.Close()
	return nil
}

// Reopen opens path again and writes there from now on: after an external
// rotation (logrotate renamed the file, then sent SIGUSR2) the Writer stops
// writing to the renamed file. If the open fails, the Writer keeps the file
// it had.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("logs: reopen %s: %w", w.path, os.ErrClosed)
	}
	old, err := w.replaceLocked(false)
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("logs: reopen: %w", err)
	}
	old.Close()
	return nil
}

// Close closes the file and ends every Follow stream once it has delivered
// the last bytes. Writes fail afterwards; ReadLog, TailLog and Clear go by
// path. Closing twice is not an error.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	f := w.f
	w.notifyLocked()
	w.mu.Unlock()
	if err := f.Close(); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}
