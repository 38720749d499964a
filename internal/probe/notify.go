package probe

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NotifyMsg is one sd_notify datagram: its KEY=VALUE lines and the pid of
// the process that sent it, as the kernel reported it.
type NotifyMsg struct {
	Pid  int
	Vars map[string]string // e.g. READY=1, STATUS=…, MAINPID=…
}

// Notifier is a listening sd_notify socket.
type Notifier struct {
	path    string        // immutable
	conn    *net.UnixConn // immutable; closed by Close
	file    os.FileInfo   // the socket file as bound, to remove only our own
	c       chan NotifyMsg
	dropped atomic.Uint64
	done    chan struct{} // closed when the reader has exited
	once    sync.Once
	err     error // of Close, set once
}

// notifyQueue is the capacity of a Notifier's channel.
const notifyQueue = 64

// maxNotify is the largest datagram accepted, as systemd's
// NOTIFY_BUFFER_MAX; longer ones are dropped, not truncated.
const maxNotify = 4096

// ErrNotifyPath is returned for a socket path that cannot be used.
var ErrNotifyPath = errors.New("bad notify socket path")

// ListenNotify opens a unix datagram socket at path (mode 0600) for
// sd_notify messages and starts reading it. A stale socket file at path is
// removed first; any other file there is an error. The sender of every
// message is identified by the kernel (SO_PASSCRED), so a process cannot
// speak for another.
func ListenNotify(path string) (*Notifier, error) {
	var sa unix.RawSockaddrUnix
	switch {
	case path == "":
		return nil, fmt.Errorf("listen notify: empty path: %w", ErrNotifyPath)
	case len(path) >= len(sa.Path):
		return nil, fmt.Errorf("listen notify %s: path is %d bytes, the limit is %d: %w", path, len(path), len(sa.Path)-1, ErrNotifyPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("listen notify %s: exists and is not a socket: %w", path, ErrNotifyPath)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen notify: remove stale socket: %w", err)
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("listen notify %s: %w", path, os.NewSyscallError("socket", err))
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() // net.FileConn dups it
	// Linux creates the socket file with the socket's own mode (minus the
	// umask), so setting it before bind leaves no moment where another user
	// could write to it.
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return nil, fmt.Errorf("listen notify %s: %w", path, os.NewSyscallError("fchmod", err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return nil, fmt.Errorf("listen notify %s: %w", path, os.NewSyscallError("setsockopt SO_PASSCRED", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, fmt.Errorf("listen notify %s: %w", path, os.NewSyscallError("bind", err))
	}
	fi, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("listen notify: %w", err)
	}
	fc, err := net.FileConn(f)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("listen notify %s: %w", path, err)
	}
	n := &Notifier{path: path, conn: fc.(*net.UnixConn), file: fi,
		c: make(chan NotifyMsg, notifyQueue), done: make(chan struct{})}
	go n.read()
	return n, nil
}

// Path returns the socket's path, the value for $NOTIFY_SOCKET.
func (n *Notifier) Path() string { return n.path }

// C delivers the messages. It is closed after Close. When the reader falls
// behind by more than the channel's capacity, the oldest message is dropped.
func (n *Notifier) C() <-chan NotifyMsg { return n.c }

// Dropped returns how many messages were dropped because C was full.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// Close stops reading, closes C and removes the socket file.
func (n *Notifier) Close() error {
	n.once.Do(func() {
		n.err = n.conn.Close()
		<-n.done
		if fi, err := os.Lstat(n.path); err == nil && os.SameFile(fi, n.file) {
			if err := os.Remove(n.path); err != nil && n.err == nil {
				n.err = err
			}
		}
	})
	return n.err
}

// read is the Notifier's goroutine: it owns the sending side of c.
func (n *Notifier) read() {
	defer close(n.done)
	defer close(n.c)
	buf := make([]byte, maxNotify+1)
	// Room for the credentials and for descriptors a sender may pass
	// (FDSTORE=1), which are closed: they are not kept.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*253))
	for {
		nb, noob, flags, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient error on one datagram
		}
		pid, ok := credentials(oob[:noob])
		if !ok || nb > maxNotify || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			continue
		}
		vars, ok := ParseNotify(buf[:nb])
		if !ok {
			continue
		}
		n.deliver(NotifyMsg{Pid: pid, Vars: vars})
	}
}

// deliver sends m on c, dropping the oldest queued message while c is full.
// Only read sends, so the loop ends after at most one drop.
func (n *Notifier) deliver(m NotifyMsg) {
	for {
		select {
		case n.c <- m:
			return
		default:
		}
		select {
		case <-n.c:
			n.dropped.Add(1)
		default:
		}
	}
}

// credentials returns the sender's pid from the control messages, closing
// any descriptors that came with them.
func credentials(oob []byte) (pid int, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch m.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&m); err == nil && cred.Pid > 0 {
				pid, ok = int(cred.Pid), true
			}
		case unix.SCM_RIGHTS:
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
		}
	}
	return pid, ok
}

// ParseNotify reads an sd_notify datagram as systemd does: newline-separated
// KEY=VALUE lines; empty lines and lines without "=" or with an empty key are
// ignored; a later assignment of a key wins. A datagram with a NUL byte is
// refused (ok false), as systemd refuses it.
func ParseNotify(b []byte) (vars map[string]string, ok bool) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, false
	}
	vars = map[string]string{}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, found := bytes.Cut(line, []byte("="))
		if !found || len(k) == 0 {
			continue
		}
		vars[string(k)] = string(v)
	}
	return vars, true
}

// Notify sends state (e.g. "READY=1\nSTATUS=listening") to the sd_notify
// socket at socketPath, as a supervised program does with $NOTIFY_SOCKET. A
// path starting with "@" names an abstract socket.
func Notify(socketPath, state string) error {
	if socketPath == "" {
		return fmt.Errorf("notify: no socket path (is NOTIFY_SOCKET set?): %w", ErrNotifyPath)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socketPath, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify %s: %w", socketPath, err)
	}
	return nil
}
