package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// daemons lists the daemon columns being measured.
func (b *bench) daemons() []system {
	var out []system
	for _, s := range []system{gafferd, supervisord} {
		if b.systems[s] {
			out = append(out, s)
		}
	}
	return out
}

func (b *bench) dir(name string) string {
	d := filepath.Join(b.work, name)
	os.MkdirAll(d, 0o700)
	return d
}

func (b *bench) stampCmd(sock string, ignoreTerm bool) string {
	c := fmt.Sprintf("%s -sock %s -max %s", b.stampBin, sock, b.childLife)
	if ignoreTerm {
		c += " -ignore-term"
	}
	return c
}

// ---------------------------------------------------------------- respawn

// respawner is one system in the respawn scenario: it keeps one stamp
// child alive, which the harness kills.
type respawner struct {
	sys    system
	l      *stampListener
	parent int // the child's expected parent: sh or the daemon
	cur    int // live stamp child
	stop   func()
	lat    []float64
	err    error
}

// runRespawn kills the child of every system K times, in rounds and in a
// random order within a round, with a random 150–400 ms pause before each
// kill (so the kill lands anywhere in a daemon's poll cycle, and noise from
// the shared machine spreads over all systems alike). The latency is the new
// child's own start stamp minus the time just before kill(2).
func (b *bench) runRespawn() {
	progress("respawn: setting up")
	var rs []*respawner
	defer func() {
		for _, r := range rs {
			if r.stop != nil {
				r.stop()
			}
			r.l.close()
		}
	}()
	for sys := range nSystems {
		if !b.systems[sys] {
			continue
		}
		dir := b.dir("respawn-" + sys.String())
		l, err := newStampListener(filepath.Join(dir, "stamp.sock"))
		if err != nil {
			b.table.fail("respawn.p50", sys, err)
			continue
		}
		r := &respawner{sys: sys, l: l}
		rs = append(rs, r)
		cmd := b.stampCmd(l.path, false)
		switch sys {
		case baseline:
			script := fmt.Sprintf(`i=0; while [ "$i" -lt %d ]; do %s; i=$((i+1)); done`, 2*b.k+10, cmd)
			p, err := startProc("baseline sh loop", []string{b.shBin, "-c", script}, filepath.Join(dir, "sh.log"))
			if err != nil {
				r.err = err
				continue
			}
			r.parent, r.stop = p.pid(), p.killGroup
		default:
			d, err := b.startDaemon(sys, dir, "respawn", []program{{name: "stamp", cmd: cmd}})
			if err != nil {
				r.err = err
				continue
			}
			r.parent = d.proc.pid()
			r.stop = func() {
				if _, err := d.stop(30 * time.Second); err != nil {
					b.table.note("respawn, stopping %v: %v", sys, err)
				}
			}
		}
		m, err := l.next(30*time.Second, func(m stampMsg) bool { return isChildOf(m.pid, r.parent, "stamp") })
		if err != nil {
			r.err = fmt.Errorf("first child: %v", err)
			continue
		}
		r.cur = m.pid
	}
	progress("respawn: %d kills per system", b.k)
	for i := range b.k {
		for _, j := range b.rng.Perm(len(rs)) {
			r := rs[j]
			if r.err != nil {
				continue
			}
			time.Sleep(150*time.Millisecond + time.Duration(b.rng.Int64N(int64(250*time.Millisecond))))
			if !isChildOf(r.cur, r.parent, "stamp") {
				r.err = fmt.Errorf("kill %d: child %d is gone before the kill", i+1, r.cur)
				continue
			}
			for len(r.l.ch) > 0 { // stale stamps
				<-r.l.ch
			}
			killed := r.cur
			t := time.Now().UnixNano()
			syscall.Kill(killed, syscall.SIGKILL)
			m, err := r.l.next(10*time.Second, func(m stampMsg) bool {
				return m.pid != killed && isChildOf(m.pid, r.parent, "stamp")
			})
			if err != nil {
				r.err = fmt.Errorf("kill %d: %v", i+1, err)
				continue
			}
			r.lat = append(r.lat, float64(m.nano-t)/1e6)
			r.cur = m.pid
		}
	}
	for _, r := range rs {
		if r.err != nil {
			b.table.fail("respawn.p50", r.sys, r.err)
			if len(r.lat) == 0 {
				continue
			}
		}
		b.table.set("respawn.p50", r.sys, percentile(r.lat, 50))
		b.table.set("respawn.p90", r.sys, percentile(r.lat, 90))
		progress("respawn %v: %d samples, min %.2f ms, median %.2f ms, p90 %.2f ms, max %.2f ms", r.sys, len(r.lat),
			percentile(r.lat, 0), percentile(r.lat, 50), percentile(r.lat, 90), percentile(r.lat, 100))
	}
}

