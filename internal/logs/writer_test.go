package logs

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// dirFiles returns every file in dir with its content.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

func checkFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := dirFiles(t, dir)
	if !maps.Equal(got, want) {
		t.Errorf("files in dir:\n got %q\nwant %q", got, want)
	}
}

func mustOpen(t *testing.T, path string, maxBytes int64, backups int) *Writer {
	t.Helper()
	w, err := Open(path, maxBytes, backups)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func mustWrite(t *testing.T, w *Writer, chunks ...string) {
	t.Helper()
	for _, s := range chunks {
		n, err := w.Write([]byte(s))
		if err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
}

func TestRotationKeepsBackups(t *testing.T) {
	writes := []string{"aaaa", "bbbb", "cccc", "dddd", "eeee", "ffff", "gggg", "hhhh"}
	tests := []struct {
		backups int
		want    map[string]string
	}{
		{0, map[string]string{"log": "gggghhhh"}},
		{1, map[string]string{"log": "gggghhhh", "log.1": "eeeeffff"}},
		{3, map[string]string{"log": "gggghhhh", "log.1": "eeeeffff", "log.2": "ccccdddd", "log.3": "aaaabbbb"}},
		{5, map[string]string{"log": "gggghhhh", "log.1": "eeeeffff", "log.2": "ccccdddd", "log.3": "aaaabbbb"}},
	}
	for _, tt := range tests {
		t.Run("backups="+string(rune('0'+tt.backups)), func(t *testing.T) {
			dir := t.TempDir()
			// 10 bytes: two 4-byte writes fit, the third rotates.
			w := mustOpen(t, filepath.Join(dir, "log"), 10, tt.backups)
			mustWrite(t, w, writes...)
			checkFiles(t, dir, tt.want)
			if got := w.Size(); got != 8 {
				t.Errorf("Size() = %d, want 8", got)
			}
		})
	}
}

func TestRotationDropsOldestBackup(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "log"), 4, 2)
	mustWrite(t, w, "1111", "2222", "3333", "4444", "5555")
	checkFiles(t, dir, map[string]string{"log": "5555", "log.1": "4444", "log.2": "3333"})
}

func TestWriteFillingMaxBytesExactlyDoesNotRotate(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "log"), 8, 1)
	mustWrite(t, w, "aaaa", "bbbb")
	checkFiles(t, dir, map[string]string{"log": "aaaabbbb"})
	mustWrite(t, w, "c")
	checkFiles(t, dir, map[string]string{"log": "c", "log.1": "aaaabbbb"})
}

func TestMaxBytesZeroNeverRotates(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "log"), 0, 3)
	want := strings.Repeat("0123456789", 1000)
	for i := 0; i < len(want); i += 10 {
		mustWrite(t, w, want[i:i+10])
	}
	checkFiles(t, dir, map[string]string{"log": want})
}

func TestWriteLargerThanMaxBytesIsKeptWhole(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "log"), 16, 3)
	long := strings.Repeat("L", 40) + "\n"
	// Into an empty file: no rotation of the empty file, the line is whole.
	mustWrite(t, w, long)
	checkFiles(t, dir, map[string]string{"log": long})
	// The next write rotates the oversized file away.
	mustWrite(t, w, "short\n", long, "x\n")
	checkFiles(t, dir, map[string]string{"log": "x\n", "log.1": long, "log.2": "short\n", "log.3": long})
}

func TestOpenAppendsToExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte("0123456"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := mustOpen(t, path, 10, 1)
	if got := w.Size(); got != 7 {
		t.Errorf("Size() = %d, want 7", got)
	}
	mustWrite(t, w, "78")
	mustWrite(t, w, "9ab") // 9+3 > 10: the existing bytes count
	checkFiles(t, dir, map[string]string{"log": "9ab", "log.1": "012345678"})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing", "log"), 0, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory: %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(dir, 0, 0); err == nil {
		t.Error("Open of a directory succeeded")
	}
	if _, err := Open(filepath.Join(dir, "log"), -1, 0); err == nil {
		t.Error("Open with negative maxBytes succeeded")
	}
	if _, err := Open(filepath.Join(dir, "log"), 0, -1); err == nil {
		t.Error("Open with negative backups succeeded")
	}
}

