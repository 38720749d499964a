package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process the harness started, in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	// startedAt is taken just before exec: scenarios time from here.
	startedAt time.Time
	// exitedAt is taken as soon as Wait returns; valid once done is closed.
	exitedAt time.Time
	done     chan struct{} // closed once Wait returned
	err      error
}

// started holds every live proc, so an interrupted run can still clean up.
// Once closed (by cleanupAll) nothing new starts.
var started = struct {
	sync.Mutex
	m      map[*proc]bool
	closed bool
}{m: map[*proc]bool{}}

// cleanupMu makes cleanupAll exclusive: whoever comes second (the main
// path after an interrupt) waits until every process is gone.
var cleanupMu sync.Mutex

var errInterrupted = errors.New("interrupted")

// startProc runs argv with stdout and stderr to logPath (or /dev/null).
func startProc(name string, argv []string, logPath string) (*proc, error) {
	out := os.DevNull
	if logPath != "" {
		out = logPath
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started.Lock()
	defer started.Unlock()
	if started.closed {
		return nil, errInterrupted
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, startedAt: t0, done: make(chan struct{})}
	started.m[p] = true
	go func() {
		p.err = cmd.Wait()
		p.exitedAt = time.Now()
		started.Lock()
		delete(started.m, p)
		started.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits at most d for the process to exit.
func (p *proc) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail(lines int) string {
	if p.log == "" {
		return ""
	}
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// exitError describes an early exit, with the end of the log.
func (p *proc) exitError() error {
	return fmt.Errorf("%s exited early (%v); last log lines:\n%s", p.name, p.err, indent(p.logTail(15)))
}

// stopDaemon sends SIGTERM, waits up to grace, then SIGKILL. Children the
// daemon still had are killed afterwards if they outlived it (only those
// whose pid and start time still match, so a reused pid is never hit).
// It returns how long the daemon took to exit after SIGTERM.
func (p *proc) stopDaemon(grace time.Duration) (time.Duration, error) {
	if p.exited() {
		return 0, p.exitError()
	}
	kids := snapshotChildren(p.pid())
	t0 := time.Now()
	syscall.Kill(p.pid(), syscall.SIGTERM)
	var err error
	if !p.wait(grace) {
		err = fmt.Errorf("%s did not exit within %v of SIGTERM; killed", p.name, grace)
		kids = append(kids, p.freeze()...)
		syscall.Kill(p.pid(), syscall.SIGKILL)
		p.wait(10 * time.Second)
	}
	el := time.Since(t0)
	if n := killSurvivors(kids); n > 0 && err == nil {
		err = fmt.Errorf("%s exited but left %d children running; killed", p.name, n)
	}
	return el, err
}

// killGroup SIGKILLs the whole process group of p while its leader is still
// unreaped (so the group id is certainly still ours), then reaps it.
func (p *proc) killGroup() {
	if !p.exited() {
		syscall.Kill(-p.pid(), syscall.SIGKILL)
	}
	p.wait(10 * time.Second)
}

// freeze stops p (SIGSTOP: it can fork no more) and lists its children.
func (p *proc) freeze() []procID {
	if p.exited() {
		return nil
	}
	syscall.Kill(p.pid(), syscall.SIGSTOP)
	return snapshotChildren(p.pid())
}

// cleanupAll kills whatever is still running (interrupt or end of run) and
// lets nothing start afterwards. Each process is frozen first, so children
// it was about to fork cannot escape the list of those to kill.
func cleanupAll() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	started.Lock()
	started.closed = true
	ps := make([]*proc, 0, len(started.m))
	for p := range started.m {
		ps = append(ps, p)
	}
	started.Unlock()
	for _, p := range ps {
		kids := p.freeze()
		p.killGroup()
		killSurvivors(kids)
	}
}

// procID names a process robustly: pid plus start time since boot.
type procID struct {
	pid   int
	start uint64
}

func snapshotChildren(pid int) []procID {
	var ids []procID
	for _, c := range childrenOf(pid) {
		if st, err := readStat(c); err == nil {
			ids = append(ids, procID{c, st.start})
		}
	}
	return ids
}

func killSurvivors(ids []procID) int {
	n := 0
	for _, id := range ids {
		if st, err := readStat(id.pid); err == nil && st.start == id.start && st.state != 'Z' {
			syscall.Kill(id.pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}

// alive reports whether pid still exists (a zombie not yet reaped counts).
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// pstat is the part of /proc/PID/stat the harness needs.
type pstat struct {
	comm         string
	state        byte
	ppid         int
	utime, stime uint64 // clock ticks
	start        uint64 // clock ticks since boot
}

func readStat(pid int) (pstat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return pstat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (pstat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return pstat{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 {
		return pstat{}, errors.New("short stat")
	}
	// f[0] is field 3 (state): field k is f[k-3].
	var s pstat
	s.comm = string(b[open+1 : end])
	s.state = f[0][0]
	s.ppid, _ = strconv.Atoi(f[1])
	s.utime, _ = strconv.ParseUint(f[11], 10, 64)
	s.stime, _ = strconv.ParseUint(f[12], 10, 64)
	s.start, _ = strconv.ParseUint(f[19], 10, 64)
	return s, nil
}

// tasks lists the thread ids of pid.
func tasks(pid int) []string {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// childrenOf lists the children of every thread of pid
// (/proc/PID/task/TID/children lists those forked by that thread).
func childrenOf(pid int) []int {
	base := "/proc/" + strconv.Itoa(pid) + "/task/"
	var out []int
	for _, t := range tasks(pid) {
		b, err := os.ReadFile(base + t + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// childCounter counts the children of parent that have exec'd comm. A child
// is only read until it is seen with that name, so each poll is cheap.
type childCounter struct {
	parent int
	comm   string
	seen   map[int]bool
}

func newChildCounter(parent int, comm string) *childCounter {
	return &childCounter{parent: parent, comm: comm, seen: map[int]bool{}}
}

func (c *childCounter) count() int {
	n := 0
	for _, k := range childrenOf(c.parent) {
		if !c.seen[k] {
			st, err := readStat(k)
			if err != nil || st.comm != c.comm {
				continue
			}
			c.seen[k] = true
		}
		n++
	}
	return n
}

// statusValue reads one numeric "Key:  123 kB" line of a status file.
func statusValues(path string, keys ...string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				f := strings.Fields(v)
				if len(f) > 0 {
					out[k], _ = strconv.ParseInt(f[0], 10, 64)
				}
			}
		}
	}
	return out, nil
}

func rssKB(pid int) (int64, error) {
	v, err := statusValues("/proc/"+strconv.Itoa(pid)+"/status", "VmRSS")
	if err != nil {
		return 0, err
	}
	return v["VmRSS"], nil
}

// usage is a daemon's cumulative CPU and context switches.
type usage struct {
	schedNs int64  // sum of the threads' run time (schedstat), ns
	ticks   uint64 // utime+stime of the whole process, clock ticks
	ctxsw   int64  // voluntary + nonvoluntary, summed over threads
	threads int
	tids    string // the thread ids, to see whether threads came or went
	sched   bool   // schedstat was readable for every thread
}

func readUsage(pid int) (usage, error) {
	var u usage
	st, err := readStat(pid)
	if err != nil {
		return u, err
	}
	u.ticks = st.utime + st.stime
	base := "/proc/" + strconv.Itoa(pid) + "/task/"
	ts := tasks(pid)
	u.threads, u.tids, u.sched = len(ts), strings.Join(ts, ","), true
	for _, t := range ts {
		b, err := os.ReadFile(base + t + "/schedstat")
		f := strings.Fields(string(b))
		if err != nil || len(f) == 0 {
			u.sched = false
		} else {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			u.schedNs += ns
		}
		v, err := statusValues(base+t+"/status", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
		if err == nil {
			u.ctxsw += v["voluntary_ctxt_switches"] + v["nonvoluntary_ctxt_switches"]
		}
	}
	return u, nil
}

// clockTick is USER_HZ, 100 on every Linux the harness targets.
const clockTick = 10 * time.Millisecond

// cpuDelta is the CPU used between two usages: the per-thread run time
// (schedstat, ns) when the same threads were there both times, else the
// larger of that and the whole-process tick count, which also keeps the
// time of threads that ended in between but only has 10 ms resolution.
func cpuDelta(a, b usage) time.Duration {
	sched := time.Duration(b.schedNs - a.schedNs)
	if a.sched && b.sched && a.tids == b.tids {
		return max(sched, 0)
	}
	ticks := time.Duration(b.ticks-a.ticks) * clockTick
	return max(sched, ticks, 0)
}

// pollUntil calls cond every interval until it is true, the process p (if
// any) exits, or timeout passes. Bounded in time and in iterations.
func pollUntil(timeout, interval time.Duration, p *proc, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	maxIter := int(timeout/interval) + 1
	for range maxIter {
		if cond() {
			return nil
		}
		if p != nil && p.exited() {
			return p.exitError()
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(interval)
	}
	if cond() {
		return nil
	}
	return fmt.Errorf("timed out after %v", timeout)
}

func indent(s string) string {
	if s == "" {
		return "    (empty log)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func writeFile(dir, name, content string) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(content), 0o644)
}
