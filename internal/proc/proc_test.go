package proc

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLookPathUsesTheChildsPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	if got, err := LookPath("tool", "/nonexistent:"+dir, ""); err != nil || got != exe {
		t.Fatalf("LookPath(tool) = %q, %v", got, err)
	}
	if _, err := LookPath("tool", "/usr/bin", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tool outside PATH: %v, want ErrNotFound", err)
	}
	if _, err := LookPath(plain, "", ""); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("non-executable file: %v, want permission error", err)
	}
	if _, err := LookPath("./tool", "", dir); err != nil {
		t.Fatalf("relative to the child's directory: %v", err)
	}
}

func TestStartCapturesOutputAndReapsExitCode(t *testing.T) {
	p, err := Start(Spec{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2; exit 7"},
		Stdout: true, Stderr: true, MergeStderr: true, Umask: -1})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	p.Stdout.Close()
	if got := string(out); got != "out\nerr\n" {
		t.Errorf("merged output = %q", got)
	}
	var ex Exit
	deadline := time.Now().Add(10 * time.Second)
	for ok := false; !ok; ex, ok = Reap(p.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("child not reaped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ex.Code != 7 || ex.Signal != 0 {
		t.Fatalf("exit = %+v, want code 7", ex)
	}
	// A reaped pid is gone: signalling it is not an error.
	if err := Signal(p.Pid, syscall.SIGTERM, true); err != nil {
		t.Fatalf("signal after reap: %v", err)
	}
}

func TestStartNamesWhatFailed(t *testing.T) {
	_, err := Start(Spec{Path: "no-such-program-anywhere", Umask: -1})
	var se *SpawnError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "no-such-program-anywhere") {
		t.Fatalf("err = %v, want a SpawnError naming the program", err)
	}
}
