package supervisor

// Programs that daemonize themselves (JobConfig.PIDFile), as systemd's
// Type=forking: the spawned process is a launcher that forks the real daemon
// into the background, writes the daemon's pid to a file and exits 0. The
// engine then tracks the daemon as the process:
//
//   - the launcher's exit 0 is not an exit: a goroutine waits for the pidfile
//     (inotify on its directory, bounded by startsecs or 10 s) and reports to
//     the loop, which validates the pid and adopts it (adoptResult);
//   - the pid must be ours: a child of this process (re-parented to it as
//     child subreaper, Options.ReapAll), or, without ReapAll, a member of the
//     launcher's process group or session. A stale pidfile never makes the
//     supervisor track or signal an unrelated process;
//   - the daemon's exit comes through the reap path (it is our child as
//     subreaper) or, when it is not our child, from a pidfd that becomes
//     readable when it dies (exit status unknown: -1);
//   - before a spawn, a pidfile naming a live process is checked: ours but
//     untracked (after a re-exec) is adopted without launching, anything
//     else refuses the spawn, so copies never pile up.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/proc"
	"golang.org/x/sys/unix"
)

// defaultPIDFileTimeout bounds the wait for a pidfile when the job has no
// startsecs.
const defaultPIDFileTimeout = 10 * time.Second

// maxPID is the kernel's largest pid (PID_MAX_LIMIT on 64-bit).
const maxPID = 1 << 22

// ErrNotOurs means a pidfile names a live process the supervisor did not start.
var ErrNotOurs = errors.New("running and not supervised by gafferd")

// pidfileState is a process's daemon tracking; owned by the loop.
type pidfileState struct {
	waiting bool // the launcher exited 0; the pidfile is awaited
	adopted bool // osPid is the daemon named by the pidfile
	err     string
}