func TestOpenCreatesFileMode0644(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	mustOpen(t, path, 0, 0)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// 0644 less the umask: never more, always readable and writable by us.
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 || perm&0o600 != 0o600 {
		t.Errorf("mode %v, want 0644 less the umask", perm)
	}
}

func TestRotationToleratesRemovedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w := mustOpen(t, path, 10, 2)
	mustWrite(t, w, "aaaaaaaa")
	if err := os.Remove(path); err != nil { // a cleanup script
		t.Fatal(err)
	}
	mustWrite(t, w, "bbbbbbbb")
	checkFiles(t, dir, map[string]string{"log": "bbbbbbbb"})
}

func TestFailedRotationLosesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	// A non-empty directory at log.1 makes the rename fail, even for root.
	if err := os.MkdirAll(filepath.Join(dir, "log.1", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := mustOpen(t, path, 10, 1)
	mustWrite(t, w, "aaaaaaaa")
	n, err := w.Write([]byte("bbbb"))
	if n != 4 || err == nil {
		t.Fatalf("Write with failing rotation = %d, %v; want 4 and an error", n, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "log.1")); err != nil {
		t.Fatal(err)
	}
	// No new attempt before another MaxBytes: these stay in the same file.
	mustWrite(t, w, "cc", "dddd")
	if got := w.Size(); got != 18 {
		t.Fatalf("Size() = %d, want 18", got)
	}
	mustWrite(t, w, "ee")
	checkFiles(t, dir, map[string]string{"log": "ee", "log.1": "aaaaaaaabbbbccdddd"})
}

func TestClearEmptiesCurrentFileAndKeepsBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w := mustOpen(t, path, 8, 2)
	mustWrite(t, w, "aaaa", "bbbb", "cccc")
	if err := w.Clear(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, map[string]string{"log": "", "log.1": "aaaabbbb"})
	if got := w.Size(); got != 0 {
		t.Errorf("Size() after Clear = %d, want 0", got)
	}
	mustWrite(t, w, "dddd", "eeee", "ffff")
	checkFiles(t, dir, map[string]string{"log": "ffff", "log.1": "ddddeeee", "log.2": "aaaabbbb"})
	if got, err := w.ReadLog(0, 0); err != nil || string(got) != "ffff" {
		t.Errorf("ReadLog(0, 0) = %q, %v; want ffff", got, err)
	}
}

func TestClearAfterCloseTruncatesByPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w := mustOpen(t, path, 0, 0)
	mustWrite(t, w, "old output")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Clear(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, map[string]string{"log": ""})
	// Like supervisord's reopen, clearing a missing log creates it.
	os.Remove(path)
	if err := w.Clear(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, map[string]string{"log": ""})
}

func TestReopenAfterExternalRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w := mustOpen(t, path, 0, 0)
	mustWrite(t, w, "before ")
	if err := os.Rename(path, path+".old"); err != nil { // logrotate
		t.Fatal(err)
	}
	mustWrite(t, w, "rename ") // still the renamed file, until told
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	if got := w.Size(); got != 0 {
		t.Errorf("Size() after Reopen = %d, want 0", got)
	}
	mustWrite(t, w, "after")
	checkFiles(t, dir, map[string]string{"log": "after", "log.old": "before rename "})
}

func TestReopenSameFileKeepsSize(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "log"), 10, 1)
	mustWrite(t, w, "aaaaaa")
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	if got := w.Size(); got != 6 {
		t.Errorf("Size() after Reopen = %d, want 6", got)
	}
	mustWrite(t, w, "bbbbbb")
	checkFiles(t, dir, map[string]string{"log": "bbbbbb", "log.1": "aaaaaa"})
}

func TestWriteAfterClose(t *testing.T) {
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
	if err := w.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reopen after Close: %v, want os.ErrClosed", err)
	}
}

func TestNonRegularFileNeverRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	// O_RDWR does not block on a FIFO (Linux), and the pipe buffer holds
	// these few bytes without a reader.
	w := mustOpen(t, path, 4, 2)
	mustWrite(t, w, "aaaa", "bbbb", "cccc")
	// Names only: reading the FIFO would block.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"fifo"}) {
		t.Errorf("files after writes to a FIFO: %v, want [fifo]", names)
	}
}
