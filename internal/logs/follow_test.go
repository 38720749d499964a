package logs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// checkGoroutines fails the test if goroutines started during it are still
// there at cleanup (like tailscale's tstest.ResourceCheck). There is no event
// for a goroutine's exit, so this is the one place that waits by polling.
func checkGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines: %d, want %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receive reads from a Follow stream until it has n bytes.
func receive(t *testing.T, ctx context.Context, ch <-chan []byte, n int) string {
	t.Helper()
	var got []byte
	for len(got) < n {
		select {
		case b, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed after %q, want %d bytes", got, n)
			}
			got = append(got, b...)
		case <-ctx.Done():
			t.Fatalf("after %q: %v", got, ctx.Err())
		}
	}
	return string(got)
}

// receiveAll reads a Follow stream until it is closed.
func receiveAll(t *testing.T, ctx context.Context, ch <-chan []byte) string {
	t.Helper()
	var got []byte
	for {
		select {
		case b, ok := <-ch:
			if !ok {
				return string(got)
			}
			got = append(got, b...)
		case <-ctx.Done():
			t.Fatalf("after %q: %v", got, ctx.Err())
		}
	}
}

func mustFollow(t *testing.T, ctx context.Context, w *Writer, offset int64) <-chan []byte {
	t.Helper()
	ch, err := w.Follow(ctx, offset)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestChangedIsClosedByTheNextChange(t *testing.T) {
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 4, 1)
	for _, change := range []struct {
		name string
		do   func() error
	}{
		{"Write", func() error { _, err := w.Write([]byte("abc")); return err }},
		{"rotating Write", func() error { _, err := w.Write([]byte("defg")); return err }},
		{"Clear", w.Clear},
		{"Reopen", w.Reopen},
		{"Close", w.Close},
	} {
		ch := w.Changed()
		if ch != w.Changed() {
			t.Errorf("before %s: two channels for one change", change.name)
		}
		if closed(ch) {
			t.Fatalf("before %s: channel already closed", change.name)
		}
		if err := change.do(); err != nil {
			t.Fatal(err)
		}
		if !closed(ch) {
			t.Errorf("%s did not close the channel", change.name)
		}
	}
	if !closed(w.Changed()) {
		t.Error("Changed after Close is not closed")
	}
}

func TestFollowSendsExistingThenNewBytes(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
	mustWrite(t, w, "hello ")
	ch := mustFollow(t, ctx, w, 0)
	mustWrite(t, w, "world")
	if got := receive(t, ctx, ch, 11); got != "hello world" {
		t.Errorf("stream = %q", got)
	}
	mustWrite(t, w, "!")
	w.Close()
	if got := receiveAll(t, ctx, ch); got != "!" {
		t.Errorf("after Close, stream = %q, want the last byte then the end", got)
	}
}

func TestFollowOffsets(t *testing.T) {
	checkGoroutines(t)
	tests := []struct {
		offset int64
		want   string
	}{
		{0, tenBytes},
		{4, "456789"},
		{10, ""},
		{99, ""},
		{-3, "789"},
		{-99, tenBytes},
	}
	for _, tt := range tests {
		ctx := testContext(t)
		w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
		mustWrite(t, w, tenBytes)
		ch := mustFollow(t, ctx, w, tt.offset)
		w.Close()
		if got := receiveAll(t, ctx, ch); got != tt.want {
			t.Errorf("Follow(%d) = %q, want %q", tt.offset, got, tt.want)
		}
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 20, 1)
	ch := mustFollow(t, ctx, w, 0)
	// One rotation, whenever the follower runs: it drains log.1, then log.
	mustWrite(t, w, "aaaaaaaa", "bbbbbbbb", "cccccccc")
	if got := receive(t, ctx, ch, 24); got != "aaaaaaaabbbbbbbbcccccccc" {
		t.Errorf("stream = %q", got)
	}
}

func TestFollowAcrossRotationWithoutBackups(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 10, 0)
	ch := mustFollow(t, ctx, w, 0)
	mustWrite(t, w, "aaaaaaaa")
	if got := receive(t, ctx, ch, 8); got != "aaaaaaaa" {
		t.Fatalf("stream = %q", got)
	}
	mustWrite(t, w, "bbbbbbbb") // truncates the file: the stream starts over at 0
	if got := receive(t, ctx, ch, 8); got != "bbbbbbbb" {
		t.Errorf("after truncating rotation, stream = %q", got)
	}
}

func TestFollowAcrossExternalRenameAndReopen(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "log")
	w := mustOpen(t, path, 0, 0)
	ch := mustFollow(t, ctx, w, 0)
	mustWrite(t, w, "before ")
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "rename ")
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "after")
	if got := receive(t, ctx, ch, 19); got != "before rename after" {
		t.Errorf("stream = %q", got)
	}
}

func TestFollowReopenOfTheSameFileRepeatsNothing(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
	ch := mustFollow(t, ctx, w, 0)
	mustWrite(t, w, "first ")
	if got := receive(t, ctx, ch, 6); got != "first " {
		t.Fatalf("stream = %q", got)
	}
	if err := w.Reopen(); err != nil { // SIGUSR2 with nothing renamed
		t.Fatal(err)
	}
	mustWrite(t, w, "second")
	w.Close()
	if got := receiveAll(t, ctx, ch); got != "second" {
		t.Errorf("after Reopen, stream = %q, want %q", got, "second")
	}
}

func TestFollowAfterClearStartsOver(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
	mustWrite(t, w, "old output ")
	ch := mustFollow(t, ctx, w, 0)
	if got := receive(t, ctx, ch, 11); got != "old output " {
		t.Fatalf("stream = %q", got)
	}
	if err := w.Clear(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "new")
	w.Close()
	if got := receiveAll(t, ctx, ch); got != "new" {
		t.Errorf("after Clear, stream = %q, want %q", got, "new")
	}
}

func TestFollowCloseRightAfterRotation(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 10, 1)
	mustWrite(t, w, "aaaaaaaa")
	ch := mustFollow(t, ctx, w, 0)
	mustWrite(t, w, "bbbbbbbb") // rotates
	w.Close()
	if got := receiveAll(t, ctx, ch); got != "aaaaaaaabbbbbbbb" {
		t.Errorf("stream = %q", got)
	}
}

func TestFollowEndsWhenContextIsDone(t *testing.T) {
	checkGoroutines(t)
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
	mustWrite(t, w, "unread")
	ctx, cancel := context.WithCancel(t.Context())
	ch := mustFollow(t, ctx, w, 0) // nobody receives: the goroutine blocks sending
	cancel()
	for range ch { // drains whatever was in flight, then sees the close
	}
}

func TestFollowErrors(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "log"), 0, 0)
	w.Close()
	if _, err := w.Follow(t.Context(), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Follow on a closed Writer: %v, want os.ErrClosed", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	w = mustOpen(t, fifo, 0, 0)
	if _, err := w.Follow(t.Context(), 0); err == nil {
		t.Error("Follow on a FIFO: no error")
	}
}
