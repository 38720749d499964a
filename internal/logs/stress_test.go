package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stressLine is line i of the stress stream: numbered, 10 to 159 bytes.
func stressLine(i int) []byte {
	return fmt.Appendf(nil, "%08d %s\n", i, strings.Repeat(string(rune('a'+i%26)), i*7%150))
}

const maxStressLine = 159

// stressLines checks that data is a contiguous piece of the stress stream:
// past the first newline (data may start mid-line), every complete line is
// well formed and numbered one more than the previous. It returns the numbers
// of the first and last complete lines (-1 if none).
func stressLines(data []byte, fromLineStart bool) (first, last int, err error) {
	if !fromLineStart {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return -1, -1, nil
		}
		data = data[i+1:]
	}
	first, last = -1, -1
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // a partial last line
		}
		l := data[:i+1]
		data = data[i+1:]
		n, err := strconv.Atoi(string(l[:min(8, len(l))]))
		if err != nil || !bytes.Equal(l, stressLine(n)) {
			return first, last, fmt.Errorf("malformed line %q", l)
		}
		if last >= 0 && n != last+1 {
			return first, last, fmt.Errorf("line %d after line %d", n, last)
		}
		if first < 0 {
			first = n
		}
		last = n
	}
	return first, last, nil
}

// TestStressRotationLosesNothing writes 20 MB of numbered lines through a
// Writer with a small MaxBytes while other goroutines read, tail and follow
// it. Afterwards the backups, oldest first, then the current file, must be
// exactly the bytes written.
func TestStressRotationLosesNothing(t *testing.T) {
	checkGoroutines(t)
	total := 20 << 20
	if testing.Short() {
		total = 2 << 20
	}
	const maxBytes = 64 << 10
	backups := total/(maxBytes-maxStressLine) + 3 // enough to keep everything
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w := mustOpen(t, path, maxBytes, backups)
	// A bound, not a timing: 20 MB under the race detector on a loaded
	// machine can take more than testContext's 10 s.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	// Readers by the supervisor rules, through the Writer and by path.
	wg.Go(func() {
		var reads, missing int
		var off int64
		for {
			select {
			case <-done:
				t.Logf("%d reads; ReadFile found no file %d times (rotation window)", reads, missing)
				return
			default:
			}
			reads++
			data, err := w.ReadLog(-8192, 0)
			if err != nil {
				report(fmt.Errorf("ReadLog: %w", err))
				return
			}
			if _, _, err := stressLines(data, false); err != nil {
				report(fmt.Errorf("ReadLog: %w", err))
				return
			}
			data, off, _, err = w.TailLog(off, 4096)
			if err != nil {
				report(fmt.Errorf("TailLog: %w", err))
				return
			}
			if _, _, err := stressLines(data, false); err != nil {
				report(fmt.Errorf("TailLog: %w", err))
				return
			}
			if s := w.Size(); s > maxBytes {
				report(fmt.Errorf("Size() = %d > MaxBytes with lines shorter than MaxBytes", s))
				return
			}
			data, err = ReadFile(path, 0, 4096)
			if errors.Is(err, fs.ErrNotExist) {
				missing++ // between the rename to log.1 and the new log
				continue
			}
			if err != nil {
				report(fmt.Errorf("ReadFile: %w", err))
				return
			}
			if _, _, err := stressLines(data, true); err != nil {
				report(fmt.Errorf("ReadFile: %w", err))
				return
			}
			data, _, _, err = TailFile(path, 0, 4096)
			if err != nil {
				report(fmt.Errorf("TailFile: %w", err))
				return
			}
			if _, _, err := stressLines(data, false); err != nil {
				report(fmt.Errorf("TailFile: %w", err))
				return
			}
		}
	})

	// A follower: lines in order, whole, none repeated, and the very last one
	// at the end. It may skip files if it falls more than one rotation behind.
	ch := mustFollow(t, ctx, w, 0)
	lastFollowed := -1
	wg.Go(func() {
		var buf []byte
		for b := range ch {
			buf = append(buf, b...)
			i := bytes.LastIndexByte(buf, '\n')
			if i < 0 {
				continue
			}
			first, last, err := stressLines(buf[:i+1], true)
			if err == nil && first >= 0 && first <= lastFollowed {
				err = fmt.Errorf("line %d after line %d", first, lastFollowed)
			}
			if err != nil {
				report(fmt.Errorf("Follow: %w", err))
				for range ch {
				}
				return
			}
			if last >= 0 {
				lastFollowed = last
			}
			buf = append(buf[:0], buf[i+1:]...)
		}
		if len(buf) != 0 {
			report(fmt.Errorf("Follow ended with a partial line %q", buf))
		}
	})

	var written bytes.Buffer
	written.Grow(total + maxStressLine)
	n := 0
	for ; written.Len() < total; n++ {
		l := stressLine(n)
		written.Write(l)
		if k, err := w.Write(l); err != nil || k != len(l) {
			t.Fatalf("Write(line %d) = %d, %v", n, k, err)
		}
	}
	close(done)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if lastFollowed != n-1 {
		t.Errorf("Follow ended at line %d, want %d", lastFollowed, n-1)
	}

	// Exactly log.1 … log.k and log, nothing else, none over MaxBytes.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := len(entries) - 1
	if k >= backups {
		t.Fatalf("%d backups, want fewer than %d (test too small?)", k, backups)
	}
	var all bytes.Buffer
	for i := k; i >= 0; i-- {
		name := path
		if i > 0 {
			name = backupName(path, i)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > maxBytes {
			t.Errorf("%s: %d bytes, more than MaxBytes", filepath.Base(name), len(b))
		}
		all.Write(b)
	}
	if !bytes.Equal(all.Bytes(), written.Bytes()) {
		first, last, err := stressLines(all.Bytes(), true)
		t.Errorf("backups + current: %d bytes (lines %d..%d, %v), want the %d bytes written (lines 0..%d)",
			all.Len(), first, last, err, written.Len(), n-1)
	}
	t.Logf("%d lines, %d bytes, %d rotations", n, written.Len(), k)
}
