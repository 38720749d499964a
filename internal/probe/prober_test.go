package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

func TestMain(m *testing.M) {
	// probe-notify STATE: send STATE to $NOTIFY_SOCKET with Notify and exit.
	gaffertest.Helpers["probe-notify"] = func(args []string) int {
		if err := Notify(os.Getenv("NOTIFY_SOCKET"), args[0]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

// wait bounds every wait of these tests.
const wait = 10 * time.Second

// reports collects a prober's reports on a channel.
type reports chan Result

func (r reports) report(res Result) { r <- res }

func (r reports) next(t *testing.T) Result {
	t.Helper()
	select {
	case res := <-r:
		return res
	case <-time.After(wait):
		t.Fatalf("no report within %v", wait)
		return Result{}
	}
}

// none fails if a report is pending; call it after Stop.
func (r reports) none(t *testing.T) {
	t.Helper()
	select {
	case res := <-r:
		t.Fatalf("unexpected report %+v", res)
	default:
	}
}

// script is a fake Runner: call i returns exit status codes[i] (the last
// one again past the end) after taking took[i] (0 past the end), and records
// when it started, on the virtual clock of a synctest bubble.
type script struct {
	codes  []int
	took   []time.Duration
	start  time.Time
	mu     sync.Mutex
	at     []time.Duration
	active atomic.Int32
	max    atomic.Int32
}

func (s *script) run(ctx context.Context, argv, env []string, dir string) (int, string, error) {
	n := s.active.Add(1)
	defer s.active.Add(-1)
	if n > s.max.Load() {
		s.max.Store(n)
	}
	s.mu.Lock()
	i := len(s.at)
	s.at = append(s.at, time.Since(s.start))
	s.mu.Unlock()
	if i < len(s.took) && s.took[i] > 0 {
		select {
		case <-time.After(s.took[i]):
		case <-ctx.Done():
			return 0, "", ctx.Err()
		}
	}
	return s.codes[min(i, len(s.codes)-1)], "", nil
}

func (s *script) calls() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

var fake = []string{"fake"}

func TestScheduleFirstAfterInitialDelayThenPeriodAfterEachCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{codes: []int{0}, took: []time.Duration{0, 3 * time.Second, 25 * time.Second}, start: time.Now()}
		spec := Spec{Kind: KindExec, Command: fake, InitialDelay: 5 * time.Second, Period: 10 * time.Second, Timeout: time.Minute}
		p := Start(spec, nil, "", s.run, func(Result) {})
		time.Sleep(90 * time.Second)
		p.Stop()
		// 5: first; 15: takes 3 s; 28: takes 25 s (longer than Period);
		// 63 and 73 once the slow check is done; then 83.
		want := []time.Duration{5, 15, 28, 63, 73, 83}
		for i := range want {
			want[i] *= time.Second
		}
		if got := s.calls(); !slices.Equal(got, want) {
			t.Fatalf("checks at %v, want %v", got, want)
		}
		if m := s.max.Load(); m != 1 {
			t.Fatalf("%d checks ran at once", m)
		}
	})
}

func TestReportsOnlyWhenDecidedAndOnChange(t *testing.T) {
	tests := []struct {
		name             string
		codes            []int
		success, failure int
		want             []bool
	}{
		{"healthy after one pass, reported once", []int{0, 0, 0}, 1, 1, []bool{true}},
		{"unhealthy after three failures", []int{1, 1, 1, 1}, 1, 3, []bool{false}},
		{"undecided while below both thresholds", []int{1, 0, 1, 0}, 2, 2, nil},
		{"flaps at the thresholds", []int{1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0}, 2, 3, []bool{true, false, true}},
		{"a failure below the threshold changes nothing", []int{0, 1, 1, 0, 1, 1, 0}, 1, 3, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{codes: tt.codes, start: time.Now()}
				var got []bool
				spec := Spec{Kind: KindExec, Command: fake, Period: time.Second, Timeout: time.Second,
					SuccessThreshold: tt.success, FailureThreshold: tt.failure}
				p := Start(spec, nil, "", s.run, func(r Result) { got = append(got, r.Healthy) })
				time.Sleep(time.Duration(len(tt.codes)-1)*time.Second + time.Second/2)
				p.Stop()
				if n := len(s.calls()); n != len(tt.codes) {
					t.Fatalf("%d checks, want %d", n, len(tt.codes))
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("reports %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestTimeoutIsAFailureWithDetail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{codes: []int{0}, took: []time.Duration{time.Hour}, start: time.Now()}
		var got []Result
		spec := Spec{Kind: KindExec, Command: fake, Period: time.Second, Timeout: 1500 * time.Millisecond, FailureThreshold: 1}
		p := Start(spec, nil, "", s.run, func(r Result) { got = append(got, r) })
		time.Sleep(2 * time.Second)
		p.Stop()
		want := []Result{{Healthy: false, Detail: "timeout after 1.5s"}}
		if !slices.Equal(got, want) {
			t.Fatalf("reports %+v, want %+v", got, want)
		}
	})
}

func TestStopCancelsACheckInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{codes: []int{0}, took: []time.Duration{time.Hour}, start: time.Now()}
		reported := false
		p := Start(Spec{Kind: KindExec, Command: fake, Timeout: 2 * time.Hour}, nil, "", s.run, func(Result) { reported = true })
		synctest.Wait() // the check is blocked in the runner
		if s.active.Load() != 1 {
			t.Fatal("no check in flight")
		}
		start := time.Now()
		p.Stop()
		if time.Since(start) != 0 {
			t.Fatalf("Stop waited %v of virtual time for the check", time.Since(start))
		}
		if s.active.Load() != 0 || reported {
			t.Fatalf("after Stop: %d checks running, reported %v", s.active.Load(), reported)
		}
		p.Stop() // again: no effect
	})
}

func TestStopBeforeFirstCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{codes: []int{0}, start: time.Now()}
		p := Start(Spec{Kind: KindExec, Command: fake, InitialDelay: time.Minute}, nil, "", s.run, func(Result) {})
		time.Sleep(59 * time.Second)
		p.Stop()
		time.Sleep(time.Hour)
		if n := len(s.calls()); n != 0 {
			t.Fatalf("%d checks after Stop before the first one was due", n)
		}
	})
}

func TestHTTP(t *testing.T) {
	var redirected atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if !r.Close {
			t.Error("probe request asks to keep the connection")
		}
	})
	mux.HandleFunc("/found", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/target", http.StatusFound) })
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path string
		want Result
	}{
		{"/ok", Result{true, "HTTP 200"}},
		{"/found", Result{true, "HTTP 302"}},
		{"/fail", Result{false, "HTTP 503"}},
		{"/slow", Result{false, "timeout after 200ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := make(reports, 1)
			p := Start(Spec{Kind: KindHTTP, URL: srv.URL + tt.path, Timeout: 200 * time.Millisecond, Period: time.Hour},
				nil, "", nil, r.report)
			got := r.next(t)
			p.Stop()
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if n := redirected.Load(); n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}

	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		r := make(reports, 1)
		p := Start(Spec{Kind: KindHTTP, URL: "http://" + addr + "/", Period: time.Hour}, nil, "", nil, r.report)
		got := r.next(t)
		p.Stop()
		if got.Healthy || !strings.Contains(got.Detail, "connection refused") || strings.Contains(got.Detail, "Get ") {
			t.Fatalf("got %+v, want the dial error without the URL", got)
		}
	})
}

func TestHTTPThresholdsWithAFlippingServer(t *testing.T) {
	codes := []int{500, 200, 200, 500, 200, 500, 500, 500, 200, 500, 200, 200}
	var served atomic.Int32
	var conns atomic.Int32
	last := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(served.Add(1)) - 1
		if i == len(codes) {
			close(last)
		}
		w.WriteHeader(codes[min(i, len(codes)-1)])
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	r := make(reports, 100)
	p := Start(Spec{Kind: KindHTTP, URL: srv.URL, Period: time.Millisecond, Timeout: wait,
		SuccessThreshold: 2, FailureThreshold: 3}, nil, "", nil, r.report)
	select {
	case <-last: // every report for codes has been made before this request
	case <-time.After(wait):
		t.Fatalf("only %d checks within %v", served.Load(), wait)
	}
	p.Stop()
	want := []Result{{true, "HTTP 200"}, {false, "HTTP 500"}, {true, "HTTP 200"}}
	for i, w := range want {
		if got := r.next(t); got != w {
			t.Fatalf("report %d: %+v, want %+v", i, got, w)
		}
	}
	r.none(t)
	if c, s := conns.Load(), served.Load(); c != s {
		t.Fatalf("%d requests on %d connections: connections were reused", s, c)
	}
}

