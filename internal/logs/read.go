package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrBadArguments is returned for an offset and length that the supervisor
// rules reject: a negative length, or a negative offset with a non-zero
// length. The XML-RPC layer reports it as BAD_ARGUMENTS.
var ErrBadArguments = errors.New("logs: bad arguments")

// ReadFile reads the log file at path by supervisor's readLog rules (§4.3):
//
//   - offset >= 0, length >= 0: length bytes from offset, or up to the end
//     of the file when length is 0 (nothing when offset is past the end);
//   - offset < 0, length 0: the last -offset bytes (the whole file if it is
//     shorter);
//   - a negative length, or a negative offset with a non-zero length:
//     [ErrBadArguments].
//
// A missing file is an error wrapping [fs.ErrNotExist] (NO_FILE); it wins
// over bad arguments, because supervisord checks the file first. Any other
// error is returned as is (FAILED). Only the current file is read, never
// the backups.
func ReadFile(path string, offset, length int64) ([]byte, error) {
	f, size, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRange(f, size, offset, length)
}

// TailFile reads the log file at path by supervisor's tailProcessLog rules
// (§4.3): if the file is larger than offset+length, overflow is true and
// data is its last length bytes (none if length is negative); otherwise data
// is what exists from offset to the end. newOffset is always the file's
// size, to be passed back as offset next time. A missing file gives ("", 0,
// false, nil), as supervisord answers for a process without a log; other
// errors are returned as is.
func TailFile(path string, offset, length int64) (data []byte, newOffset int64, overflow bool, err error) {
	f, size, err := openRead(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	defer f.Close()
	return tailRange(f, size, offset, length)
}

func openRead(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("logs: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("logs: %w", err)
	}
	return f, fi.Size(), nil
}

// ReadLog is [ReadFile] on the Writer's current file, through its own
// descriptor: it needs no open or stat, and a concurrent rotation never makes
// the file look missing. After Close (or for a file the Writer could not open
// for reading) it is ReadFile on the path.
func (w *Writer) ReadLog(offset, length int64) ([]byte, error) {
	for {
		f, size, ok := w.snapshot()
		if !ok {
			return ReadFile(w.path, offset, length)
		}
		data, err := readRange(f, size, offset, length)
		if errors.Is(err, os.ErrClosed) {
			continue // replaced while we read: read the new file
		}
		return data, err
	}
}

// TailLog is [TailFile] on the Writer's current file, with the size the
// Writer counted; see [Writer.ReadLog].
func (w *Writer) TailLog(offset, length int64) (data []byte, newOffset int64, overflow bool, err error) {
	for {
		f, size, ok := w.snapshot()
		if !ok {
			return TailFile(w.path, offset, length)
		}
		data, newOffset, overflow, err = tailRange(f, size, offset, length)
		if errors.Is(err, os.ErrClosed) {
			continue
		}
		return data, newOffset, overflow, err
	}
}

// snapshot returns the current file and its size, for a read without the
// mutex. A rotation may close f during the read: the read then fails with
// os.ErrClosed and is retried on the new file.
func (w *Writer) snapshot() (*os.File, int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.readable {
		return nil, 0, false
	}
	return w.f, w.size, true
}

// readRange applies the readLog rules to a file of the given size.
func readRange(r io.ReaderAt, size, offset, length int64) ([]byte, error) {
	if offset < 0 {
		if length != 0 {
			return nil, ErrBadArguments
		}
		start := max(size+offset, 0) // cannot overflow: size >= 0
		return readAt(r, start, size-start)
	}
	if length < 0 {
		return nil, ErrBadArguments
	}
	if offset >= size {
		return []byte{}, nil
	}
	n := size - offset
	if length > 0 && length < n {
		n = length
	}
	return readAt(r, offset, n)
}

// tailRange applies the tailProcessLog rules to a file of the given size.
func tailRange(r io.ReaderAt, size, offset, length int64) ([]byte, int64, bool, error) {
	if sumLess(offset, length, size) {
		start := max(size-max(length, 0), 0)
		data, err := readAt(r, start, size-start)
		return data, size, true, err
	}
	// Here size <= offset+length, so at most length bytes remain after offset.
	start := max(offset, 0)
	if start >= size {
		return []byte{}, size, false, nil
	}
	data, err := readAt(r, start, size-start)
	return data, size, false, err
}

// sumLess reports whether a+b < c, exactly, for any int64 values.
func sumLess(a, b, c int64) bool {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0: // overflowed upwards
		return false
	case a < 0 && b < 0 && s >= 0: // overflowed downwards
		return true
	}
	return s < c
}

// readAt reads n bytes at off. A file that shrank meanwhile gives fewer.
func readAt(r io.ReaderAt, off, n int64) ([]byte, error) {
	buf := make([]byte, n)
	k, err := r.ReadAt(buf, off)
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	return buf[:k], nil
}
