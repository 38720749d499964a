package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/internal/metrics"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

// rig is a running supervisor watched by a Metrics, served over loopback.
type rig struct {
	sup     *supervisor.Supervisor
	m       *metrics.Metrics
	sampler *stats.Sampler
	srv     *httptest.Server
	ctx     context.Context
}

func newRig(t testing.TB) *rig {
	t.Helper()
	m := metrics.New()
	sup := supervisor.New(supervisor.Options{Observer: m, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	sampler := stats.NewSampler()
	m.Watch(sup, sampler)
	srv := httptest.NewServer(m.Instrument(m.Handler()))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-sup.Done() // every process stopped and reaped
	})
	return &rig{sup: sup, m: m, sampler: sampler, srv: srv, ctx: ctx}
}

// helperJob is a job running the test binary as helper h.
func helperJob(t testing.TB, name, h string, n int, args ...string) supervisor.JobConfig {
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(t))
	cfg.Args = args
	cfg.Env = map[string]string{gaffertest.HelperEnv: h}
	cfg.NumProcesses = n
	cfg.GracefulTimeout = 5 * time.Second
	return cfg
}

// scrape GETs /metrics and parses it with Prometheus's own text parser.
func (r *rig) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(r.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// series returns the metrics of family name whose labels include want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			if label(m, k) != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value is the single value of the series of name matching want.
func value(t testing.TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	ms := series(fams, name, want)
	if len(ms) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(ms))
	}
	m := ms[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("%s: neither gauge nor counter", name)
	return 0
}

func waitEvent(t testing.TB, sub *events.Sub, what string, match func(events.Event) bool) events.Event {
	t.Helper()
	return gaffertest.WaitFor(t, sub, 10*time.Second, match)
}

func TestScrapeMatchesTheEngine(t *testing.T) {
	r := newRig(t)
	sub := r.sup.Subscribe(1000, supervisor.DropOldest, "state")
	defer sub.Close()
	logDir := t.TempDir()
	web := helperJob(t, "web", "chatty", 3, "100")
	web.RedirectOutput = []string{"out"}
	web.Logs = map[string]supervisor.LogFile{"out": {Path: filepath.Join(logDir, "web.log")}}
	if err := r.sup.Load(r.ctx, "app", web, true); err != nil {
		t.Fatal(err)
	}
	idle := helperJob(t, "idle", "sleep", 2)
	idle.Start = false
	if err := r.sup.Load(r.ctx, "app", idle, false); err != nil {
		t.Fatal(err)
	}
	prog := helperJob(t, "db", "sleep", 1)
	prog.Program = supervisor.DefaultProgram("app")
	prog.Program.StartSecs = 0
	if err := r.sup.Load(r.ctx, "app", prog, true); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, sub, "db RUNNING", func(e events.Event) bool { return e.Process == "db" && e.To == "RUNNING" })
	// Every chatty process wrote its 100 lines to the log.
	logSize := 3 * 100 * len(fmt.Sprintf("line %08d\n", 0))
	gaffertest.Eventually(t, 10*time.Second, "the web log to hold 300 lines", func() bool {
		fi, err := os.Stat(filepath.Join(logDir, "web.log"))
		return err == nil && fi.Size() == int64(logSize)
	})

	fams := r.scrape(t)
	info, err := r.sup.Info(r.ctx, "app.web")
	if err != nil {
		t.Fatal(err)
	}
	app := func(job string) map[string]string { return map[string]string{"session": "app", "job": "app." + job} }
	if got := value(t, fams, "gaffer_job_processes", app("web")); got != float64(info.Running) || got != 3 {
		t.Errorf("gaffer_job_processes{web} = %v, API says %d running", got, info.Running)
	}
	if got := value(t, fams, "gaffer_job_desired_processes", app("web")); got != float64(info.MaxProcesses) {
		t.Errorf("gaffer_job_desired_processes{web} = %v, API says %d", got, info.MaxProcesses)
	}
	if got := value(t, fams, "gaffer_job_processes", app("idle")); got != 0 {
		t.Errorf("gaffer_job_processes{idle} = %v, want 0", got)
	}
	if got := value(t, fams, "gaffer_job_spawns_total", app("web")); got != 3 {
		t.Errorf("gaffer_job_spawns_total{web} = %v, want 3", got)
	}
	if got := value(t, fams, "gaffer_log_bytes_written_total", map[string]string{"job": "app.web", "stream": "out"}); got != float64(logSize) {
		t.Errorf("gaffer_log_bytes_written_total{web,out} = %v, want %d", got, logSize)
	}
	pi, err := r.sup.Program(r.ctx, "app.db")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, fams, "gaffer_program_state", app("db")); got != 1 ||
		label(series(fams, "gaffer_program_state", app("db"))[0], "state") != pi.State.String() {
		t.Errorf("gaffer_program_state{db} = %v, API says %s", series(fams, "gaffer_program_state", app("db")), pi.State)
	}
	if n := len(series(fams, "gaffer_program_state", app("web"))); n != 0 {
		t.Errorf("gaffer job web has %d gaffer_program_state series, want none", n)
	}

	procs, err := r.sup.Processes(r.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 4 || len(fams["gaffer_process_state"].Metric) != 4 {
		t.Fatalf("API has %d processes, /metrics %d states; want 4 each", len(procs), len(fams["gaffer_process_state"].Metric))
	}
	for _, p := range procs {
		want := map[string]string{"pid": strconv.Itoa(p.Pid)}
		st := series(fams, "gaffer_process_state", want)
		if len(st) != 1 {
			t.Fatalf("pid %d: %d gaffer_process_state series", p.Pid, len(st))
		}
		wantState := "RUNNING"
		if p.Name == "app.db" {
			wantState = pi.State.String()
		}
		if label(st[0], "job") != p.Name || label(st[0], "os_pid") != strconv.Itoa(p.OSPid) || label(st[0], "state") != wantState {
			t.Errorf("pid %d: gaffer_process_state labels %v, want job %s os_pid %d state %s", p.Pid, st[0].Label, p.Name, p.OSPid, wantState)
		}
		if got := value(t, fams, "gaffer_process_start_time_seconds", want); got != float64(p.Started.UnixNano())/1e9 {
			t.Errorf("pid %d: start time %v, API says %v", p.Pid, got, p.Started)
		}
		// Memory as the REST API's sampler reads it: the same process, a few
		// microseconds later, so within a small margin.
		s, err := r.sampler.Sample(p.OSPid)
		if err != nil {
			t.Fatal(err)
		}
		rss := value(t, fams, "gaffer_process_resident_memory_bytes", want)
		if rss <= 0 || rss < float64(s.RSS)/2 || rss > float64(s.RSS)*2 {
			t.Errorf("pid %d: RSS %v, sampler says %d", p.Pid, rss, s.RSS)
		}
		if vms := value(t, fams, "gaffer_process_virtual_memory_bytes", want); vms < rss {
			t.Errorf("pid %d: virtual memory %v below RSS %v", p.Pid, vms, rss)
		}
		if cpu := value(t, fams, "gaffer_process_cpu_seconds_total", want); cpu < 0 || cpu > s.CPUSeconds {
			t.Errorf("pid %d: cpu seconds %v, sampler says %v a moment later", p.Pid, cpu, s.CPUSeconds)
		}
	}
	if fams["go_goroutines"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Error("the Go and process collectors are missing")
	}
}

