package probe

import (
	"errors"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"golang.org/x/sys/unix"
)

func listen(t *testing.T) *Notifier {
	t.Helper()
	n, err := ListenNotify(filepath.Join(t.TempDir(), "notify"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func recv(t *testing.T, n *Notifier) NotifyMsg {
	t.Helper()
	select {
	case m, ok := <-n.C():
		if !ok {
			t.Fatal("notify channel closed")
		}
		return m
	case <-time.After(wait):
		t.Fatalf("no notify message within %v", wait)
		return NotifyMsg{}
	}
}

// helper starts the test binary as a gaffertest helper with NOTIFY_SOCKET set.
func helper(t *testing.T, socket, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(gaffertest.Self(t), args...)
	cmd.Env = append(os.Environ(), gaffertest.HelperEnv+"="+name, "NOTIFY_SOCKET="+socket)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestNotifyFromAChildCarriesItsPid(t *testing.T) {
	n := listen(t)
	cmd := helper(t, n.Path(), "probe-notify", "READY=1\nSTATUS=serving on :8080\n")
	m := recv(t, n)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	want := map[string]string{"READY": "1", "STATUS": "serving on :8080"}
	if m.Pid != cmd.Process.Pid || !maps.Equal(m.Vars, want) {
		t.Fatalf("got pid %d %v, want pid %d %v", m.Pid, m.Vars, cmd.Process.Pid, want)
	}
}

func TestNotifyReadyHelper(t *testing.T) {
	n := listen(t)
	cmd := helper(t, n.Path(), "notify-ready", "0")
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	m := recv(t, n)
	if m.Pid != cmd.Process.Pid || !maps.Equal(m.Vars, map[string]string{"READY": "1"}) {
		t.Fatalf("got pid %d %v, want pid %d READY=1", m.Pid, m.Vars, cmd.Process.Pid)
	}
	if gaffertest.Gone(cmd.Process.Pid) {
		t.Fatal("notify-ready exited instead of running on")
	}
}

func TestNotifySocketIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	n := listen(t)
	fi, err := os.Lstat(n.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
}

func TestListenNotifyReplacesAStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close() // leaves the file behind, as a crashed daemon would
	if _, err := os.Lstat(path); err != nil {
		t.Fatal(err)
	}
	n, err := ListenNotify(path)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := Notify(path, "READY=1"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, n); m.Pid != os.Getpid() || m.Vars["READY"] != "1" {
		t.Fatalf("got %+v", m)
	}
}

func TestListenNotifyRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, strings.Repeat("x", 120))
	tests := []struct {
		path, want string
	}{
		{"", "empty path"},
		{regular, "exists and is not a socket"},
		{long, "the limit is 107"},
	}
	for _, tt := range tests {
		n, err := ListenNotify(tt.path)
		if err == nil {
			n.Close()
			t.Fatalf("ListenNotify(%q) works", tt.path)
		}
		if !errors.Is(err, ErrNotifyPath) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ListenNotify(%q): %v, want ErrNotifyPath saying %q", tt.path, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep me" {
		t.Fatalf("the regular file was changed: %q", b)
	}
	if _, err := os.Lstat(long); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a socket was created at the long path: %v", err)
	}
	if err := Notify("", "READY=1"); !errors.Is(err, ErrNotifyPath) {
		t.Fatalf("Notify without a path: %v", err)
	}
}

func TestNotifyOverflowDropsTheOldest(t *testing.T) {
	n := listen(t)
	const extra = 10
	for i := range notifyQueue + extra {
		if err := Notify(n.Path(), "N="+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	gaffertest.Eventually(t, wait, "overflow", func() bool { return n.Dropped() == extra })
	for i := extra; i < notifyQueue+extra; i++ {
		if m := recv(t, n); m.Vars["N"] != strconv.Itoa(i) {
			t.Fatalf("got N=%s, want %d", m.Vars["N"], i)
		}
	}
	if n.Dropped() != extra {
		t.Fatalf("dropped %d, want %d", n.Dropped(), extra)
	}
}

func TestNotifyIgnoresBadDatagrams(t *testing.T) {
	n := listen(t)
	for _, bad := range []string{"READY=1\x00", strings.Repeat("X", maxNotify+1)} {
		if err := Notify(n.Path(), bad); err != nil {
			t.Fatal(err)
		}
	}
	if err := Notify(n.Path(), "READY=1\nnot a pair\n=nokey\n\nSTATUS=a=b"); err != nil {
		t.Fatal(err)
	}
	m := recv(t, n) // datagrams arrive in order: the bad ones were skipped
	if want := map[string]string{"READY": "1", "STATUS": "a=b"}; !maps.Equal(m.Vars, want) {
		t.Fatalf("got %v, want %v", m.Vars, want)
	}
}

func TestNotifyClosesPassedDescriptors(t *testing.T) {
	n := listen(t)
	fds := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	before := fds()
	rights := unix.UnixRights(int(r.Fd()), int(w.Fd()))
	if err := unix.Sendmsg(sock, []byte("FDSTORE=1"), rights, &unix.SockaddrUnix{Name: n.Path()}, 0); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, n); m.Vars["FDSTORE"] != "1" {
		t.Fatalf("got %+v", m)
	}
	if after := fds(); after != before {
		t.Fatalf("%d open descriptors after receiving two, want %d", after, before)
	}
	r.Close()
	w.Close()
}

func TestNotifyCloseRemovesTheSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	n, err := ListenNotify(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Close: %v", err)
	}
	if _, ok := <-n.C(); ok {
		t.Fatal("channel open after Close")
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := Notify(path, "READY=1"); err == nil {
		t.Fatal("Notify to a closed socket works")
	}
}

func TestNotifyCloseLeavesAReplacedSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	a, err := ListenNotify(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ListenNotify(path) // replaces a's file
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Close()
	if err := Notify(path, "READY=1"); err != nil {
		t.Fatalf("the second listener's socket is gone: %v", err)
	}
	recv(t, b)
}

func FuzzParseNotify(f *testing.F) {
	for _, s := range []string{"READY=1", "READY=1\nSTATUS=ok\n", "STATUS=a=b", "=x\nnokey\n\n", "A=1\nA=2",
		"READY=1\x00", "MAINPID=42\r\n", "\n\n\n", "ERRNO=2\nBUSERROR=org.x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vars, ok := ParseNotify(b)
		if hasNUL := strings.IndexByte(string(b), 0) >= 0; ok == hasNUL {
			t.Fatalf("ok=%v for a datagram with NUL=%v", ok, hasNUL)
		}
		if !ok {
			return
		}
		var lines []string
		for k, v := range vars {
			if k == "" || strings.ContainsAny(k, "=\n") || strings.Contains(v, "\n") {
				t.Fatalf("bad pair %q=%q", k, v)
			}
			if !strings.Contains("\n"+string(b)+"\n", "\n"+k+"="+v+"\n") {
				t.Fatalf("pair %q=%q is not a line of the input", k, v)
			}
			lines = append(lines, k+"="+v)
		}
		again, _ := ParseNotify([]byte(strings.Join(lines, "\n")))
		if !maps.Equal(vars, again) {
			t.Fatalf("reparsed %v, want %v", again, vars)
		}
	})
}
