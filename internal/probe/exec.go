package probe

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/internal/proc"
)

// maxOutput bounds the output an exec probe keeps; the rest is discarded.
const maxOutput = 4 << 10

// waitDelay bounds how long ExecRunner waits for the output pipe to close
// after the command has exited (a background child may hold it open).
const waitDelay = 100 * time.Millisecond

// ExecRunner is the default Runner. It runs argv in a process group of its
// own (the program is looked up in env's PATH, as jobs are), and when ctx is
// done it kills the whole group with SIGKILL, so a shell's children do not
// outlive the check. It uses os/exec's Wait, so it must not be used by a
// program that reaps every child itself.
func ExecRunner(ctx context.Context, argv, env []string, dir string) (int, string, error) {
	path, err := proc.LookPath(argv[0], envValue(env, "PATH"), dir)
	if err != nil {
		return 0, "", err
	}
	out := &limitedBuffer{max: maxOutput}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	if cmd.ProcessState == nil {
		return 0, "", err // did not start
	}
	if ctx.Err() != nil {
		return 0, out.String(), ctx.Err()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return 0, out.String(), err
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), out.String(), nil
	}
	return ws.ExitStatus(), out.String(), nil
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, so a chatty probe never blocks or grows memory.
type limitedBuffer struct {
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
