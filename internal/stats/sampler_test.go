package stats

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

// testStart is taken during package initialisation, shortly after the
// test process started.
var testStart = time.Now()

const helperEnv = "GAFFER_STATS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "burn" {
		// Child process: burn CPU for ~300 ms, then idle until stdin closes.
		burn(300 * time.Millisecond)
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var sink uint64

func burn(d time.Duration) {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink += x
}

var ctimeRE = regexp.MustCompile(`^\d+:[0-5]\d\.\d\d$`)

func checkShape(t *testing.T, st Stat) {
	t.Helper()
	if !st.CPU.OK || st.CPU.V < 0 {
		t.Errorf("CPU = %+v, want available and >= 0", st.CPU)
	}
	if st.RSS == 0 {
		t.Errorf("RSS = 0")
	}
	if st.VSize < st.RSS {
		t.Errorf("VSize %d < RSS %d", st.VSize, st.RSS)
	}
	if st.MemInfo1 != HumanSize(st.RSS) || st.MemInfo2 != HumanSize(st.VSize) {
		t.Errorf("mem_info1/2 = %q/%q, want %q/%q", st.MemInfo1, st.MemInfo2, HumanSize(st.RSS), HumanSize(st.VSize))
	}
	if !st.Mem.OK || st.Mem.V < 0 || st.Mem.V > 100 {
		t.Errorf("Mem = %+v", st.Mem)
	}
	if !ctimeRE.MatchString(st.CTime) {
		t.Errorf("CTime = %q, not M:SS.hh", st.CTime)
	}
	if want := formatCTime(uint64(st.CPUSeconds*100 + 0.5)); st.CTime != want {
		t.Errorf("CTime = %q, CPUSeconds %v gives %q", st.CTime, st.CPUSeconds, want)
	}
}

func TestSampleSelf(t *testing.T) {
	s := NewSampler()
	pid := os.Getpid()
	st, err := s.Sample(pid)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, st)
	if st.CPU.V != 0 {
		t.Errorf("first sample CPU = %v, want 0", st.CPU.V)
	}
	// The process started before testStart (start times are truncated to
	// 10 ms ticks, which can only make Age larger) and not long before.
	since := time.Since(testStart)
	if st.Age < since-50*time.Millisecond || st.Age > since+30*time.Second {
		t.Errorf("Age = %v, time since package init %v", st.Age, since)
	}
	if d := testStart.Sub(st.Started); d < -50*time.Millisecond || d > 30*time.Second {
		t.Errorf("Started = %v, package init at %v", st.Started, testStart)
	}
	t.Logf("self: %+v", st)

	burn(100 * time.Millisecond)
	st2, err := s.Sample(pid)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, st2)
	if st2.CPU.V <= 0 {
		t.Errorf("second sample after burning CPU: CPU = %v, want > 0", st2.CPU.V)
	}
	if st2.CPUSeconds < st.CPUSeconds {
		t.Errorf("CPUSeconds went back: %v then %v", st.CPUSeconds, st2.CPUSeconds)
	}
	if st2.Started != st.Started {
		t.Errorf("Started moved: %v then %v", st.Started, st2.Started)
	}
	t.Logf("self after burning: cpu=%v ctime=%s", st2.CPU, st2.CTime)
}

func TestSampleChild(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: a -race child would otherwise sleep 1 s at exit.
	cmd.Env = append(os.Environ(), helperEnv+"=burn", "GORACE=atexit_sleep_ms=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	pid := cmd.Process.Pid

	s := NewSampler()
	first, err := s.Sample(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !first.CPU.OK || first.CPU.V != 0 {
		t.Errorf("first sample CPU = %+v, want 0", first.CPU)
	}

	time.Sleep(400 * time.Millisecond)
	second, err := s.Sample(pid)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, second)
	if second.CPU.V <= 0 {
		t.Errorf("second sample CPU = %v, want > 0", second.CPU.V)
	}
	if second.CPUSeconds <= 0 || second.CTime == "0:00.00" {
		t.Errorf("CPUSeconds = %v, CTime = %q after burning", second.CPUSeconds, second.CTime)
	}
	elapsed := time.Since(started)
	if second.Age < 400*time.Millisecond-2*tick || second.Age > elapsed+time.Second {
		t.Errorf("Age = %v, child started %v ago", second.Age, elapsed)
	}
	if d := second.Started.Sub(started); d < -time.Second || d > time.Second {
		t.Errorf("Started = %v, child started at %v", second.Started, started)
	}
	t.Logf("child: %+v", second)

	// Once the child is gone and reaped, its pid does not exist.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	waited = true
	_, err = s.Sample(pid)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("sample of reaped child: err = %v, want os.ErrNotExist", err)
	}
	s.mu.Lock()
	_, kept := s.prev[pid]
	s.mu.Unlock()
	if kept {
		t.Errorf("history of a gone pid was kept")
	}
}