// ---------------------------------------------------------- sleepers

// sleepers is a system running n `sleep` children: the sh loop or a daemon.
type sleepers struct {
	sys     system
	p       *proc
	d       *daemon // nil for the baseline
	elapsed time.Duration
	// first and half: when the first child and half of them were seen.
	first, half time.Duration
	cpu         time.Duration // CPU time of the sh or daemon until then
}

// launchSleepers starts n children `sleep 1000` and waits until the
// launched process has n children that have exec'd sleep, counted in
// /proc/PID/task/*/children: the same criterion for the three systems.
// The time runs from just before exec of the sh or the daemon (its config
// already written) to the poll (every 2 ms) that sees the n-th child.
// format picks the daemons' config (the baseline has none).
func (b *bench) launchSleepers(sys system, n int, tag string, format confFormat) (*sleepers, error) {
	dir := b.dir(tag + "-" + sys.String())
	sleepCmd := b.sleepBin + " 1000"
	s := &sleepers{sys: sys}
	var err error
	switch sys {
	case baseline:
		script := fmt.Sprintf("for i in $(seq %d); do %s & done; wait", n, sleepCmd)
		s.p, err = startProc("baseline sh ("+tag+")", []string{b.shBin, "-c", script}, filepath.Join(dir, "sh.log"))
	default:
		progs := make([]program, n)
		for i := range progs {
			progs[i] = program{name: fmt.Sprintf("p%d", i+1), cmd: sleepCmd}
		}
		s.d, err = b.startDaemonConf(sys, dir, tag, progs, format)
		if s.d != nil {
			s.p = s.d.proc
		}
	}
	if err != nil {
		return nil, err
	}
	cc := newChildCounter(s.p.pid(), "sleep")
	var first, half, done time.Time
	err = pollUntil(b.timeout, b.poll, s.p, func() bool {
		c := cc.count()
		now := time.Now()
		if c > 0 && first.IsZero() {
			first = now
		}
		if 2*c >= n && half.IsZero() {
			half = now
		}
		if c >= n {
			done = now
			if st, err := readStat(s.p.pid()); err == nil {
				s.cpu = time.Duration(st.utime+st.stime) * clockTick
			}
			return true
		}
		return false
	})
	if err != nil {
		err = fmt.Errorf("%d of %d children running: %v", cc.count(), n, err)
		s.stop()
		return nil, err
	}
	s.elapsed = done.Sub(s.p.startedAt)
	s.first, s.half = first.Sub(s.p.startedAt), half.Sub(s.p.startedAt)
	return s, nil
}

// stop ends the system; for a daemon it returns the time SIGTERM → exit.
func (s *sleepers) stop() (time.Duration, error) {
	if s.d == nil {
		s.p.killGroup()
		return 0, nil
	}
	return s.d.stop(60 * time.Second)
}

// checkCount notes when the number of children differs from n after the
// settle pause (a supervisor that spawns too many, or lost some).
func (b *bench) checkCount(s *sleepers, n int, what string) {
	if got := newChildCounter(s.p.pid(), "sleep").count(); got != n {
		b.table.note("%s, %v: %d sleep children after settling, want %d", what, s.sys, got, n)
	}
}

// ---------------------------------------------------------- idle + list small

