package compat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// echoScript echoes each line of its stdin back on stdout.
const echoScript = "#!/bin/sh\nwhile IFS= read -r line; do echo \"got: $line\"; done\n"

// TestCtlFg runs `supervisorctl fg` on a terminal: a typed line reaches the
// program's stdin (sendProcessStdin) and its answer comes back on the
// terminal (the /logtail stream); Ctrl-C ends fg with exit status 0 and
// leaves the program running, same pid. A program that is not running or
// does not exist is refused.
func TestCtlFg(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Files: map[string]string{"echo.sh": echoScript}, Sections: []string{
			program("echo", "command=%(here)s/echo.sh", "startsecs=0"),
			program("idle", "command=%(here)s/echo.sh", "startsecs=0", "autostart=false"),
		}})
		d.waitState("echo", "RUNNING", 10*time.Second)
		pid, _ := d.info("echo")["pid"].(int)

		d.expectCtl(1, "ERROR: process not running\n", "fg", "idle")
		d.expectCtl(1, "ERROR: bad process name supplied\n", "fg", "nope")

		term := startOnTerminal(t, d, supervisorctl, "-c", d.conf, "fg", "echo")
		term.waitFor("==> Press Ctrl-C to exit <==\r\n")
		term.write("hello fg\n")
		term.waitFor("got: hello fg\r\n")
		term.write(string(term.intr))
		term.waitFor("Exiting foreground\r\n")
		// supervisorctl's log-tail thread notices that fg is over only when
		// it wakes: on output of the program, or after 30 s. Wake it.
		d.rpc("supervisor.sendProcessStdin", "echo", "wake up\n")
		if code := term.wait(20 * time.Second); code != 0 {
			t.Errorf("supervisorctl fg exited with status %d, want 0", code)
		}
		// The terminal echoes the typed line and ^C; the program answers.
		want := "==> Press Ctrl-C to exit <==\r\nhello fg\r\ngot: hello fg\r\n^CExiting foreground\r\n"
		if got := term.output(); !strings.HasPrefix(got, want) {
			t.Errorf("terminal shows:\n%q\nwant it to begin with\n%q", got, want)
		}

		if st := d.info("echo"); st["statename"] != "RUNNING" || st["pid"] != pid {
			t.Errorf("after fg, echo is %v pid %v; want RUNNING pid %d (fg only detaches)", st["statename"], st["pid"], pid)
		}
		// The program still reads its stdin, and answered every line.
		d.rpc("supervisor.sendProcessStdin", "echo", "after fg\n")
		eventually(t, 10*time.Second, "every line answered in echo's log", func() bool {
			out, _ := d.ctl("tail", "echo")
			return out == "got: hello fg\ngot: wake up\ngot: after fg\n\n" // supervisorctl adds a newline
		})
	})
}

// terminal is a command running on a pseudo-terminal of its own, as its
// controlling terminal: what it writes is collected, and what the test
// writes is typed at it.
type terminal struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	out    *syncBuffer
	intr   byte          // the interrupt character (Ctrl-C)
	read   chan struct{} // closed when the master reads EOF or EIO: the terminal is gone
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // of cmd.Wait, read after exited
}

// startOnTerminal starts argv in d's directory with a new pseudo-terminal as
// its stdin, stdout, stderr and controlling terminal (it leads a new
// session, so Ctrl-C typed there signals it and nothing else). Cleanup
// kills it by pid if it is still running.
func startOnTerminal(t *testing.T, d *daemon, argv ...string) *terminal {
	t.Helper()
	master, slave, err := openPty()
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, master: master, out: &syncBuffer{}, intr: tio.Cc[unix.VINTR],
		read: make(chan struct{}), exited: make(chan struct{})}
	term.cmd = exec.Command(argv[0], argv[1:]...)
	term.cmd.Dir = d.dir
	// A dumb terminal: no escape sequences from readline in the transcript.
	term.cmd.Env = append(os.Environ(), "TERM=dumb")
	term.cmd.Stdin, term.cmd.Stdout, term.cmd.Stderr = slave, slave, slave
	term.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = term.cmd.Start()
	slave.Close() // the child has its own copies: EIO on the master once it is gone
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	go func() {
		defer close(term.read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() {
		term.err = term.cmd.Wait()
		close(term.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-term.exited:
		default:
			t.Errorf("%s still running at the end of the test; killing pid %d", argv[0], term.cmd.Process.Pid)
			term.cmd.Process.Kill()
			<-term.exited
		}
		master.Close()
		<-term.read
		if t.Failed() {
			t.Logf("terminal transcript:\n%q", term.output())
		}
	})
	return term
}

func (term *terminal) output() string { return term.out.String() }

// write types s at the terminal.
func (term *terminal) write(s string) {
	term.t.Helper()
	if _, err := term.master.WriteString(s); err != nil {
		term.t.Fatalf("typing %q: %v", s, err)
	}
}

// waitFor waits until the terminal has shown s.
func (term *terminal) waitFor(s string) {
	term.t.Helper()
	eventually(term.t, 10*time.Second, fmt.Sprintf("%q on the terminal", s), func() bool {
		return strings.Contains(term.output(), s)
	})
}

// wait waits for the command to exit and returns its exit status.
func (term *terminal) wait(timeout time.Duration) int {
	term.t.Helper()
	select {
	case <-term.exited:
	case <-time.After(timeout):
		term.t.Fatalf("%s did not exit within %v; terminal:\n%q", term.cmd.Path, timeout, term.output())
	}
	var ee *exec.ExitError
	if errors.As(term.err, &ee) {
		return ee.ExitCode()
	}
	if term.err != nil {
		term.t.Fatal(term.err)
	}
	return 0
}

// openPty opens a new pseudo-terminal pair (posix_openpt, unlockpt,
// ptsname). The master stays non-blocking, so closing it ends a read.
func openPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	rc, err := master.SyscallConn()
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	var n int
	cerr := rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err != nil {
			err = fmt.Errorf("unlockpt: %w", err)
			return
		}
		if n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); err != nil {
			err = fmt.Errorf("ptsname: %w", err)
		}
	})
	if err = errors.Join(cerr, err); err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}