func TestCrashCountsRestartAndExitCode(t *testing.T) {
	r := newRig(t)
	sub := r.sup.Subscribe(1000, supervisor.DropOldest, "spawn", "exit")
	defer sub.Close()
	if err := r.sup.Load(r.ctx, "app", helperJob(t, "web", "sleep", 1), true); err != nil {
		t.Fatal(err)
	}
	first := waitEvent(t, sub, "spawn", func(e events.Event) bool { return e.Kind == "spawn" })
	web := map[string]string{"job": "app.web"}

	fams := r.scrape(t)
	if got := value(t, fams, "gaffer_job_restarts_total", web); got != 0 {
		t.Errorf("restarts before any crash = %v, want 0", got)
	}
	if n := len(series(fams, "gaffer_job_exits_total", web)); n != 0 {
		t.Errorf("%d exit series before any exit", n)
	}
	spawns := fams["gaffer_spawn_duration_seconds"].Metric[0].Histogram.GetSampleCount()
	if spawns < 1 {
		t.Errorf("spawn histogram count %d after a spawn", spawns)
	}

	// A crash: SIGKILL from outside, so exit status 128+9, and a restart.
	if err := syscall.Kill(first.OSPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, sub, "exit", func(e events.Event) bool { return e.Kind == "exit" && e.OSPid == first.OSPid })
	waitEvent(t, sub, "respawn", func(e events.Event) bool { return e.Kind == "spawn" && e.OSPid != first.OSPid })
	fams = r.scrape(t)
	if got := value(t, fams, "gaffer_job_restarts_total", web); got != 1 {
		t.Errorf("restarts after a crash = %v, want 1", got)
	}
	if got := value(t, fams, "gaffer_job_exits_total", map[string]string{"job": "app.web", "code": "137"}); got != 1 {
		t.Errorf(`exits{code="137"} = %v, want 1`, got)
	}
	if got := value(t, fams, "gaffer_job_spawns_total", web); got != 2 {
		t.Errorf("spawns = %v, want 2", got)
	}
	if n := fams["gaffer_spawn_duration_seconds"].Metric[0].Histogram.GetSampleCount(); n != spawns+1 {
		t.Errorf("spawn histogram count %d, want %d", n, spawns+1)
	}
	if n := fams["gaffer_reap_delay_seconds"].Metric[0].Histogram.GetSampleCount(); n < 1 {
		t.Errorf("reap histogram count %d after a reap", n)
	}

	// A job that exits 3 once (a program that is not restarted).
	once := helperJob(t, "once", "exit", 1, "3")
	once.Program = supervisor.DefaultProgram("app")
	once.Program.StartSecs = 0
	once.Program.AutoRestart = supervisor.RestartNever
	if err := r.sup.Load(r.ctx, "app", once, true); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, sub, "exit 3", func(e events.Event) bool { return e.Kind == "exit" && e.Name == "app.once" })
	fams = r.scrape(t)
	if got := value(t, fams, "gaffer_job_exits_total", map[string]string{"job": "app.once", "code": "3"}); got != 1 {
		t.Errorf(`exits{once,code="3"} = %v, want 1`, got)
	}
	if got := value(t, fams, "gaffer_job_restarts_total", map[string]string{"job": "app.once"}); got != 0 {
		t.Errorf("restarts of a job never restarted = %v, want 0", got)
	}

	// Unloading drops the job's series.
	if err := r.sup.Unload(r.ctx, "app.once"); err != nil {
		t.Fatal(err)
	}
	fams = r.scrape(t)
	if n := len(series(fams, "gaffer_job_exits_total", map[string]string{"job": "app.once"})); n != 0 {
		t.Errorf("unloaded job still has %d exit series", n)
	}
}