// runSmall starts each daemon with `small` programs, lets it settle, then
// reads its CPU time and context switches before and after an idle
// interval in which the harness does not touch it (its API connections are
// closed before settling). Then the small list series. The baseline (sh in
// `wait` with its children) is measured over the first daemon's interval.
func (b *bench) runSmall() {
	var base *sleepers
	baseDone := false
	if b.systems[baseline] && b.only["idle"] {
		var err error
		progress("idle: baseline sh with %d children", b.small)
		if base, err = b.launchSleepers(baseline, b.small, "small", nativeConf); err != nil {
			b.table.fail("idle.cpu", baseline, err)
			baseDone = true
		} else {
			defer base.stop()
		}
	}
	for _, sys := range b.daemons() {
		progress("small: %v with %d programs", sys, b.small)
		s, err := b.launchSleepers(sys, b.small, "small", nativeConf)
		if err != nil {
			b.table.fail("idle.cpu", sys, err)
			b.table.fail("list.small.p50", sys, err)
			continue
		}
		if err := s.d.waitAPI(30 * time.Second); err != nil {
			b.table.fail("list.small.p50", sys, fmt.Errorf("API: %v", err))
		}
		if b.only["idle"] {
			s.d.http.CloseIdleConnections()
			time.Sleep(b.settle)
			b.checkCount(s, b.small, "idle")
			pids := map[system]int{sys: s.p.pid()}
			if base != nil && !baseDone {
				pids[baseline] = base.p.pid()
				baseDone = true
			}
			progress("idle: %v for %v", sys, b.idle)
			b.measureIdle(pids)
		}
		if b.only["list"] {
			b.listSeries(s.d, b.small, "list.small", "list everything", b.callBudget)
		}
		if _, err := s.stop(); err != nil {
			b.table.note("small, stopping %v: %v", sys, err)
		}
	}
	if base != nil && !baseDone { // no daemon column: the baseline alone
		time.Sleep(b.settle)
		progress("idle: baseline alone for %v", b.idle)
		b.measureIdle(map[system]int{baseline: base.p.pid()})
	}
}

// measureIdle reads the usage of every pid, sleeps the idle interval and
// reads it again.
func (b *bench) measureIdle(pids map[system]int) {
	u0 := map[system]usage{}
	for s, pid := range pids {
		u, err := readUsage(pid)
		if err != nil {
			b.table.fail("idle.cpu", s, err)
			delete(pids, s)
			continue
		}
		u0[s] = u
	}
	time.Sleep(b.idle)
	for s, pid := range pids {
		u1, err := readUsage(pid)
		if err != nil {
			b.table.fail("idle.cpu", s, err)
			continue
		}
		a := u0[s]
		cpu := cpuDelta(a, u1)
		b.table.set("idle.cpu", s, ms(cpu))
		b.table.set("idle.ctxsw", s, float64(u1.ctxsw-a.ctxsw))
		progress("idle %v: cpu %.3f ms (schedstat %.3f ms, ticks %d), context switches %d, threads %d→%d",
			s, ms(cpu), float64(u1.schedNs-a.schedNs)/1e6, u1.ticks-a.ticks, u1.ctxsw-a.ctxsw, a.threads, u1.threads)
	}
}

