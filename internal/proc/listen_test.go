package proc

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestListenersAndListenPID: listeners arrive at fd 3, 4 (before the extra
// streams), a passed stdin file is fd 0, and LISTEN_PID is the program's
// own pid, which Start returns.
func TestListenersAndListenPID(t *testing.T) {
	var files []*os.File
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	ino := func(f *os.File) string {
		l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	script := `echo "$LISTEN_PID $$ $(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/3) $(readlink /proc/$$/fd/4)"`
	p, err := Start(Spec{Path: "sh", Args: []string{"-c", script}, Env: []string{"PATH=" + os.Getenv("PATH")},
		Umask: -1, Stdout: true, StdinFile: files[0], Listeners: files[1:], ListenPID: true, ExtraStreams: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	p.Stdout.Close()
	for _, s := range p.Streams {
		s.Close()
	}
	var ws syscall.WaitStatus
	syscall.Wait4(p.Pid, &ws, 0, nil) // stdout closed: the child is exiting
	got := strings.Fields(string(out))
	want := []string{fmt.Sprint(p.Pid), fmt.Sprint(p.Pid), ino(files[0]), ino(files[1]), ino(files[2])}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("child saw %q, want %q", got, want)
	}
}
