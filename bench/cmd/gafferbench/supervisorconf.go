package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/bench/internal/numline"
)

// The scenarios of this file start both daemons from the same
// supervisord.conf: gafferd as the drop-in (`gafferd -c supervisord.conf`,
// XML-RPC on the file's [unix_http_server] socket) beside supervisord.

// ---------------------------------------------------------- supstart + getallprocessinfo

// runSupervisorConf measures, one system at a time, `small` and then N
// programs `sleep 1000` from a supervisord.conf to all running (supstart),
// and on the daemons with `small` programs a series of XML-RPC
// supervisor.getAllProcessInfo calls (getallprocessinfo).
func (b *bench) runSupervisorConf() {
	type size struct {
		n  int
		id string
	}
	sizes := []size{{b.small, "supstart.small"}}
	if b.only["supstart"] && b.n != b.small {
		sizes = append(sizes, size{b.n, "supstart.n"})
	}
	for _, sz := range sizes {
		rpcSeries := sz.id == "supstart.small" && b.only["getallprocessinfo"]
		for sys := range nSystems {
			if !b.systems[sys] || (sys == baseline && !b.only["supstart"]) {
				continue
			}
			progress("supstart: %v with %d programs from a supervisord.conf", sys, sz.n)
			s, err := b.launchSleepers(sys, sz.n, fmt.Sprintf("sup%d", sz.n), supervisorConf)
			if err != nil {
				if b.only["supstart"] {
					b.table.fail(sz.id, sys, err)
				}
				if rpcSeries && sys != baseline {
					b.table.fail("gapi.p50", sys, err)
				}
				continue
			}
			progress("supstart %v: first child after %.3f s, half after %.3f s, all %d after %.3f s", sys, secs(s.first), secs(s.half), sz.n, secs(s.elapsed))
			if b.only["supstart"] {
				b.table.set(sz.id, sys, secs(s.elapsed))
				b.table.note("supstart, %d programs, %v: first child running after %.3f s, half after %.3f s, all after %.3f s; its CPU time by then %.2f s",
					sz.n, sys, secs(s.first), secs(s.half), secs(s.elapsed), secs(s.cpu))
			}
			if rpcSeries && s.d != nil {
				time.Sleep(b.settle)
				b.checkCount(s, sz.n, "getallprocessinfo")
				if err := s.d.waitAPI(30 * time.Second); err != nil {
					b.table.fail("gapi.p50", sys, fmt.Errorf("API: %v", err))
				} else {
					b.listSeries(s.d, sz.n, "gapi", "XML-RPC getAllProcessInfo", b.rpcBudget)
				}
			}
			el, err := s.stop()
			if s.d != nil && b.only["supstart"] {
				if err != nil {
					b.table.note("supstart, %d programs, stopping %v: %v", sz.n, sys, err)
				} else {
					progress("supstart shutdown %v: %.3f s", sys, secs(el))
				}
			}
		}
	}
}

// ---------------------------------------------------------- logcapture

// capture is one system's log-capture run.
type capture struct {
	elapsed   time.Duration // writer's start → done (see logCapture)
	bytesIn   time.Duration // writer's start → all bytes in the files, reaped or not
	sinceExec time.Duration // exec of the sh or daemon → writer's start
	cpu       time.Duration // daemon: utime+stime just before stopping it; baseline: sh+cat; -1 unknown
	cpuStart  time.Duration // daemon's CPU time when the writer's stamp arrived
	cpuDone   time.Duration // and when the files were complete
	writer    string        // the writer's own report (stderr)
	state     string        // daemons: what getProcessInfo said afterwards
	files     []string      // log files, oldest first
	sizes     []int64
	check     *numline.Checker
	err       error // the time is not valid (the check may still be)
}