// listSeries times `calls` sequential "list everything" calls on one
// keep-alive connection (after 5 warm-up calls), within budget; what names
// the series in the notes.
func (b *bench) listSeries(d *daemon, procs int, id, what string, budget time.Duration) {
	lc, err := d.listEverything(procs)
	if err != nil {
		b.table.fail(id+".p50", d.sys, err)
		return
	}
	for range 5 {
		lc.call()
	}
	if err := lc.check(); err != nil {
		b.table.note("%s, %v: %v", id, d.sys, err)
	}
	lat := make([]float64, 0, b.calls)
	deadline := time.Now().Add(budget)
	size := 0
	for i := 0; i < b.calls && time.Now().Before(deadline); i++ {
		t := time.Now()
		n, err := lc.call()
		el := time.Since(t)
		if err != nil {
			b.table.fail(id+".p50", d.sys, fmt.Errorf("call %d: %v", i+1, err))
			return
		}
		size = n
		lat = append(lat, ms(el))
	}
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	b.table.set(id+".p50", d.sys, p50)
	b.table.set(id+".p99", d.sys, p99)
	progress("%s %d %v: p50 %.3f ms p99 %.3f ms max %.3f ms (%d calls)", what, procs, d.sys, p50, p99, percentile(lat, 100), len(lat))
	if len(lat) < b.calls {
		b.table.note("%s with %d processes, %v: only %d of %d calls within %v", what, procs, d.sys, len(lat), b.calls, budget)
	}

	// The same series of the cheapest call shows what the transport and
	// the machine's noise alone cost.
	fdesc, floor := d.floorCall()
	flat := make([]float64, 0, b.calls)
	deadline = time.Now().Add(budget)
	for i := 0; i < b.calls && time.Now().Before(deadline); i++ {
		t := time.Now()
		if err := floor(); err != nil {
			flat = nil
			break
		}
		flat = append(flat, ms(time.Since(t)))
	}
	floorText := "floor call failed"
	if len(flat) > 0 {
		floorText = fmt.Sprintf("floor %s p50 %.3f ms p99 %.3f ms", fdesc, percentile(flat, 50), percentile(flat, 99))
	}
	b.table.note("%s with %d processes, %v: %s, %d calls, answer %d bytes, max %.3f ms; %s",
		what, procs, d.sys, lc.desc, len(lat), size, percentile(lat, 100), floorText)
}

// ---------------------------------------------------------- start N (+RSS, list N, shutdown)

// runLarge measures, one system at a time: N programs from config to all
// running, the daemon's RSS after settling, the large list series, and the
// time from SIGTERM to the daemon's exit.
func (b *bench) runLarge() {
	for sys := range nSystems {
		if !b.systems[sys] || (sys == baseline && !b.only["start"]) {
			continue
		}
		progress("start: %v with %d programs", sys, b.n)
		s, err := b.launchSleepers(sys, b.n, "large", nativeConf)
		if err != nil {
			b.table.fail("start", sys, err)
			continue
		}
		if b.only["start"] {
			b.table.set("start", sys, secs(s.elapsed))
		}
		progress("start %v: first child after %.3f s, half after %.3f s, all %d after %.3f s", sys, secs(s.first), secs(s.half), b.n, secs(s.elapsed))
		if b.only["start"] {
			b.table.note("start, %v: first child running after %.3f s, half after %.3f s, all %d after %.3f s; its CPU time by then %.2f s",
				sys, secs(s.first), secs(s.half), b.n, secs(s.elapsed), secs(s.cpu))
		}
		time.Sleep(b.settle)
		b.checkCount(s, b.n, "start")
		if b.only["start"] {
			if kb, err := rssKB(s.p.pid()); err != nil {
				b.table.fail("rss", sys, err)
			} else {
				b.table.set("rss", sys, float64(kb)/1024)
				progress("rss %v: %.1f MB", sys, float64(kb)/1024)
			}
		}
		if s.d != nil && b.only["list"] {
			if err := s.d.waitAPI(30 * time.Second); err != nil {
				b.table.fail("list.n.p50", sys, err)
			} else {
				b.listSeries(s.d, b.n, "list.n", "list everything", b.callBudget)
			}
		}
		el, err := s.stop()
		if s.d != nil && b.only["start"] {
			if err != nil {
				b.table.fail("shutdown", sys, err)
			} else {
				b.table.set("shutdown", sys, secs(el))
				progress("shutdown %v: %.3f s", sys, secs(el))
			}
		}
	}
}

// ---------------------------------------------------------- stop

// runStop starts stopN stamp children that ignore SIGTERM and times their
// stop with a graceful timeout of stopTimeout seconds: from the request
// until every one of their pids is gone (reaped). Baseline: the harness
// itself sends TERM to all, waits the timeout, KILLs, and reaps.
func (b *bench) runStop() {
	for sys := range nSystems {
		if !b.systems[sys] {
			continue
		}
		progress("stop: %v, %d children, %d repetitions", sys, b.stopN, b.stopReps)
		times, err := b.stopSystem(sys)
		if err != nil {
			b.table.fail("stop", sys, err)
		}
		if len(times) > 0 {
			b.table.set("stop", sys, percentile(times, 50))
			progress("stop %v: %v s", sys, fmtList(times))
		}
	}
}

