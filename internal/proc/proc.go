// Package proc spawns, signals and reaps child processes. It is the only
// package that creates processes in gafferd.
//
// Every child gets its own process group (or session, when detached), so a
// stop reaches its whole tree. Reaping is the caller's job: the supervisor's
// loop calls Reap for its own pids, or ReapAny when gafferd is the child
// subreaper of everything below it. Nothing here keeps state or starts
// goroutines; the functions are safe for concurrent use.
package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Spec describes one child to start.
type Spec struct {
	Path   string   // program; looked up in the child's PATH when it has no slash
	Args   []string // arguments after argv[0]
	Env    []string // KEY=VALUE
	Dir    string
	User   string // user name or number; empty = gafferd's
	Group  string // group name or number; empty = the user's primary group
	Detach bool   // new session and no parent-death signal: survives gafferd
	Umask  int    // -1 = inherit

	Stdin        bool // open a pipe to the child's stdin (else /dev/null)
	Stdout       bool // capture stdout through a pipe (else /dev/null)
	Stderr       bool // capture stderr (else /dev/null)
	MergeStderr  bool // stderr shares stdout's pipe (same label twice, or redirect_stderr)
	ExtraStreams int  // bidirectional socketpairs after the Listeners

	// StdinFile, when set, is the child's fd 0 instead of /dev/null or a
	// pipe (FastCGI: the listening socket is stdin). It stays the caller's.
	StdinFile *os.File
	// Listeners are passed at fd 3, 4, … (before the ExtraStreams), as
	// systemd's socket activation does. They stay the caller's.
	Listeners []*os.File
	// ListenPID sets LISTEN_PID to the child's own pid. A pid is known only
	// after fork, and syscall.ForkExec runs no code in the child between
	// fork and exec, so the child is started through a /bin/sh trampoline
	// that exports LISTEN_PID=$$ and execs the program: exec keeps the pid,
	// so the program sees its own pid. The cost is one extra exec of a
	// small shell; argv[0] becomes the program's resolved path. A
	// self-re-exec of the supervising binary would need every embedding
	// program to call a hook at startup; sh needs nothing.
	ListenPID bool
}

// Trampoline is the shell used for Spec.ListenPID.
const Trampoline = "/bin/sh"

// trampolineScript runs as sh -c SCRIPT PROGRAM ARGS…: $0 is the program.
const trampolineScript = `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`

// Process is a started child. The parent ends of its pipes belong to the
// caller, who must close them.
type Process struct {
	Pid     int
	Stdin   *os.File   // write end, nil unless Spec.Stdin
	Stdout  *os.File   // read end, nil unless Spec.Stdout
	Stderr  *os.File   // read end, nil unless Spec.Stderr and not merged
	Streams []*os.File // parent ends of the extra socketpairs
}

// SpawnError says which program could not be started and why.
type SpawnError struct {
	Path string
	Err  error
}

func (e *SpawnError) Error() string { return fmt.Sprintf("spawn %s: %v", e.Path, e.Err) }
func (e *SpawnError) Unwrap() error { return e.Err }

// Start forks and execs the child described by s.
func Start(s Spec) (p *Process, err error) {
	path, err := LookPath(s.Path, envValue(s.Env, "PATH"), s.Dir)
	if err != nil {
		return nil, &SpawnError{s.Path, err}
	}
	attr := &syscall.SysProcAttr{Setpgid: !s.Detach, Setsid: s.Detach}
	if !s.Detach {
		attr.Pdeathsig = syscall.SIGKILL
	}
	if s.User != "" || s.Group != "" {
		cred, err := credential(s.User, s.Group)
		if err != nil {
			return nil, &SpawnError{s.Path, err}
		}
		attr.Credential = cred
	}

	var parentEnds, childEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	defer func() {
		closeAll(childEnds)
		if err != nil {
			closeAll(parentEnds)
		}
	}()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, &SpawnError{s.Path, err}
	}
	childEnds = append(childEnds, devnull)
	p = &Process{}
	files := []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()}
	if s.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, &SpawnError{s.Path, err}
		}
		childEnds, parentEnds = append(childEnds, r), append(parentEnds, w)
		files[0], p.Stdin = r.Fd(), w
	}
	if s.StdinFile != nil {
		if s.Stdin {
			return nil, &SpawnError{s.Path, errors.New("stdin is both a pipe and a passed file")}
		}
		files[0] = s.StdinFile.Fd()
	}
	if s.Stdout {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, &SpawnError{s.Path, err}
		}
		childEnds, parentEnds = append(childEnds, w), append(parentEnds, r)
		files[1], p.Stdout = w.Fd(), r
		if s.MergeStderr {
			files[2] = w.Fd()
		}
	}
	if s.Stderr && !(s.MergeStderr && s.Stdout) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, &SpawnError{s.Path, err}
		}
		childEnds, parentEnds = append(childEnds, w), append(parentEnds, r)
		files[2], p.Stderr = w.Fd(), r
	}
	for _, f := range s.Listeners {
		files = append(files, f.Fd())
	}
	for i := 0; i < s.ExtraStreams; i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, &SpawnError{s.Path, err}
		}
		parent := os.NewFile(uintptr(fds[0]), "stream")
		child := os.NewFile(uintptr(fds[1]), "stream")
		childEnds, parentEnds = append(childEnds, child), append(parentEnds, parent)
		files = append(files, child.Fd())
		p.Streams = append(p.Streams, parent)
	}
	dir := s.Dir
	if s.Umask >= 0 {
		// umask is process-wide; syscall.ForkExec has no per-child umask, so it
		// is set around the fork. Callers that need it serialize spawns (the
		// supervisor spawns from its single loop).
		old := syscall.Umask(s.Umask)
		defer syscall.Umask(old)
	}
	argv := append([]string{s.Path}, s.Args...)
	if s.ListenPID {
		if !strings.Contains(path, "/") {
			path = "./" + path // found through a "." PATH entry: sh must not search again
		}
		argv = append([]string{Trampoline, "-c", trampolineScript, path}, s.Args...)
		path = Trampoline
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir: dir, Env: s.Env, Files: files, Sys: attr,
	})
	if err != nil {
		return nil, &SpawnError{s.Path, err}
	}
	p.Pid = pid
	return p, nil
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// DefaultPath is used when the child's environment has no PATH, as execvp does.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// ErrNotFound means the program is not in the PATH it would run with.
var ErrNotFound = errors.New("executable file not found in PATH")