func TestEventCounters(t *testing.T) {
	r := newRig(t)
	// A subscriber that never reads, with a queue of 1: it loses events.
	slow := r.sup.Subscribe(1, supervisor.DropOldest)
	defer slow.Close()
	sub := r.sup.Subscribe(1000, supervisor.DropOldest, "spawn")
	defer sub.Close()
	before := r.scrape(t)
	pub0 := value(t, before, "gaffer_events_published_total", map[string]string{"bus": "events"})
	if err := r.sup.Load(r.ctx, "app", helperJob(t, "web", "sleep", 2), true); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		waitEvent(t, sub, "spawn", func(e events.Event) bool { return e.Kind == "spawn" })
	}
	fams := r.scrape(t)
	pub := value(t, fams, "gaffer_events_published_total", map[string]string{"bus": "events"})
	dropped := value(t, fams, "gaffer_events_dropped_total", map[string]string{"bus": "events"})
	// load, start, job.start, spawn ×2, job.spawn ×2 at least
	if pub-pub0 < 7 {
		t.Errorf("events published went from %v to %v; a load and two spawns publish at least 7", pub0, pub)
	}
	if want := float64(slow.Dropped()); dropped < want || dropped == 0 {
		t.Errorf("events dropped = %v; the slow subscriber alone dropped %v", dropped, want)
	}
}

func TestAPIRequestsAreCountedByPattern(t *testing.T) {
	m := metrics.New()
	mux := http.NewServeMux()
	inner := http.NewServeMux() // a handler with its own mux, as the REST API has
	inner.HandleFunc("GET /jobs/{s}/{j}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("j") == "missing" {
			http.Error(w, "no such job", http.StatusNotFound)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", inner)
	mux.Handle("GET /metrics", m.Handler())
	srv := httptest.NewServer(m.Instrument(mux))
	defer srv.Close()
	get := func(path string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/jobs/x/y")
	get("/jobs/x/z")
	get("/jobs/x/missing")
	get("/nothing/here")
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]float64{
		{"GET /jobs/{s}/{j}", "200"}: 2,
		{"GET /jobs/{s}/{j}", "404"}: 1,
		{"none", "404"}:              1, // no pattern of the inner mux matched
	}
	got := map[[2]string]float64{}
	for _, m := range fams["gaffer_api_requests_total"].GetMetric() {
		got[[2]string{label(m, "route"), label(m, "code")}] = m.Counter.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests{route=%q,code=%q} = %v, want %v", k[0], k[1], got[k], v)
		}
	}
	for k := range got {
		if k[0] == "/jobs/x/y" || k[0] == "/nothing/here" {
			t.Errorf("a raw path became a route label: %q", k[0])
		}
	}
}

func TestScrapeWithoutEngine(t *testing.T) {
	m := metrics.New() // not watching any supervisor yet
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if fams["go_goroutines"] == nil || fams["gaffer_job_processes"] != nil {
		t.Errorf("want the Go collector and no engine series; got %d families", len(fams))
	}
}