// pidfilePath is the job's pidfile, relative paths taken from its cwd.
func pidfilePath(cfg *JobConfig) string {
	p := cfg.PIDFile
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if cfg.Cwd != "" {
		return filepath.Join(cfg.Cwd, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// ParsePIDFile reads a pidfile's content: a decimal pid on its first line,
// surrounded by optional blanks. Later lines (some daemons add a port) are
// ignored.
func ParsePIDFile(data []byte) (int, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	s := strings.TrimSpace(string(line))
	if s == "" {
		return 0, fmt.Errorf("pidfile is empty: %w", ErrBadValue)
	}
	if len(s) > 7 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("pidfile content %q is not a pid: %w", truncate(s, 32), ErrBadValue)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > maxPID {
		return 0, fmt.Errorf("pidfile content %q is not a pid (1-%d): %w", s, maxPID, ErrBadValue)
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// procStat is what /proc/<pid>/stat tells about a process.
type procStat struct {
	State   byte
	PPid    int
	PGrp    int
	Session int
}

// ParseProcStat reads the fields after the command name of /proc/<pid>/stat:
// state, ppid, pgrp and session. The name may hold spaces and parentheses,
// so parsing starts after the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("stat: too few fields")
	}
	var st procStat
	st.State = f[0][0]
	var err error
	for k, dst := range []*int{&st.PPid, &st.PGrp, &st.Session} {
		if *dst, err = strconv.Atoi(f[k+1]); err != nil {
			return procStat{}, fmt.Errorf("stat field %d: %w", k+2, err)
		}
	}
	return st, nil
}

// readProcStat returns pid's stat, or ok false when it is not running (gone
// or a zombie).
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	st, err := parseProcStat(b)
	if err != nil || st.State == 'Z' || st.State == 'X' {
		return procStat{}, false
	}
	return st, true
}

// ours reports whether the live process st is one the supervisor may adopt:
// its child (ReapAll re-parents orphans to it), or, for launcher > 0, a
// member of the launcher's process group or session.
func (s *Supervisor) ours(st procStat, launcher int) bool {
	if st.PPid == os.Getpid() {
		return true
	}
	return launcher > 0 && !s.opts.ReapAll && (st.PGrp == launcher || st.Session == launcher)
}

// notOursError is the refusal of a live process that is not ours.
func notOursError(path string, pid int) error {
	return fmt.Errorf("pidfile %s names pid %d, which is %w", path, pid, ErrNotOurs)
}

// checkPIDFile runs before a spawn of a job with a pidfile. It returns the
// pid of a live daemon of ours that is not tracked (to adopt instead of
// launching), an error refusing the spawn, or 0 to launch. A stale pidfile
// (a dead pid, or no pid) is removed, so that only a fresh one is awaited.
func (s *Supervisor) checkPIDFile(j *job) (int, error) {
	path := pidfilePath(&j.cfg)
	if path == "" {
		return 0, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	pid, perr := ParsePIDFile(data)
	st, alive := readProcStat(pid)
	if perr != nil || !alive {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("stale pidfile %s: %w", path, err)
		}
		return 0, nil
	}
	if q := s.byOS[pid]; q != nil {
		return 0, fmt.Errorf("pidfile %s names pid %d, already supervised as %s (pid %d): %w", path, pid, q.job.full, q.id, ErrConflict)
	}
	if s.opts.ReapAll && s.ours(st, 0) {
		return pid, nil // ours, left untracked (a re-exec): adopt it, launch nothing
	}
	return 0, notOursError(path, pid)
}

// pidfileTimeout is how long a launcher's daemon has to write its pidfile.
func pidfileTimeout(cfg *JobConfig) time.Duration {
	if cfg.Program != nil && cfg.Program.StartSecs > 0 {
		return cfg.Program.StartSecs
	}
	return defaultPIDFileTimeout
}

// launcherExited handles the exit of a pidfile job's launcher. It returns
// true when the exit is not an exit (status 0: the pidfile is now awaited)
// and the caller must stop there.
func (s *Supervisor) launcherExited(p *process, ex proc.Exit) bool {
	if p.cfg.PIDFile == "" || p.daemon.adopted || p.daemon.waiting || p.daemon.err != "" {
		return false // not a launcher, or its daemon already failed (adoptResult)
	}
	if ex.Code != 0 || ex.Signal != 0 {
		p.daemon.err = fmt.Sprintf("launcher exited with %s; no daemon adopted", exitText(ex.Code, ex.Signal))
		return false
	}
	launcher := p.osPid
	delete(s.byOS, launcher)
	p.osPid = 0
	p.daemon.waiting = true
	if j := p.job; j.cfg.Program != nil && len(j.procs) > 0 && j.procs[0] == p {
		j.prog.pid = 0
	}
	path, timeout := pidfilePath(&p.cfg), pidfileTimeout(&p.cfg)
	go func() {
		pid, err := waitPIDFile(path, timeout)
		select {
		case s.reqs <- func() { s.adoptResult(p, launcher, path, pid, err) }:
		case <-s.done:
		}
	}()
	return true
}

// adoptResult runs in the loop with the pid the pidfile named (or why none):
// the process becomes that daemon, or ends as a failed spawn.
func (s *Supervisor) adoptResult(p *process, launcher int, path string, pid int, err error) {
	if s.procs[p.id] != p || !p.daemon.waiting {
		return
	}
	p.daemon.waiting = false
	if err == nil {
		err = s.validateDaemon(path, pid, launcher)
	}
	if err != nil {
		p.daemon.err = err.Error()
		s.log.Error("daemon not adopted", "job", p.job.full, "pid", p.id, "err", err)
		s.onExit(p, proc.Exit{Code: -1})
		return
	}
	s.adopt(p, pid)
	if p.stopping {
		// Stopped while its daemon was starting: stop the daemon now.
		p.stopping, p.killAt = false, time.Time{}
		s.stopProc(p)
	}
}

// validateDaemon checks that pid may be adopted for path.
func (s *Supervisor) validateDaemon(path string, pid, launcher int) error {
	if q := s.byOS[pid]; q != nil {
		return fmt.Errorf("pidfile %s names pid %d, already supervised as %s (pid %d): %w", path, pid, q.job.full, q.id, ErrConflict)
	}
	st, alive := readProcStat(pid)
	if !alive {
		return fmt.Errorf("pidfile %s names pid %d, which is not running", path, pid)
	}
	if pid == os.Getpid() || !s.ours(st, launcher) {
		if !s.opts.ReapAll {
			return fmt.Errorf("%w (without ReapAll, a daemon must stay in its launcher's process group or session)", notOursError(path, pid))
		}
		return notOursError(path, pid)
	}
	return nil
}

// adopt makes the live daemon pid the process p: its OS pid everywhere, its
// exit the process's exit. A program counts startsecs from now.
func (s *Supervisor) adopt(p *process, pid int) {
	p.osPid = pid
	p.outPid.Store(int64(pid))
	p.daemon.adopted = true
	p.started = time.Now()
	s.byOS[pid] = p
	if st, ok := readProcStat(pid); !ok || st.PPid != os.Getpid() {
		s.watchForeign(p, pid) // not our child: wait4 will not see it die
	}
	j := p.job
	s.log.Info("adopted daemon from pidfile", "job", j.full, "pid", p.id, "os_pid", pid, "pidfile", pidfilePath(&p.cfg))
	e := Event{Pid: p.id, OSPid: pid, Reason: pidfilePath(&p.cfg)}
	s.publish("adopt", j.full, e)
	s.publish("job."+j.full+".adopt", j.full, e)
	if j.cfg.Program == nil || len(j.procs) == 0 || j.procs[0] != p || j.prog.state != StateStarting {
		return
	}
	ps := &j.prog
	ps.start, ps.pid = p.started, pid
	if j.cfg.Program.StartSecs == 0 {
		ps.runningAt = time.Time{}
		s.setState(j, StateRunning, Event{Pid: p.id, OSPid: pid})
		ps.tries = 0
		return
	}
	ps.runningAt = p.started.Add(j.cfg.Program.StartSecs + time.Millisecond)
}

// watchForeign learns of the death of a daemon that is not our child (no
// ReapAll) from a pidfd, and reports it as an exit of unknown status.
func (s *Supervisor) watchForeign(p *process, pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		s.log.Warn("cannot watch daemon; its exit will not be noticed", "job", p.job.full, "os_pid", pid, "err", err)
		return
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for range 1 << 20 { // EINTR only
			if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		select {
		case s.reqs <- func() {
			if s.procs[p.id] == p && p.osPid == pid {
				s.onExit(p, proc.Exit{Pid: pid, Code: -1})
			}
		}:
		case <-s.done:
		}
	}()
}

// daemonExited cleans up after an adopted daemon: its pidfile goes only if
// it still names the dead pid.
func daemonExited(p *process) {
	if !p.daemon.adopted {
		return
	}
	path := pidfilePath(&p.cfg)
	if data, err := os.ReadFile(path); err == nil {
		if pid, err := ParsePIDFile(data); err == nil && pid == p.osPid {
			_ = os.Remove(path)
		}
	}
}

// groupSignal reports whether a stop may signal p's process group: an
// adopted daemon that does not lead its own group is signalled alone (its
// group is the launcher's, or another program's).
func (p *process) groupSignal(group bool) bool {
	if !group || !p.daemon.adopted {
		return group
	}
	st, ok := readProcStat(p.osPid)
	return ok && st.PGrp == p.osPid
}

// waitPIDFile waits until path holds a pid and returns it, for at most
// timeout. It watches the file's directory with inotify: a pidfile written
// in place or renamed into place is seen as soon as it is complete.
func waitPIDFile(path string, timeout time.Duration) (int, error) {
	dir, name := filepath.Dir(path), filepath.Base(path)
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: inotify: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MODIFY|unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		return 0, fmt.Errorf("pidfile %s: watch directory: %w", path, err)
	}
	// complete: the writer is done (closed, renamed); otherwise only a
	// line ended by a newline is taken, not a pid half written.
	check := func(complete bool) (int, bool) {
		data, err := os.ReadFile(path)
		if err != nil || (!complete && !bytes.Contains(data, []byte("\n"))) {
			return 0, false
		}
		pid, err := ParsePIDFile(data)
		return pid, err == nil
	}
	if pid, ok := check(true); ok {
		return pid, nil
	}
	_ = f.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for range 1 << 20 { // each round reads at least one event; the deadline ends it
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, fmt.Errorf("pidfile %s: no pid written within %v of the launcher's exit", path, timeout)
			}
			return 0, fmt.Errorf("pidfile %s: inotify: %w", path, err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nlen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : min(n, off+unix.SizeofInotifyEvent+nlen)]
			off += unix.SizeofInotifyEvent + nlen
			evName := string(bytes.TrimRight(nameBytes, "\x00"))
			if mask&unix.IN_Q_OVERFLOW == 0 && evName != name {
				continue
			}
			if pid, ok := check(mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_Q_OVERFLOW) != 0); ok {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("pidfile %s: no pid written", path)
}
