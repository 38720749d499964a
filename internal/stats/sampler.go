package stats

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of the tick counts in /proc/<pid>/stat. procfs
// hard-codes the same value: USER_HZ is 100 on every Go-supported platform.
const userHZ = 100

// tick is the duration of one clock tick.
const tick = time.Second / userHZ

// Sampler reads process statistics from /proc on demand and remembers the
// previous sample of each process to compute CPU percentages. It starts no
// goroutines. It is safe for concurrent use; see the package documentation.
type Sampler struct {
	procErr  error     // set when /proc is unusable
	pageSize uint64    // bytes per page
	memTotal uint64    // physical RAM in bytes; 0 if unknown
	bootTime time.Time // wall-clock boot time; zero if unknown

	// Hooks, replaced by tests.
	readStat  func(pid int) (procfs.ProcStat, error)
	now       func() time.Time
	sinceBoot func() (time.Duration, bool)

	mu   sync.Mutex
	prev map[int]prevSample // by pid; start disambiguates pid reuse
}

// prevSample is the CPU baseline of one process.
type prevSample struct {
	start uint64    // start time in ticks since boot: the process identity with pid
	ticks uint64    // utime+stime at the sample
	at    time.Time // when the sample was taken (monotonic)
	cpu   float64   // the percentage computed at that sample
}

// NewSampler returns a Sampler reading the default /proc mount. It reads the
// boot time, the page size and the physical memory size once. It does not
// fail: if /proc is missing every Sample returns an error, and if the memory
// size cannot be read Mem is "N/A".
func NewSampler() *Sampler {
	s := &Sampler{
		pageSize:  uint64(os.Getpagesize()),
		now:       time.Now,
		sinceBoot: sinceBoot,
		prev:      make(map[int]prevSample),
	}
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		s.procErr = fmt.Errorf("stats: /proc is not available (%v): %w", err, errors.ErrUnsupported)
		s.readStat = func(int) (procfs.ProcStat, error) { return procfs.ProcStat{}, s.procErr }
		return s
	}
	s.readStat = func(pid int) (procfs.ProcStat, error) {
		p, err := pfs.Proc(pid)
		if err != nil {
			return procfs.ProcStat{}, err
		}
		return p.Stat()
	}
	if mi, err := pfs.Meminfo(); err == nil && mi.MemTotalBytes != nil {
		s.memTotal = *mi.MemTotalBytes
	}
	// Boot time: derived from CLOCK_BOOTTIME when possible (sub-tick
	// precision), otherwise btime from /proc/stat (whole seconds).
	if up, ok := s.sinceBoot(); ok {
		s.bootTime = time.Now().Add(-up).Round(time.Millisecond)
	} else if st, err := pfs.Stat(); err == nil && st.BootTime > 0 {
		s.bootTime = time.Unix(int64(st.BootTime), 0)
	}
	return s
}

// Sample reads the current statistics of process pid.
//
// When the process does not exist (or has been reaped) the error wraps
// os.ErrNotExist, so errors.Is(err, os.ErrNotExist) holds, and the history
// of that pid is forgotten. When /proc refuses access to the process the
// Stat has every field "N/A" and the error is nil. Other errors (unparsable
// /proc data, /proc not mounted) are returned as they are.
//
// CPU is relative to the previous call for the same process on this
// Sampler; it is 0 on the first call, and when less than one clock tick
// (10 ms) has passed since the baseline the previous percentage is returned
// without moving the baseline.
func (s *Sampler) Sample(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("stats: process %d: %w", pid, os.ErrNotExist)
	}
	ps, err := s.readStat(pid)
	now := s.now()
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH):
			s.Forget(pid)
			return Stat{}, fmt.Errorf("stats: process %d does not exist: %w", pid, os.ErrNotExist)
		case errors.Is(err, fs.ErrPermission):
			return naStat(), nil
		case s.procErr != nil:
			return Stat{}, s.procErr
		default:
			return Stat{}, fmt.Errorf("stats: process %d: %w", pid, err)
		}
	}

	ticks := uint64(ps.UTime) + uint64(ps.STime)
	var rss uint64
	if ps.RSS > 0 {
		rss = uint64(ps.RSS) * s.pageSize
	}
	vsize := uint64(ps.VSize)
	st := Stat{
		CPU:        Some(s.cpuPercent(pid, ps.Starttime, ticks, now)),
		MemInfo1:   HumanSize(rss),
		MemInfo2:   HumanSize(vsize),
		CTime:      formatCTime(ticks * 100 / userHZ),
		RSS:        rss,
		VSize:      vsize,
		CPUSeconds: float64(ticks) / userHZ,
	}
	if s.memTotal > 0 {
		st.Mem = Some(round1(float64(rss) / float64(s.memTotal) * 100))
	}
	startOffset := time.Duration(ps.Starttime) * tick
	if !s.bootTime.IsZero() {
		st.Started = s.bootTime.Add(startOffset)
	}
	if up, ok := s.sinceBoot(); ok {
		st.Age = up - startOffset
	} else if !st.Started.IsZero() {
		st.Age = now.Sub(st.Started)
	}
	if st.Age < 0 {
		st.Age = 0
	}
	return st, nil
}

// cpuPercent records the sample in the history and returns the CPU
// percentage since the previous one.
func (s *Sampler) cpuPercent(pid int, start, ticks uint64, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prev[pid]
	if !ok || p.start != start {
		// First sample of this process (a different start time means the
		// pid now belongs to another process).
		s.prev[pid] = prevSample{start: start, ticks: ticks, at: now}
		return 0
	}
	dt := now.Sub(p.at)
	if dt < tick {
		// Too close to the baseline for tick-granular counters to mean
		// anything, or older than it (a concurrent Sample won the race).
		return p.cpu
	}
	var used uint64
	if ticks > p.ticks {
		used = ticks - p.ticks
	}
	cpu := round1(float64(used) / userHZ / dt.Seconds() * 100)
	s.prev[pid] = prevSample{start: start, ticks: ticks, at: now, cpu: cpu}
	return cpu
}

// Forget drops the history of pid, typically when the process is gone. The
// next Sample of that pid reports CPU 0. Forgetting an unknown pid is a
// no-op. Sample forgets a pid by itself when it finds the process gone.
func (s *Sampler) Forget(pid int) {
	s.mu.Lock()
	delete(s.prev, pid)
	s.mu.Unlock()
}
