package legacy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
	"github.com/prometheus/procfs"
)

// DefaultHeartbeat is the heartbeat period of "heartbeat=true" (and of a
// streamed request that names no heartbeat) when Options.Heartbeat is 0.
const DefaultHeartbeat = 60 * time.Second

// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// Options configure the handler. The zero value is usable.
type Options struct {
	// Sampler reads process stats; a new one when nil. Share the REST API's
	// so that both report CPU percentages from the same baselines.
	Sampler *stats.Sampler
	// Authorize has the type and meaning of rest.Options.Authorize: it is
	// asked whether the request may use a route needing need on target
	// ("" for ManageAll routes, a session, or a full job name
	// "session.job"; for pid routes the process's job). nil allows all.
	Authorize func(r *http.Request, need rest.Permission, target string) error
	// Heartbeat is the period of "heartbeat=true" (DefaultHeartbeat when 0).
	Heartbeat time.Duration
	// MaxBody limits request bodies in bytes (DefaultMaxBody when 0).
	MaxBody int64
	// QueueSize bounds each streaming request's event queue (256 when 0).
	// A reader slower than the events fills it, and its stream ends.
	QueueSize int
	// StatsInterval is the sampling period of streamed stats (100 ms when 0,
	// gaffer's 0.1 s).
	StatsInterval time.Duration
}

// Handler serves the 0.4.4 routes. Immutable after New; safe for
// concurrent use.
type Handler struct {
	sup       *supervisor.Supervisor
	sampler   *stats.Sampler
	authorize func(*http.Request, rest.Permission, string) error
	heartbeat time.Duration
	maxBody   int64
	queue     int
	interval  time.Duration
	proc      *procfs.FS // nil when /proc is unusable: 0.4.4's extra stat fields are "N/A"
}

// New returns the 0.4.4 compatibility handler over sup.
func New(sup *supervisor.Supervisor, opts Options) *Handler {
	h := &Handler{sup: sup, sampler: opts.Sampler, authorize: opts.Authorize, heartbeat: opts.Heartbeat,
		maxBody: opts.MaxBody, queue: opts.QueueSize, interval: opts.StatsInterval}
	if h.sampler == nil {
		h.sampler = stats.NewSampler()
	}
	if h.heartbeat <= 0 {
		h.heartbeat = DefaultHeartbeat
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.queue <= 0 {
		h.queue = 256
	}
	if h.interval <= 0 {
		h.interval = 100 * time.Millisecond
	}
	if fs, err := procfs.NewDefaultFS(); err == nil {
		h.proc = &fs
	}
	return h
}

// legacyPrefixes are the first path segments the 0.4.4 API owns.
var legacyPrefixes = []string{"processes", "status", "groups", "watch", "stats", "streams", "wstreams"}

// Match reports whether path belongs to the 0.4.4 API: /processes…,
// /status/…, /groups…, /watch…, /stats…, /streams/…, /wstreams/…. Every
// other path ("/", "/ping", "/version", the 0.5.2 routes) is not.
func (h *Handler) Match(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	for _, p := range legacyPrefixes {
		if first == p {
			return true
		}
	}
	return false
}

// ServeHTTP routes one request: parse the path (routes.go), authorize it,
// run its handler, and answer errors in 0.4.4's shape.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header(), r)
	rt, err := parseRoute(r.Method, r.URL.EscapedPath())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent) // preflights carry no credentials
		return
	}
	if r.ContentLength > h.maxBody {
		writeError(w, r, errTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	if err := h.check(r, rt); err != nil {
		writeError(w, r, err)
		return
	}
	if err := rt.serve(h, w, r, rt); err != nil {
		writeError(w, r, err)
	}
}

// check asks Options.Authorize about the route, failing closed.
func (h *Handler) check(r *http.Request, rt route) error {
	if h.authorize == nil || rt.target == targetDeferred {
		return nil // deferred: the handler checks once it has read the body
	}
	target := ""
	switch rt.target {
	case targetSession:
		target = rt.session
	case targetJob:
		target = rt.job
	case targetPid:
		info, err := h.sup.Process(r.Context(), rt.pid)
		if err != nil {
			return err
		}
		target = info.Name
	}
	err := h.authorize(r, rt.need, target)
	if err != nil && !errors.Is(err, rest.ErrUnauthorized) && !errors.Is(err, rest.ErrForbidden) {
		err = fmt.Errorf("%w: %w", rest.ErrForbidden, err)
	}
	return err
}

// setCORS writes gaffer's CORS headers, as the 0.4.4 handlers' preflight did.
func setCORS(hd http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = "*"
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Methods", "POST, GET, PUT, DELETE, OPTIONS")
	hd.Set("Access-Control-Max-Age", "86400")
	hd.Set("Access-Control-Allow-Headers", "X-Requested-With, X-HTTP-Method-Override, Content-Type, Accept, Authorization")
	hd.Set("Access-Control-Allow-Credentials", "true")
	hd.Add("Vary", "Origin")
}