func (b *bench) stopSystem(sys system) ([]float64, error) {
	dir := b.dir("stop-" + sys.String())
	l, err := newStampListener(filepath.Join(dir, "stamp.sock"))
	if err != nil {
		return nil, err
	}
	defer l.close()
	cmd := b.stampCmd(l.path, true)
	var times []float64

	// waitGone polls every ms until no pid exists any more.
	waitGone := func(t0 time.Time, pids []int) (time.Duration, error) {
		var done time.Time
		err := pollUntil(30*time.Second, time.Millisecond, nil, func() bool {
			for _, p := range pids {
				if alive(p) {
					return false
				}
			}
			done = time.Now()
			return true
		})
		return done.Sub(t0), err
	}

	if sys == baseline {
		parent := os.Getpid()
		for rep := range b.stopReps {
			var ps []*proc
			for i := range b.stopN {
				p, err := startProc(fmt.Sprintf("baseline stubborn %d", i), strings.Fields(cmd), "")
				if err != nil {
					return times, err
				}
				ps = append(ps, p)
			}
			pids, err := l.collect(b.stopN, parent, 30*time.Second)
			if err != nil {
				for _, p := range ps {
					p.killGroup()
				}
				return times, err
			}
			time.Sleep(500 * time.Millisecond)
			t0 := time.Now()
			for _, pid := range pids {
				killChild(pid, parent, "stamp", syscall.SIGTERM)
			}
			time.Sleep(time.Duration(b.stopTimeout) * time.Second)
			for _, p := range ps {
				if !p.exited() {
					syscall.Kill(p.pid(), syscall.SIGKILL)
				}
			}
			el, err := waitGone(t0, pids)
			for _, p := range ps {
				p.killGroup()
			}
			if err != nil {
				return times, fmt.Errorf("rep %d: %v", rep+1, err)
			}
			times = append(times, secs(el))
		}
		return times, nil
	}

	d, err := b.startDaemon(sys, dir, "stop", []program{{name: "stubborn", cmd: cmd, num: b.stopN, graceful: b.stopTimeout}})
	if err != nil {
		return nil, err
	}
	defer func() {
		if _, err := d.stop(30 * time.Second); err != nil {
			b.table.note("stop, stopping %v: %v", sys, err)
		}
	}()
	if err := d.waitAPI(30 * time.Second); err != nil {
		return nil, err
	}
	parent := d.proc.pid()
	for rep := range b.stopReps {
		if rep > 0 {
			var err error
			if sys == gafferd {
				err = d.setJobState("stubborn", 1)
			} else {
				_, err = d.xmlrpc("supervisor.startProcessGroup", "stubborn", true)
			}
			if err != nil {
				return times, fmt.Errorf("rep %d: restart: %v", rep+1, err)
			}
		}
		pids, err := l.collect(b.stopN, parent, 30*time.Second)
		if err != nil {
			return times, fmt.Errorf("rep %d: %v", rep+1, err)
		}
		time.Sleep(500 * time.Millisecond)
		t0 := time.Now()
		if sys == gafferd {
			err = d.setJobState("stubborn", 0)
		} else {
			_, err = d.xmlrpc("supervisor.stopProcessGroup", "stubborn", true)
		}
		callEl := time.Since(t0)
		if err != nil {
			return times, fmt.Errorf("rep %d: stop request: %v", rep+1, err)
		}
		el, err := waitGone(t0, pids)
		if err != nil {
			return times, fmt.Errorf("rep %d: children still alive %v after the stop request: %v", rep+1, time.Since(t0).Round(time.Millisecond), err)
		}
		progress("stop %v rep %d: request returned after %.3f s, all %d gone after %.3f s", sys, rep+1, secs(callEl), len(pids), secs(el))
		time.Sleep(300 * time.Millisecond)
		if n := len(l.ch); n > 0 {
			b.table.note("stop, %v: %d children started again after the stop", sys, n)
			for len(l.ch) > 0 {
				<-l.ch
			}
		}
		times = append(times, secs(el))
	}
	return times, nil
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(parts, ", ")
}