func TestHTTPStopDuringASlowRequest(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // only the client going away ends it
	}))
	defer srv.Close()
	r := make(reports, 1)
	p := Start(Spec{Kind: KindHTTP, URL: srv.URL, Timeout: time.Hour}, nil, "", nil, r.report)
	select {
	case <-arrived:
	case <-time.After(wait):
		t.Fatal("no request")
	}
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("Stop waits for the request to end by itself")
	}
	r.none(t)
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	r := make(reports, 2)
	p := Start(Spec{Kind: KindTCP, Address: addr, Period: 5 * time.Millisecond, Timeout: wait, FailureThreshold: 1}, nil, "", nil, r.report)
	defer p.Stop()
	if got, want := r.next(t), (Result{true, "connected to " + addr}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	<-accepted
	l.Close()
	got := r.next(t)
	if got.Healthy || !strings.HasPrefix(got.Detail, "dial tcp "+addr) || !strings.Contains(got.Detail, "connection refused") {
		t.Fatalf("after close: %+v, want a refused dial", got)
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "PROBE_X=y"}
	tests := []struct {
		name string
		argv []string
		want Result
	}{
		{"true", []string{"true"}, Result{true, "exit status 0"}},
		{"false", []string{"false"}, Result{false, "exit status 1"}},
		{"output", []string{"sh", "-c", "echo '  not ready'; exit 3"}, Result{false, "exit status 3: not ready"}},
		{"stderr", []string{"sh", "-c", "echo oops >&2; exit 1"}, Result{false, "exit status 1: oops"}},
		{"signal", []string{"sh", "-c", "kill -TERM $$"}, Result{false, "exit status 143"}},
		{"env and dir", []string{"sh", "-c", `test "$PROBE_X" = y && test "$(pwd -P)" = "$(cd ` + dir + ` && pwd -P)"`}, Result{true, "exit status 0"}},
		{"missing", []string{"no-such-probe-command"}, Result{false, `"no-such-probe-command": executable file not found in PATH`}},
		{"background child holds the output", []string{"sh", "-c", "sleep 10 & echo started"}, Result{true, "exit status 0: started"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := make(reports, 1)
			p := Start(Spec{Kind: KindExec, Command: tt.argv, Period: time.Hour, Timeout: wait, FailureThreshold: 1}, env, dir, nil, r.report)
			got := r.next(t)
			p.Stop()
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestExecTimeoutKillsTheProcessGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	argv := []string{"sh", "-c", `echo $$ > ` + pids + `; sleep 10 & echo $! >> ` + pids + `; wait`}
	r := make(reports, 1)
	p := Start(Spec{Kind: KindExec, Command: argv, Period: time.Hour, Timeout: time.Second, FailureThreshold: 1},
		[]string{"PATH=" + os.Getenv("PATH")}, "", nil, r.report)
	got := r.next(t)
	p.Stop()
	if want := (Result{false, "timeout after 1s"}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("pids file %q: the shell did not start its child in time", b)
	}
	for _, s := range f {
		pid, _ := strconv.Atoi(s)
		t.Cleanup(func() {
			if !gaffertest.Gone(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		// Well before the sleep would end by itself.
		gaffertest.Eventually(t, 5*time.Second, "pid "+s+" to be gone", func() bool { return gaffertest.Gone(pid) })
	}
}

func TestIdleProbersKeepNoGoroutine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	// Warm up the server's and the runtime's goroutines before counting.
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	base := settledGoroutines(t, -1)

	const n = 20
	r := make(reports, 2*n)
	var ps []*Prober
	for i := range n {
		spec := Spec{Kind: KindTCP, Address: l.Addr().String(), Period: time.Hour}
		if i%2 == 1 {
			spec = Spec{Kind: KindHTTP, URL: srv.URL, Period: time.Hour}
		}
		ps = append(ps, Start(spec, nil, "", nil, r.report))
	}
	for range n {
		if res := r.next(t); !res.Healthy {
			t.Fatalf("report %+v", res)
		}
	}
	// Every prober is now waiting for its next check: only timers remain.
	settledGoroutines(t, base)
	for _, p := range ps {
		p.Stop()
	}
	settledGoroutines(t, base)
}

// settledGoroutines waits (bounded) until at most want goroutines run, as
// exiting ones take a moment to go; want < 0 waits for the count to hold
// still and returns it.
func settledGoroutines(t *testing.T, want int) int {
	t.Helper()
	prev := -1
	for range 200 {
		n := runtime.NumGoroutine()
		if (want >= 0 && n <= want) || (want < 0 && n == prev) {
			return n
		}
		prev = n
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
	return 0
}