// runLogCapture runs a writer child that prints logMB MB of numbered
// 100-byte lines as fast as it can under each system, -log-reps times in
// rounds (a random order in each round), and checks that every line reached
// the log files once and in order. First an unmeasured `writer | cat` of
// the same size: on a VM, page cache in memory the guest never touched is
// several times slower to fill than recycled pages (the files of each run
// are deleted after their check), which would penalise whoever runs first.
func (b *bench) runLogCapture() {
	lines := uint64(b.logMB) << 20 / numline.Size
	var syss []system
	for sys := range nSystems {
		if b.systems[sys] {
			syss = append(syss, sys)
		}
	}
	progress("logcapture: warm-up, writer | cat of %d MB (not measured)", b.logMB)
	if err := b.logWarmup(lines); err != nil {
		b.table.note("logcapture: warm-up: %v", err)
	}
	runs := map[system][]*capture{}
	for rep := range b.logReps {
		for _, j := range b.rng.Perm(len(syss)) {
			sys := syss[j]
			progress("logcapture: %v, run %d of %d, %d lines (%d MB)", sys, rep+1, b.logReps, lines, b.logMB)
			c := b.logCapture(sys, lines, rep)
			runs[sys] = append(runs[sys], c)
			verdict := "not checked"
			if c.check != nil {
				verdict = checkVerdict(c.check, lines)
			}
			if c.err != nil {
				progress("logcapture %v: %v; %s", sys, c.err, verdict)
			} else {
				progress("logcapture %v: %.3f s, CPU %.2f s, %s", sys, secs(c.elapsed), secs(c.cpu), verdict)
			}
		}
	}
	for _, sys := range syss {
		var times, bytesIn, cpus []float64
		var lost, dup, reord uint64
		checked := 0
		var faults, errs []string
		for i, c := range runs[sys] {
			if c.err != nil {
				errs = append(errs, fmt.Sprintf("run %d: %v", i+1, c.err))
			} else {
				times = append(times, secs(c.elapsed))
				bytesIn = append(bytesIn, secs(c.bytesIn))
			}
			if c.cpu >= 0 {
				cpus = append(cpus, secs(c.cpu))
			}
			if k := c.check; k != nil {
				checked++
				lost, dup, reord = lost+k.Lost(), dup+k.Dup, reord+k.Reordered
				if !k.OK() {
					faults = append(faults, fmt.Sprintf("run %d: %s", i+1, checkVerdict(k, lines)))
				}
			}
		}
		list := func(xs []float64) string { // in run order
			if len(xs) == 0 {
				return "–"
			}
			return fmtList(xs)
		}
		timesText, bytesText, cpusText := list(times), list(bytesIn), list(cpus)
		if len(errs) > 0 {
			b.table.fail("logcap.time", sys, errors.New(strings.Join(errs, "; ")))
		}
		if len(times) > 0 {
			b.table.set("logcap.time", sys, percentile(times, 50))
			b.table.set("logcap.bytes", sys, percentile(bytesIn, 50))
		}
		if len(cpus) > 0 {
			b.table.set("logcap.cpu", sys, percentile(cpus, 50))
		}
		if checked > 0 {
			b.table.set("logcap.lost", sys, float64(lost))
			b.table.set("logcap.dup", sys, float64(dup))
			b.table.set("logcap.reordered", sys, float64(reord))
		}
		if len(runs[sys]) == 0 {
			continue
		}
		verdict := fmt.Sprintf("%d of %d runs checked: every line once and in order", checked, len(runs[sys]))
		if len(faults) > 0 {
			verdict = fmt.Sprintf("%d of %d runs checked: **%s**", checked, len(runs[sys]), strings.Join(faults, "; "))
		}
		last := runs[sys][len(runs[sys])-1]
		fs := make([]string, len(last.files))
		for i, f := range last.files {
			fs[i] = fmt.Sprintf("%s %.1f", f, float64(last.sizes[i])/(1<<20))
		}
		mbps := "–"
		if len(times) > 0 && percentile(times, 50) > 0 {
			mbps = fmt.Sprintf("%.0f", float64(lines*numline.Size)/(1<<20)/percentile(times, 50))
		}
		extra := ""
		if sys != baseline {
			extra = fmt.Sprintf("; writer started %.3f s after the daemon's exec, the daemon's CPU %.2f s by then, %.2f s when the wait ended; getProcessInfo afterwards: %s",
				secs(last.sinceExec), secs(last.cpuStart), secs(last.cpuDone), last.state)
		}
		b.table.note("logcapture, %v: times %s s (all bytes in the files after %s s), CPU %s s (median %s MB/s); %s; last run: files (MB) %s; %s%s",
			sys, timesText, bytesText, cpusText, mbps, verdict, strings.Join(fs, ", "), last.writer, extra)
	}
}

