package metrics

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ScrapeTimeout bounds the wait for the supervisor's loop during a scrape.
const ScrapeTimeout = 10 * time.Second

// latencyBuckets suit both fork/exec and reaping: tens of microseconds on
// an idle host, milliseconds under load, a second when something is wrong.
var latencyBuckets = []float64{
	0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
}

// Metrics is gafferd's registry. Create it with New before the supervisor
// (it is the supervisor's Observer), then Watch the supervisor.
type Metrics struct {
	reg      *prometheus.Registry
	spawn    prometheus.Histogram
	reap     prometheus.Histogram
	requests *prometheus.CounterVec
	src      atomic.Pointer[source] // set by Watch

	mu   sync.Mutex // guards jobs and seq
	jobs map[string]*jobCounters
	seq  uint64 // bumped by every Observer update
	gen  uint64 // bumped by every scrape
}

type source struct {
	sup     *supervisor.Supervisor
	sampler *stats.Sampler
}

// jobCounters are the counters the engine does not keep, per job.
type jobCounters struct {
	spawns     uint64
	restarts   uint64
	unreplaced uint64         // exits not yet followed by a spawn of the job
	exits      map[int]uint64 // by exit status (128+signal when killed)
	seq        uint64         // Metrics.seq at the last update
	gen        uint64         // Metrics.gen of the last scrape that saw the job loaded
}

// New returns a registry holding gaffer's metrics and the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		jobs: map[string]*jobCounters{},
		spawn: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gaffer_spawn_duration_seconds",
			Help:    "Time a fork/exec of a process took.",
			Buckets: latencyBuckets,
		}),
		reap: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gaffer_reap_delay_seconds",
			Help:    "Time from the supervisor loop taking a SIGCHLD to every exited child being reaped and handled.",
			Buckets: latencyBuckets,
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gaffer_api_requests_total",
			Help: "HTTP API requests by route (the ServeMux pattern that served them; none when no route did) and status code.",
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.spawn, m.reap, m.requests, (*engine)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch makes scrapes report sup's jobs and processes, sampling CPU and
// memory with sampler (share the APIs' one: the CPU baselines are shared).
func (m *Metrics) Watch(sup *supervisor.Supervisor, sampler *stats.Sampler) {
	if sampler == nil {
		sampler = stats.NewSampler()
	}
	m.src.Store(&source{sup: sup, sampler: sampler})
}

// Gatherer is the registry, for tests and embedding programs.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the metrics in the Prometheus text (or, when asked,
// OpenMetrics/protobuf) format. A failed engine read is logged and leaves
// the engine's series out; the daemon's and Go's are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Spawned implements supervisor.Observer.
func (m *Metrics) Spawned(job string, d time.Duration) {
	m.spawn.Observe(d.Seconds())
	m.mu.Lock()
	c := m.counters(job)
	c.spawns++
	if c.unreplaced > 0 {
		c.unreplaced--
		c.restarts++
	}
	m.mu.Unlock()
}

// Exited implements supervisor.Observer.
func (m *Metrics) Exited(job string, status, signal int) {
	m.mu.Lock()
	c := m.counters(job)
	if c.exits == nil {
		c.exits = map[int]uint64{}
	}
	c.exits[status]++
	c.unreplaced++
	m.mu.Unlock()
}

// Reaped implements supervisor.Observer.
func (m *Metrics) Reaped(d time.Duration) { m.reap.Observe(d.Seconds()) }

// counters returns job's counters, creating them, stamped with a new seq.
// The caller holds m.mu.
func (m *Metrics) counters(job string) *jobCounters {
	c := m.jobs[job]
	if c == nil {
		c = &jobCounters{}
		m.jobs[job] = c
	}
	m.seq++
	c.seq = m.seq
	return c
}

// Instrument counts next's requests in gaffer_api_requests_total by the
// ServeMux pattern that served them, never by raw path, so the series stay
// few. A ServeMux sets r.Pattern on the request it is given, and a mux
// nested in it (the REST API's) overwrites it with its own, more precise
// pattern; so next must be the mux itself, or handlers passing the same
// *http.Request down: a middleware in between that replaces the request
// (r.WithContext) hides the pattern, and the request counts as "none".
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "none"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status())).Inc()
	})
}

// statusWriter remembers the status code of a response. It passes Flush
// and Hijack through (websockets hijack), and Unwrap for
// http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the code sent, 200 when the handler wrote nothing.
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// census takes the engine's census for a scrape, with its timeout.
func (s *source) census() (supervisor.Census, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	return s.sup.Census(ctx)
}