// LookPath finds prog as execvp would for a child with PATH pathEnv and
// working directory dir.
func LookPath(prog, pathEnv, dir string) (string, error) {
	if strings.Contains(prog, "/") {
		p := prog
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", err
		}
		return prog, nil
	}
	if pathEnv == "" {
		pathEnv = DefaultPath
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, prog)
		if !filepath.IsAbs(p) && dir != "" {
			if executable(filepath.Join(dir, p)) == nil {
				return p, nil
			}
			continue
		}
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w", prog, ErrNotFound)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return &fs.PathError{Op: "exec", Path: p, Err: fs.ErrPermission}
	}
	return nil
}

func credential(u, g string) (*syscall.Credential, error) {
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if u != "" {
		usr, err := lookupUser(u)
		if err != nil {
			return nil, err
		}
		uid, _ := strconv.Atoi(usr.Uid)
		gid, _ := strconv.Atoi(usr.Gid)
		cred.Uid, cred.Gid = uint32(uid), uint32(gid)
		if gids, err := usr.GroupIds(); err == nil {
			for _, s := range gids {
				if n, err := strconv.Atoi(s); err == nil {
					cred.Groups = append(cred.Groups, uint32(n))
				}
			}
		}
	}
	if g != "" {
		gid, err := lookupGroup(g)
		if err != nil {
			return nil, err
		}
		cred.Gid = gid
	}
	if int(cred.Uid) != os.Getuid() && os.Getuid() != 0 {
		return nil, fmt.Errorf("user %q: %w (gafferd is not root)", u, fs.ErrPermission)
	}
	return cred, nil
}

func lookupUser(u string) (*user.User, error) {
	if _, err := strconv.Atoi(u); err == nil {
		return user.LookupId(u)
	}
	return user.Lookup(u)
}

func lookupGroup(g string) (uint32, error) {
	if n, err := strconv.Atoi(g); err == nil {
		return uint32(n), nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(grp.Gid)
	return uint32(n), err
}

// Signal sends sig to pid, or to its whole process group when group is set.
// A process that is already gone is not an error.
func Signal(pid int, sig syscall.Signal, group bool) error {
	if pid <= 0 {
		return fmt.Errorf("signal %v: bad pid %d", sig, pid)
	}
	target := pid
	if group {
		target = -pid
	}
	err := syscall.Kill(target, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Exit is how a reaped child ended.
type Exit struct {
	Pid        int
	Code       int // exit code, or 128+signal
	Signal     int // terminating signal, 0 when it exited
	CoreDumped bool
}

func exitOf(pid int, ws syscall.WaitStatus) Exit {
	switch {
	case ws.Signaled():
		return Exit{Pid: pid, Code: 128 + int(ws.Signal()), Signal: int(ws.Signal()), CoreDumped: ws.CoreDump()}
	default:
		return Exit{Pid: pid, Code: ws.ExitStatus()}
	}
}

// Reap collects pid if it has exited, without blocking.
func Reap(pid int) (Exit, bool) {
	var ws syscall.WaitStatus
	for {
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return Exit{}, false
		}
		if ws.Stopped() || ws.Continued() {
			return Exit{}, false
		}
		return exitOf(got, ws), true
	}
}

// ReapAny collects any exited child without blocking (gafferd as subreaper).
func ReapAny() (Exit, bool) { return Reap(-1) }

// SetSubreaper makes the calling process the reaper of every orphaned
// descendant (PR_SET_CHILD_SUBREAPER), so a double-forked daemon or a setsid
// escapee becomes gafferd's child and can be killed and reaped.
func SetSubreaper() error { return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }

// Descendants lists every live descendant of pid (children, grandchildren, …)
// from /proc's children files. It is a snapshot: used at stop time to reach
// processes that left the group with setsid.
func Descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 && len(out) < 100000 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(p) + "/task")
		for _, t := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/task/" + t.Name() + "/children")
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				c, err := strconv.Atoi(f)
				if err == nil && !seen[c] {
					seen[c] = true
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

// Alive reports whether pid exists (possibly as a zombie).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