func checkVerdict(k *numline.Checker, lines uint64) string {
	if k.OK() {
		return "every line once and in order"
	}
	return fmt.Sprintf("%d bytes, want %d; %d well-formed lines; lost %d, duplicated %d, out of order %d, corrupt %d",
		k.Bytes, int64(lines)*numline.Size, k.Lines, k.Lost(), k.Dup, k.Reordered, k.Corrupt)
}

// logWarmup runs `writer | cat > file` once and deletes the file.
func (b *bench) logWarmup(lines uint64) error {
	dir := b.dir("logcapture-warmup")
	out := filepath.Join(dir, "w.log")
	defer os.Remove(out)
	cmd := fmt.Sprintf("%s -lines %d | cat > %s", b.writerBin, lines, out)
	p, err := startProc("warm-up writer | cat", []string{b.shBin, "-c", cmd}, filepath.Join(dir, "sh.log"))
	if err != nil {
		return err
	}
	defer p.killGroup()
	if !p.wait(b.timeout) {
		return fmt.Errorf("still running after %v", b.timeout)
	}
	return p.err
}

// logCapture runs the writer under sys and verifies the result. The time
// runs from the writer's own start stamp (first thing in its main, so the
// daemon's start-up is not counted) to
//   - baseline (`sh -c 'writer | cat > w.log'`): the sh's exit (it waits
//     for both);
//   - daemons: the first 10 ms poll that sees the writer reaped (gone from
//     /proc) and the sizes of w.log and w.log.1 … w.log.10 summing to the
//     bytes written, confirmed by the next poll (a rotation in between
//     could make one stat sequence add up by accident). The daemons' API
//     is not called before that, so the polls cost them nothing.
//
// bytesIn is the same without the reaping: when the sizes first added up
// (for the baseline, its time: cat has written all when the sh exits).
func (b *bench) logCapture(sys system, lines uint64, rep int) *capture {
	c := &capture{cpu: -1}
	c.err = b.logCaptureRun(c, sys, lines, rep)
	return c
}