func TestSampleNotExist(t *testing.T) {
	s := NewSampler()
	// 1<<30 is above PID_MAX_LIMIT (4M), so no process can have it.
	for _, pid := range []int{0, -1, 1 << 30} {
		st, err := s.Sample(pid)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Sample(%d) = %+v, %v; want os.ErrNotExist", pid, st, err)
		}
	}
}

func TestForget(t *testing.T) {
	s := NewSampler()
	pid := os.Getpid()
	if _, err := s.Sample(pid); err != nil {
		t.Fatal(err)
	}
	s.Forget(pid)
	s.Forget(pid)     // twice is fine
	s.Forget(1 << 30) // unknown is fine
	burn(50 * time.Millisecond)
	st, err := s.Sample(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.V != 0 {
		t.Errorf("CPU after Forget = %v, want 0 (first sample)", st.CPU.V)
	}
}

func TestPidReuseReal(t *testing.T) {
	s := NewSampler()
	pid := os.Getpid()
	if _, err := s.Sample(pid); err != nil {
		t.Fatal(err)
	}
	// Pretend the history belongs to an older process with the same pid.
	s.mu.Lock()
	p := s.prev[pid]
	real := p.start
	p.start--
	p.ticks = 0
	p.at = p.at.Add(-time.Second)
	s.prev[pid] = p
	s.mu.Unlock()
	st, err := s.Sample(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.V != 0 {
		t.Errorf("CPU with another process's history = %v, want 0", st.CPU.V)
	}
	s.mu.Lock()
	if s.prev[pid].start != real {
		t.Errorf("history start = %d, want %d", s.prev[pid].start, real)
	}
	s.mu.Unlock()
}

// fake is a deterministic Sampler: stat, errors and clocks are set by hand.
type fake struct {
	*Sampler
	stat   procfs.ProcStat
	err    error
	now    time.Time
	uptime time.Duration
}

func newFake() *fake {
	f := &fake{now: time.Unix(1_700_000_000, 0), uptime: time.Hour}
	f.Sampler = &Sampler{
		pageSize: 4096,
		memTotal: 1 << 30,
		bootTime: f.now.Add(-f.uptime),
		prev:     make(map[int]prevSample),
	}
	f.readStat = func(pid int) (procfs.ProcStat, error) {
		if f.err != nil {
			return procfs.ProcStat{}, f.err
		}
		st := f.stat
		st.PID = pid
		return st, nil
	}
	f.Sampler.now = func() time.Time { return f.now }
	f.sinceBoot = func() (time.Duration, bool) { return f.uptime, true }
	f.stat = procfs.ProcStat{Starttime: 100 * 60 * 30, VSize: 28 << 20, RSS: 1280} // started 30 min after boot; 5M
	return f
}

func (f *fake) advance(d time.Duration, ticks uint) {
	f.now = f.now.Add(d)
	f.uptime += d
	f.stat.UTime += ticks
}

func (f *fake) cpu(t *testing.T, want float64) Stat {
	t.Helper()
	st, err := f.Sample(42)
	if err != nil {
		t.Fatal(err)
	}
	if !st.CPU.OK || st.CPU.V != want {
		t.Errorf("CPU = %+v, want %v", st.CPU, want)
	}
	return st
}

func TestSampleFake(t *testing.T) {
	f := newFake()
	st := f.cpu(t, 0)
	want := Stat{
		CPU: Some(0), Mem: Some(0.5), MemInfo1: "5M", MemInfo2: "28M", CTime: "0:00.00",
		RSS: 5 << 20, VSize: 28 << 20, Age: 30 * time.Minute, Started: f.bootTime.Add(30 * time.Minute),
	}
	if st != want {
		t.Errorf("fake stat\n got %+v\nwant %+v", st, want)
	}

	f.advance(time.Second, 50)
	f.cpu(t, 50)
	f.advance(time.Second, 250) // more than one core
	st = f.cpu(t, 250)
	if st.CTime != "0:03.00" || st.CPUSeconds != 3 {
		t.Errorf("CTime %q, CPUSeconds %v", st.CTime, st.CPUSeconds)
	}
	if st.Age != 30*time.Minute+2*time.Second {
		t.Errorf("Age = %v", st.Age)
	}

	// Less than a tick later: previous value, baseline kept.
	f.advance(5*time.Millisecond, 0)
	f.cpu(t, 250)
	f.advance(995*time.Millisecond, 33)
	f.cpu(t, 33)

	// Out of order (a concurrent sample stored a newer baseline).
	f.now = f.now.Add(-time.Second)
	f.cpu(t, 33)
	f.now = f.now.Add(time.Second)

	// Rounded to one decimal.
	f.advance(3*time.Second, 1)
	f.cpu(t, 0.3)

	// System time counts too.
	f.now = f.now.Add(time.Second)
	f.stat.STime += 20
	f.cpu(t, 20)

	// Same pid, another process.
	f.stat.Starttime++
	f.advance(time.Second, 100)
	f.cpu(t, 0)
	f.advance(time.Second, 10)
	f.cpu(t, 10)

	// Forget.
	f.Forget(42)
	f.advance(time.Second, 100)
	f.cpu(t, 0)
}

func TestSampleFakeErrors(t *testing.T) {
	f := newFake()
	f.cpu(t, 0)

	for _, gone := range []error{
		&fs.PathError{Op: "open", Path: "/proc/42/stat", Err: syscall.ENOENT},
		&fs.PathError{Op: "read", Path: "/proc/42/stat", Err: syscall.ESRCH},
	} {
		f.err = gone
		_, err := f.Sample(42)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("readStat error %v: Sample error %v, want os.ErrNotExist", gone, err)
		}
		if _, ok := f.prev[42]; ok {
			t.Errorf("history kept after %v", gone)
		}
	}

	for _, denied := range []error{
		&fs.PathError{Op: "open", Path: "/proc/42/stat", Err: syscall.EACCES},
		&fs.PathError{Op: "open", Path: "/proc/42/stat", Err: syscall.EPERM},
	} {
		f.err = denied
		st, err := f.Sample(42)
		if err != nil {
			t.Errorf("permission error %v: Sample error %v, want N/A fields", denied, err)
		}
		if got, want := mustJSON(t, st), mustJSON(t, naStat()); got != want || st.CPU.OK || st.Mem.OK {
			t.Errorf("permission error: %+v", st)
		}
	}

	f.err = procfs.ErrFileParse
	if _, err := f.Sample(42); err == nil || errors.Is(err, os.ErrNotExist) || !errors.Is(err, procfs.ErrFileParse) {
		t.Errorf("parse error: %v", err)
	}
}

func TestSampleFakeUnknownMemTotal(t *testing.T) {
	f := newFake()
	f.memTotal = 0
	f.sinceBoot = func() (time.Duration, bool) { return 0, false }
	st, err := f.Sample(42)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mem.OK || st.MemInfo1 != "5M" {
		t.Errorf("Mem = %+v, MemInfo1 = %q", st.Mem, st.MemInfo1)
	}
	// Without CLOCK_BOOTTIME, Age comes from the wall clock and boot time.
	if st.Age != 30*time.Minute {
		t.Errorf("Age = %v", st.Age)
	}
}

func TestSampleConcurrent(t *testing.T) {
	s := NewSampler()
	pid := os.Getpid()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				st, err := s.Sample(pid)
				if err != nil {
					t.Error(err)
					return
				}
				if !st.CPU.OK || st.CPU.V < 0 {
					t.Errorf("CPU = %+v", st.CPU)
				}
				if i%10 == 9 {
					s.Forget(pid)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkSample(b *testing.B) {
	s := NewSampler()
	pid := os.Getpid()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sample(pid); err != nil {
			b.Fatal(err)
		}
	}
}
