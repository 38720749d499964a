package ws

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// Defaults of Options.
const (
	DefaultQueueSize     = 1024
	DefaultStatsInterval = 100 * time.Millisecond
	// MinStatsInterval is the shortest "interval" a STATS subscriber may ask for.
	MinStatsInterval = 10 * time.Millisecond
	// DefaultWriteTimeout bounds one message write to a client; a client
	// that accepts nothing for that long is disconnected.
	DefaultWriteTimeout = 10 * time.Second
	// maxMessage bounds one message from a client (a job config is the
	// largest thing a client sends).
	maxMessage = 1 << 20
)

// Options configure the handler. The zero value is usable.
type Options struct {
	// Sampler reads process stats; a new one when nil. Share the REST
	// handler's so that CPU percentages have the same baselines.
	Sampler *stats.Sampler
	// Authorize decides whether a connection may subscribe to a topic or
	// run a command needing permission need on target ("" for ManageAll
	// and Admin, else a full job name), with the upgrade request r; same
	// contract as rest.Options.Authorize. nil allows everything.
	Authorize func(r *http.Request, need rest.Permission, target string) error
	// KeyAuth, when set, makes keys required: the first message of a
	// connection must be "AUTH:<key>" (a frame whose body is that on
	// per-process channels). KeyAuth returns the function that authorizes
	// that connection's subscriptions and commands, or an error to refuse
	// the key.
	KeyAuth func(key string) (func(need rest.Permission, target string) error, error)
	// QueueSize bounds the messages waiting for one client: the
	// connection's outgoing queue and each subscription's queue behind it
	// (DefaultQueueSize when 0). A client that lets a subscription's
	// queue overflow is disconnected with status 1008.
	QueueSize int
	// OriginPatterns lists the extra origins (host patterns such as
	// "example.com" or "*.example.com") whose web pages may open a
	// websocket. Requests without an Origin header (non-browser clients)
	// and same-origin requests are always accepted; any other origin is
	// refused with 403, so a web page cannot drive a gafferd on loopback.
	OriginPatterns []string
	// StatsInterval is how often STATS topics sample their processes
	// (DefaultStatsInterval when 0); a subscriber may ask for another
	// interval, at least MinStatsInterval.
	StatsInterval time.Duration
	// WriteTimeout bounds one write to a client (DefaultWriteTimeout when 0).
	WriteTimeout time.Duration
}

// Handler serves /channel, /channel/websocket, /<pid>/channel and
// /<pid>/channel/<stream>. Immutable after New; safe for concurrent use.
type Handler struct {
	sup     *supervisor.Supervisor
	opts    Options
	sampler *stats.Sampler

	open     atomic.Int64 // bus subscriptions not yet released
	samplers atomic.Int64 // STATS samplers running
}

// subscribe opens a bus subscription for a client: events, or process
// output when output is set. The bus closes it when its queue overflows.
// Every subscription is given back with release.
func (h *Handler) subscribe(output bool, pattern string) *events.Sub {
	h.open.Add(1)
	if output {
		return h.sup.SubscribeOutput(h.opts.QueueSize, events.CloseSub, pattern)
	}
	return h.sup.Subscribe(h.opts.QueueSize, events.CloseSub, pattern)
}

// subscribeExits follows process exits for bookkeeping; missing one when
// a burst overflows it only delays a cleanup.
func (h *Handler) subscribeExits() *events.Sub {
	h.open.Add(1)
	return h.sup.Subscribe(h.opts.QueueSize, events.DropOldest, "exit")
}

// Subscriptions is the number of event bus subscriptions the handler's
// connections hold now (several per topic for STATS and process channels);
// zero when no client is connected. For monitoring and tests.
func (h *Handler) Subscriptions() int { return int(h.open.Load()) }

// release closes a subscription from subscribe or subscribeExits, once.
func (h *Handler) release(s *events.Sub) {
	s.Close()
	h.open.Add(-1)
}

// New returns the websocket handler over sup.
func New(sup *supervisor.Supervisor, opts Options) *Handler {
	if opts.Sampler == nil {
		opts.Sampler = stats.NewSampler()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = DefaultStatsInterval
	}
	opts.StatsInterval = max(opts.StatsInterval, MinStatsInterval)
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	return &Handler{sup: sup, opts: opts, sampler: opts.Sampler}
}

// Match reports whether path is served by this handler: /channel,
// /channel/..., /<pid>/channel and /<pid>/channel/<stream>. gafferd routes
// these here before its REST handler.
func (h *Handler) Match(path string) bool {
	if path == "/channel" || strings.HasPrefix(path, "/channel/") {
		return true
	}
	_, _, ok := splitProcessPath(path)
	return ok
}

// splitProcessPath splits /<pid>/channel[/<label>].
func splitProcessPath(path string) (pid, label string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", "", false
	}
	pid, rest, ok = strings.Cut(rest, "/")
	if !ok || !isDigits(pid) {
		return "", "", false
	}
	if rest == "channel" {
		return pid, "", true
	}
	label, ok = strings.CutPrefix(rest, "channel/")
	if !ok || label == "" || strings.Contains(label, "/") {
		return "", "", false
	}
	return pid, label, true
}

func isDigits(s string) bool { return s != "" && strings.TrimLeft(s, "0123456789") == "" }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/channel":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpError(w, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
			return
		}
		// What SockJS servers answer, so SockJS-aware clients find it.
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("Welcome to SockJS!\n"))
	case path == "/channel/websocket":
		h.serveChannel(w, r)
	default:
		pid, label, ok := splitProcessPath(path)
		if !ok {
			// SockJS's fallback transports (xhr, eventsource, ...) are not served.
			httpError(w, http.StatusNotFound, "not_found")
			return
		}
		h.serveProcess(w, r, pid, label)
	}
}

// httpError answers in gaffer's framework error shape.
func httpError(w http.ResponseWriter, status int, reason string) {
	b := []byte(`{"error":` + strconv.Itoa(status) + `,"reason":` + strconv.Quote(reason) + `}`)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// accept upgrades the request with the origin policy of Options.
func (h *Handler) accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(maxMessage)
	return c, nil
}

// authorizer checks one permission for a connection: Options.Authorize with
// the upgrade request, then the connection's key, if any.
type authorizer struct {
	r   *http.Request
	fn  func(*http.Request, rest.Permission, string) error
	key func(rest.Permission, string) error
}

func (a *authorizer) allow(need rest.Permission, target string) error {
	if a.fn != nil {
		if err := a.fn(a.r, need, target); err != nil {
			return forbidden(err)
		}
	}
	if a.key != nil {
		if err := a.key(need, target); err != nil {
			return forbidden(err)
		}
	}
	return nil
}