func (b *bench) logCaptureRun(c *capture, sys system, lines uint64, rep int) error {
	dir := b.dir(fmt.Sprintf("logcapture-%v-%d", sys, rep+1))
	l, err := newStampListener(filepath.Join(dir, "stamp.sock"))
	if err != nil {
		return err
	}
	defer l.close()
	want := int64(lines) * numline.Size
	logPath := filepath.Join(dir, "w.log")
	cmd := fmt.Sprintf("%s -lines %d -sock %s", b.writerBin, lines, l.path)
	defer func() {
		// -keep keeps the logs of a faulty run only: kept files would make
		// every later run write to memory not touched yet (see runLogCapture).
		if !b.keep || c.check == nil || c.check.OK() {
			b.removeLogs(dir)
		}
	}()

	if sys == baseline {
		p, err := startProc("baseline writer | cat", []string{b.shBin, "-c", cmd + " | cat > " + logPath}, filepath.Join(dir, "sh.log"))
		if err != nil {
			return err
		}
		defer p.killGroup()
		m, err := waitStamp(l, p, b.timeout)
		if err != nil {
			return err
		}
		if !p.wait(b.timeout) {
			return fmt.Errorf("writer | cat still running after %v", b.timeout)
		}
		start := time.Unix(0, m.nano)
		c.elapsed, c.sinceExec = p.exitedAt.Sub(start), start.Sub(p.startedAt)
		c.bytesIn = c.elapsed // cat has written everything when the sh exits
		c.writer = writerReport(filepath.Join(dir, "sh.log"))
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			// wait4 counts the sh and its reaped children, writer and cat:
			// take the writer's own CPU time out.
			all := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			if w, ok := writerCPU(c.writer); ok {
				c.cpu = max(all-w, 0)
			}
		}
		var perr error
		if !p.cmd.ProcessState.Success() {
			perr = fmt.Errorf("writer | cat: %v; %s", p.err, p.logTail(5))
		}
		return joinErr(perr, b.verifyLogs(c, dir, lines))
	}

	progs := []program{{name: "w", cmd: cmd, keys: [][2]string{
		{"autostart", "true"}, {"autorestart", "false"}, {"startsecs", "0"},
		{"stdout_logfile", logPath}, {"stdout_logfile_maxbytes", "50MB"}, {"stdout_logfile_backups", strconv.Itoa(logBackups)},
		{"stderr_logfile", filepath.Join(dir, "w.err")},
	}}}
	d, err := b.startDaemonConf(sys, dir, "logcapture", progs, supervisorConf)
	if err != nil {
		return err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if _, err := d.stop(30 * time.Second); err != nil {
				b.table.note("logcapture, stopping %v: %v", sys, err)
			}
		}
	}
	defer stop()
	m, err := waitStamp(l, d.proc, b.timeout)
	if err != nil {
		return err
	}
	c.cpuStart = cpuOf(d.proc.pid())
	start := time.Unix(0, m.nano)
	c.sinceExec = start.Sub(d.proc.startedAt)
	wst, werr := readStat(m.pid)
	gone := func() bool {
		if werr != nil {
			return true // reaped before we looked
		}
		st, err := readStat(m.pid)
		return err != nil || st.start != wst.start
	}

	var candidate, done, lastChange, bytesCand, bytesAt time.Time
	var lastSum int64 = -1
	err = pollUntil(b.timeout, 10*time.Millisecond, d.proc, func() bool {
		now := time.Now()
		g, sum := gone(), logBytes(dir)
		if sum != lastSum {
			lastSum, lastChange = sum, now
		}
		// The same confirmation for the bytes alone (reaped or not).
		switch {
		case sum != want:
			bytesCand = time.Time{}
		case !bytesAt.IsZero():
		case bytesCand.IsZero():
			bytesCand = now
		default:
			bytesAt = bytesCand
		}
		if g && sum == want {
			if !candidate.IsZero() {
				done = candidate
				return true
			}
			candidate = now
			return false
		}
		candidate = time.Time{}
		// The writer is gone and nothing moved for 5 s: the bytes are lost
		// (or more than written arrived); stop waiting, check what is there.
		return g && now.Sub(lastChange) > 5*time.Second
	})
	c.cpuDone = cpuOf(d.proc.pid())
	if err == nil && done.IsZero() {
		err = fmt.Errorf("writer exited but the log files hold %d bytes, want %d (no change for 5 s)", lastSum, want)
	} else if err != nil {
		err = fmt.Errorf("%v (writer gone: %v, log bytes %d of %d)", err, gone(), logBytes(dir), want)
	}
	c.elapsed = done.Sub(start)
	c.bytesIn = c.elapsed
	if !bytesAt.IsZero() {
		c.bytesIn = bytesAt.Sub(start)
	}

	// What the daemon says about the program, polled until it is no longer
	// running (its state may lag the reaping by a loop of its own).
	if aerr := d.waitAPI(30 * time.Second); aerr != nil {
		c.state = "API: " + aerr.Error()
	} else {
		t0 := time.Now()
		for range 1000 {
			body, rerr := d.xmlrpc("supervisor.getProcessInfo", "w")
			if rerr != nil {
				c.state = rerr.Error()
				break
			}
			st := xmlMember(body, "statename")
			c.state = fmt.Sprintf("%s, exit status %s (%.0f ms after the check above)", st, xmlMember(body, "exitstatus"), ms(time.Since(t0)))
			if st != "RUNNING" && st != "STARTING" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.cpu = cpuOf(d.proc.pid())
	stop()
	c.writer = writerReport(filepath.Join(dir, "w.err"))
	return joinErr(err, b.verifyLogs(c, dir, lines))
}

// logBackups is stdout_logfile_backups of the log-capture program.
const logBackups = 10

// logFiles lists w.log.N … w.log.1, w.log of dir, oldest first, with sizes.
func logFiles(dir string) ([]string, []int64) {
	ents, _ := os.ReadDir(dir)
	type f struct {
		name string
		n    int
	}
	var fs []f
	for _, e := range ents {
		name := e.Name()
		if name == "w.log" {
			fs = append(fs, f{name, 0})
		} else if s, ok := strings.CutPrefix(name, "w.log."); ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				fs = append(fs, f{name, n})
			}
		}
	}
	slices.SortFunc(fs, func(a, b f) int { return b.n - a.n })
	names := make([]string, len(fs))
	sizes := make([]int64, len(fs))
	for i, x := range fs {
		names[i] = x.name
		if st, err := os.Stat(filepath.Join(dir, x.name)); err == nil {
			sizes[i] = st.Size()
		}
	}
	return names, sizes
}

// logBytes sums the sizes of w.log and w.log.1 … w.log.logBackups: a stat
// each, cheap enough for a 10 ms poll.
func logBytes(dir string) int64 {
	var sum int64
	for i := range logBackups + 1 {
		name := "w.log"
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil {
			sum += st.Size()
		}
	}
	return sum
}

// verifyLogs streams the backups, oldest first, then the current file
// through a line checker (bounded memory: a 1 MB buffer and a bitmap).
func (b *bench) verifyLogs(c *capture, dir string, lines uint64) error {
	c.files, c.sizes = logFiles(dir)
	if len(c.files) == 0 {
		return fmt.Errorf("no log file in %s", dir)
	}
	var rs []*os.File
	defer func() {
		for _, f := range rs {
			f.Close()
		}
	}()
	for _, name := range c.files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		rs = append(rs, f)
	}
	readers := make([]io.Reader, len(rs))
	for i, f := range rs {
		readers[i] = f
	}
	c.check = numline.NewChecker(lines)
	t := time.Now()
	if err := c.check.Feed(readers...); err != nil {
		return fmt.Errorf("reading the logs: %v", err)
	}
	progress("logcapture: checked %d bytes in %d files in %.2f s", c.check.Bytes, len(rs), time.Since(t).Seconds())
	return nil
}

// removeLogs deletes the big log files unless the work directory is kept.
func (b *bench) removeLogs(dir string) {
	if b.keep {
		return
	}
	names, _ := logFiles(dir)
	for _, n := range names {
		os.Remove(filepath.Join(dir, n))
	}
}

// waitStamp waits for the writer's start stamp while p runs.
func waitStamp(l *stampListener, p *proc, timeout time.Duration) (stampMsg, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m, err := l.next(100*time.Millisecond, nil); err == nil {
			return m, nil
		}
		if p.exited() {
			if m, err := l.next(time.Second, nil); err == nil { // sent just before
				return m, nil
			}
			return stampMsg{}, p.exitError()
		}
	}
	return stampMsg{}, fmt.Errorf("no writer started within %v", timeout)
}

var writerLine = regexp.MustCompile(`writer: \d+ lines.*`)

// writerReport is the writer's last stderr line, or what went wrong.
func writerReport(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "writer: no report (" + err.Error() + ")"
	}
	if m := writerLine.Find(b); m != nil {
		return string(m)
	}
	return "writer: no report: " + strings.TrimSpace(string(b))
}

var writerCPURe = regexp.MustCompile(`cpu ([0-9.]+) s`)

func writerCPU(report string) (time.Duration, bool) {
	m := writerCPURe.FindStringSubmatch(report)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	return time.Duration(f * float64(time.Second)), err == nil
}

// cpuOf is utime+stime of pid (10 ms ticks), -1 if unreadable.
func cpuOf(pid int) time.Duration {
	st, err := readStat(pid)
	if err != nil {
		return -1
	}
	return time.Duration(st.utime+st.stime) * clockTick
}

// joinErr joins two errors, either of which may be nil, on one line.
func joinErr(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%v; %v", a, b)
}
