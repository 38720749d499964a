package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// post is one request a test receiver got.
type post struct {
	path, method, contentType, userAgent, body string
}

// receiver is a local HTTP server recording every request; respond decides
// the answer to the n-th request (from 1) and may block.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	all     []post // every request
	ok      []post // the requests answered 2xx
	arrived chan post
}

func newReceiver(t *testing.T, ln net.Listener, respond func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{arrived: make(chan post, 1000)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p := post{r.URL.Path, r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), string(b)}
		rc.mu.Lock()
		rc.all = append(rc.all, p)
		n := len(rc.all)
		rc.mu.Unlock()
		select {
		case rc.arrived <- p:
		default: // nobody waits for that many
		}
		code := http.StatusNoContent
		if respond != nil {
			code = respond(n, w, r)
		}
		if code < 300 {
			rc.mu.Lock()
			rc.ok = append(rc.ok, p)
			rc.mu.Unlock()
		}
		w.WriteHeader(code)
	})
	if ln == nil {
		rc.srv = httptest.NewServer(h)
	} else {
		rc.srv = httptest.NewUnstartedServer(h)
		rc.srv.Listener.Close()
		rc.srv.Listener = ln
		rc.srv.Start()
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url(path string) string { return rc.srv.URL + path }

// wait returns the next request, failing the test after 10 s.
func (rc *receiver) wait(t *testing.T) post {
	t.Helper()
	select {
	case p := <-rc.arrived:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the receiver within 10s")
		return post{}
	}
}

// accepted returns the bodies answered 2xx on path, in arrival order.
func (rc *receiver) accepted(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, p := range rc.ok {
		if p.path == path {
			out = append(out, p.body)
		}
	}
	return out
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.all)
}

// logs records the dispatcher's log lines.
type logs struct {
	mu   sync.Mutex
	msgs []string
	c    chan string
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logs) WithGroup(string) slog.Handler            { return l }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, line)
	l.mu.Unlock()
	select {
	case l.c <- line:
	default:
	}
	return nil
}

// count returns how many lines contain s.
func (l *logs) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// waitFor reads log lines until one contains s.
func (l *logs) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-l.c:
			if strings.Contains(m, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no log line %q within 10s", s)
		}
	}
}

// harness runs a dispatcher on its own bus.
type harness struct {
	t      *testing.T
	w      *Webhooks
	bus    *events.Bus
	sub    *events.Sub
	cancel context.CancelFunc
	done   chan struct{}
	logs   *logs
}

// fastOptions retry quickly: tests must not wait for the real backoff.
func fastOptions() WebhookOptions {
	return WebhookOptions{Version: "1.2.3", Attempts: 1000, MinBackoff: 2 * time.Millisecond,
		MaxBackoff: 10 * time.Millisecond, Timeout: 5 * time.Second}
}

func start(t *testing.T, opts WebhookOptions, hooks ...config.Webhook) *harness {
	t.Helper()
	goroutines := runtime.NumGoroutine()
	lg := &logs{c: make(chan string, 1000)}
	opts.Logger = slog.New(lg)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, w: NewWebhooks(opts), bus: events.NewBus(), cancel: cancel, done: make(chan struct{}), logs: lg}
	if err := h.w.Set(hooks); err != nil {
		t.Fatal(err)
	}
	h.sub = h.bus.Subscribe(4096, events.DropOldest)
	go func() {
		defer close(h.done)
		if err := h.w.Run(ctx, h.sub); err != nil {
			t.Error(err)
		}
	}()
	// Stop Run, then check that it left nothing behind.
	t.Cleanup(func() {
		cancel()
		<-h.done
		h.sub.Close()
		gaffertest.Eventually(t, 10*time.Second, "goroutines back to their count", func() bool {
			return runtime.NumGoroutine() <= goroutines
		})
	})
	return h
}

func (h *harness) spawn(pid int) {
	h.bus.Publish(events.Event{Type: "spawn", Name: "default.web", Pid: pid, OSPid: 1000 + pid})
}

func (h *harness) publish(typ string, pid int) {
	h.bus.Publish(events.Event{Type: typ, Name: "default.web", Pid: pid, OSPid: 1000 + pid})
}

// finish closes the subscription and waits for Run to deliver what is
// queued and return.
func (h *harness) finish() {
	h.t.Helper()
	h.sub.Close()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return within 10s of its subscription closing")
	}
}

func spawnBody(pid int) string {
	return fmt.Sprintf(`{"event":"spawn","name":"default.web","os_pid":%d,"pid":%d}`, 1000+pid, pid)
}

func hook(event, url string) config.Webhook { return config.Webhook{Event: event, URL: url} }

func TestWebhookDeliversEveryEventOnceInOrderThroughFailures(t *testing.T) {
	// The receiver is down at first: its port refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	opts := fastOptions()
	opts.Timeout = time.Second
	h := start(t, opts, hook("spawn", "http://"+addr+"/hook"))
	for pid := 1; pid <= 5; pid++ {
		h.spawn(pid)
		h.publish("exit", pid) // not hooked
	}
	h.logs.waitFor(t, "connection refused")
	h.logs.waitFor(t, "connection refused")

	// It comes back, answers 500, hangs past the client's timeout, answers
	// 503, then accepts everything.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	rc := newReceiver(t, ln, func(n int, w http.ResponseWriter, r *http.Request) int {
		switch n {
		case 1:
			return http.StatusInternalServerError
		case 2:
			<-r.Context().Done()
			return http.StatusGatewayTimeout // never read: the client gave up
		case 3:
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	h.finish()

	var want []string
	for pid := 1; pid <= 5; pid++ {
		want = append(want, spawnBody(pid))
	}
	if got := rc.accepted("/hook"); !slices.Equal(got, want) {
		t.Errorf("accepted posts:\n%s\nwant each spawn once, in order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rc.mu.Lock()
	first := rc.all[0]
	rc.mu.Unlock()
	if first.method != http.MethodPost || first.contentType != "application/json" || first.userAgent != "gaffer/1.2.3" {
		t.Errorf("request: %s, Content-Type %q, User-Agent %q; want POST, application/json, gaffer/1.2.3",
			first.method, first.contentType, first.userAgent)
	}
	st := h.w.Stats()
	if len(st) != 1 {
		t.Fatalf("stats = %+v", st)
	}
	s := st[0]
	// 2+ refused, then 500, the timeout and 503: at least 5 failed attempts.
	if s.Delivered != 5 || s.Failed != 0 || s.Dropped != 0 || s.Queued != 0 || s.Retried < 5 {
		t.Errorf("stats = %+v, want 5 delivered, none failed or dropped, at least 5 retries", s)
	}
	if n := h.logs.count("webhook: attempt failed"); uint64(n) != s.Retried {
		t.Errorf("%d failed attempts logged, %d retries counted: want one debug line per failed attempt", n, s.Retried)
	}
	if n := h.logs.count("WARN"); n != 0 {
		t.Errorf("%d warnings logged for events that were all delivered", n)
	}
}

func TestWebhookRetriesOnlyWhatMaySucceedLater(t *testing.T) {
	for _, tt := range []struct {
		status int
		retry  bool
	}{
		{http.StatusBadRequest, false},
		{http.StatusNotFound, false},
		{http.StatusGone, false},
		{http.StatusFound, false}, // redirects are not followed
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			rc := newReceiver(t, nil, func(n int, w http.ResponseWriter, _ *http.Request) int {
				if n == 1 {
					w.Header().Set("Location", "/elsewhere")
					return tt.status
				}
				return http.StatusOK
			})
			h := start(t, fastOptions(), hook("spawn", rc.url("/hook")))
			h.spawn(1)
			h.spawn(2)
			h.finish()
			st := h.w.Stats()[0]
			if tt.retry {
				if got, want := rc.accepted("/hook"), []string{spawnBody(1), spawnBody(2)}; !slices.Equal(got, want) {
					t.Errorf("accepted %q, want both events after a retry", got)
				}
				if rc.count() != 3 || st.Retried != 1 || st.Delivered != 2 || st.Failed != 0 {
					t.Errorf("%d requests, stats %+v: want 3 requests, 1 retry, 2 delivered", rc.count(), st)
				}
				return
			}
			if got, want := rc.accepted("/hook"), []string{spawnBody(2)}; !slices.Equal(got, want) {
				t.Errorf("accepted %q, want only the second event", got)
			}
			if rc.count() != 2 || st.Retried != 0 || st.Delivered != 1 || st.Failed != 1 {
				t.Errorf("%d requests, stats %+v: want 2 requests, no retry, 1 delivered, 1 failed", rc.count(), st)
			}
			if n := h.logs.count("webhook: event dropped"); n != 1 {
				t.Errorf("%d 'event dropped' warnings, want 1", n)
			}
		})
	}
}

func TestWebhookGivesUpAfterTheLastAttempt(t *testing.T) {
	rc := newReceiver(t, nil, func(int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	opts := fastOptions()
	opts.Attempts = 3
	h := start(t, opts, hook("spawn", rc.url("/hook")))
	h.spawn(1)
	h.finish()
	st := h.w.Stats()[0]
	if rc.count() != 3 || st.Retried != 2 || st.Failed != 1 || st.Delivered != 0 {
		t.Errorf("%d requests, stats %+v: want 3 attempts, 2 retries, 1 failed", rc.count(), st)
	}
	if h.logs.count("DEBUG webhook: attempt failed") != 3 || h.logs.count("WARN webhook: event dropped") != 1 {
		t.Errorf("want 3 debug lines and one warning, got:\n%s", strings.Join(h.logs.msgs, "\n"))
	}
	if h.logs.count("WARN webhook: undelivered events") != 1 {
		t.Errorf("no summary of the failure when Run returned:\n%s", strings.Join(h.logs.msgs, "\n"))
	}
}

func TestWebhookMatchesEqualTypes(t *testing.T) {
	rc := newReceiver(t, nil, nil)
	h := start(t, fastOptions(),
		hook("spawn", rc.url("/a")),
		hook("exit", rc.url("/a")),  // a second type on the same URL
		hook("spawn", rc.url("/b")), // a second URL for the same type
		hook(".", rc.url("/all")),
		hook("job.default.web.spawn", rc.url("/job")),
		hook("spawn", rc.url("/a")), // listed twice: posted once
	)
	h.publish("spawn", 1)
	h.publish("job.default.web.spawn", 1)
	h.publish("exit", 1)
	h.publish("proc.1.reap", 1)
	h.publish("job.default.Web.spawn", 2) // a job name with capitals: config keys are lower-cased
	h.publish("spawned", 3)
	h.finish()

	types := func(path string) []string {
		var out []string
		for _, b := range rc.accepted(path) {
			typ, _, _ := strings.Cut(strings.TrimPrefix(b, `{"event":"`), `"`)
			out = append(out, typ)
		}
		return out
	}
	for path, want := range map[string][]string{
		"/a":   {"spawn", "exit"},
		"/b":   {"spawn"},
		"/all": {"spawn", "job.default.web.spawn", "exit", "proc.1.reap", "job.default.Web.spawn", "spawned"},
		"/job": {"job.default.web.spawn", "job.default.Web.spawn"},
	} {
		if got := types(path); !slices.Equal(got, want) {
			t.Errorf("%s got %q, want %q", path, got, want)
		}
	}
	if n := len(h.w.Stats()); n != 5 {
		t.Errorf("%d hooks in the stats, want 5 (the duplicate counted once)", n)
	}
}

func TestWebhookOverflowDropsTheOldest(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, nil, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 1 {
			<-release
		}
		return http.StatusOK
	})
	opts := fastOptions()
	opts.Queue = 2
	h := start(t, opts, hook("spawn", rc.url("/hook")))
	h.spawn(1)
	rc.wait(t) // in flight, holding the queue behind it
	for pid := 2; pid <= 5; pid++ {
		h.spawn(pid)
	}
	gaffertest.Eventually(t, 10*time.Second, "two events dropped", func() bool { return h.w.Stats()[0].Dropped == 2 })
	if st := h.w.Stats()[0]; st.Queued != 2 {
		t.Errorf("queued %d, want the queue's size, 2", st.Queued)
	}
	close(release)
	h.finish()
	if got, want := rc.accepted("/hook"), []string{spawnBody(1), spawnBody(4), spawnBody(5)}; !slices.Equal(got, want) {
		t.Errorf("accepted %q, want the event in flight and the two newest", got)
	}
	if st := h.w.Stats()[0]; st.Delivered != 3 || st.Dropped != 2 || st.Queued != 0 {
		t.Errorf("stats %+v, want 3 delivered, 2 dropped", st)
	}
	if n := h.logs.count("WARN webhook: queue full"); n != 1 {
		t.Errorf("%d queue-full warnings, want one per overflow", n)
	}
}

func TestWebhookSetAddsAndRemovesHooks(t *testing.T) {
	rc := newReceiver(t, nil, nil)
	h := start(t, fastOptions(), hook("spawn", rc.url("/a")), hook("spawn", rc.url("/c")))
	h.spawn(1)
	rc.wait(t)
	rc.wait(t)

	if err := h.w.Set([]config.Webhook{hook("spawn", rc.url("/a")), hook("exit", "ftp://example.com/")}); !errors.Is(err, ErrWebhookURL) {
		t.Fatalf("Set with an ftp URL: %v, want ErrWebhookURL", err)
	}
	if n := len(h.w.Stats()); n != 2 {
		t.Fatalf("a refused Set changed the hooks: %+v", h.w.Stats())
	}
	if err := h.w.Set([]config.Webhook{hook("spawn", rc.url("/a")), hook("spawn", rc.url("/b"))}); err != nil {
		t.Fatal(err)
	}
	h.spawn(2)
	h.finish()

	for path, want := range map[string][]string{
		"/a": {spawnBody(1), spawnBody(2)}, // kept
		"/b": {spawnBody(2)},               // added
		"/c": {spawnBody(1)},               // removed
	} {
		if got := rc.accepted(path); !slices.Equal(got, want) {
			t.Errorf("%s got %q, want %q", path, got, want)
		}
	}
	want := []WebhookStats{
		{Event: "spawn", URL: rc.url("/a"), Delivered: 2}, // counters survive the Set
		{Event: "spawn", URL: rc.url("/b"), Delivered: 1},
	}
	if got := h.w.Stats(); !slices.Equal(got, want) {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestWebhookRemovedHookStopsRetrying(t *testing.T) {
	rc := newReceiver(t, nil, func(int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	opts := fastOptions()
	opts.Attempts = 1 << 30 // would retry for days
	h := start(t, opts, hook("spawn", rc.url("/hook")))
	h.spawn(1)
	h.spawn(2)
	rc.wait(t)
	if err := h.w.Set(nil); err != nil {
		t.Fatal(err)
	}
	h.finish() // returns only if the retries stopped
	if n := len(rc.accepted("/hook")); n != 0 {
		t.Errorf("%d posts accepted", n)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.all {
		if p.body != spawnBody(1) {
			t.Errorf("a removed hook's queued event was posted: %s", p.body)
		}
	}
}

func TestWebhookCancelAbortsAndCounts(t *testing.T) {
	rc := newReceiver(t, nil, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		<-r.Context().Done()
		return http.StatusOK
	})
	opts := fastOptions()
	opts.Timeout = time.Hour
	h := start(t, opts, hook("spawn", rc.url("/hook")))
	h.spawn(1)
	h.spawn(2)
	h.spawn(3)
	rc.wait(t)
	gaffertest.Eventually(t, 10*time.Second, "two events queued", func() bool { return h.w.Stats()[0].Queued == 2 })
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if st := h.w.Stats()[0]; st.Failed != 1 || st.Dropped != 2 || st.Queued != 0 || st.Delivered != 0 {
		t.Errorf("stats %+v: want the one in flight failed and the two queued dropped", st)
	}
	if h.logs.count("WARN webhook: undelivered events") != 1 {
		t.Errorf("no summary of the loss:\n%s", strings.Join(h.logs.msgs, "\n"))
	}
}

func TestWebhookRunTwice(t *testing.T) {
	w := NewWebhooks(WebhookOptions{})
	sub := events.NewBus().Subscribe(1, events.DropOldest)
	sub.Close()
	if err := w.Run(context.Background(), sub); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := w.Run(context.Background(), sub); !errors.Is(err, ErrWebhooksRunning) {
		t.Errorf("second Run: %v, want ErrWebhooksRunning", err)
	}
}

func TestWebhookSetRefusesBadHooks(t *testing.T) {
	w := NewWebhooks(WebhookOptions{})
	for _, h := range []config.Webhook{
		{Event: "spawn", URL: "ftp://example.com/hook"},
		{Event: "spawn", URL: "file:///etc/passwd"},
		{Event: "spawn", URL: "http://"},
		{Event: "spawn", URL: "http://:"},
		{Event: "spawn", URL: "/hook"},
		{Event: "spawn", URL: "127.0.0.1:8080/hook"},
		{Event: "spawn", URL: "http://[::1"},
	} {
		err := w.Set([]config.Webhook{h})
		if !errors.Is(err, ErrWebhookURL) || !strings.Contains(err.Error(), h.URL) {
			t.Errorf("Set(%q): %v, want ErrWebhookURL naming the URL", h.URL, err)
		}
	}
	if err := w.Set([]config.Webhook{{URL: "http://127.0.0.1/"}}); err == nil || !strings.Contains(err.Error(), "event type") {
		t.Errorf("Set with no event type: %v", err)
	}
	if len(w.Stats()) != 0 {
		t.Errorf("refused hooks were set: %+v", w.Stats())
	}
}

func TestWebhookBackoff(t *testing.T) {
	const lo, hi = 500 * time.Millisecond, 30 * time.Second
	for _, tt := range []struct {
		attempt  int
		after    time.Duration
		min, max time.Duration
	}{
		{1, 0, lo / 2, lo},
		{2, 0, lo, 2 * lo},
		{3, 0, 2 * lo, 4 * lo},
		{8, 0, hi / 2, hi},
		{1000, 0, hi / 2, hi},
		{1, 5 * time.Second, 5 * time.Second, 5 * time.Second}, // Retry-After wins when longer
		{1, time.Hour, hi, hi},                                 // but is capped
	} {
		for range 100 {
			if d := webhookBackoff(tt.attempt, lo, hi, tt.after); d < tt.min || d > tt.max {
				t.Fatalf("backoff(attempt %d, after %v) = %v, want within [%v, %v]", tt.attempt, tt.after, d, tt.min, tt.max)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"-1":                            0,
		"soon":                          0,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0, // in the past
	} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := parseRetryAfter(future); got < 58*time.Minute || got > time.Hour {
		t.Errorf("parseRetryAfter(%q) = %v, want about an hour", future, got)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "3", "4294967295", "99999999999999999999", "-5", "1.5",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 2094 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseRetryAfter(s)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v < 0", s, d)
		}
		if b := webhookBackoff(3, time.Millisecond, time.Second, d); b < 0 || b > time.Second {
			t.Fatalf("backoff with Retry-After %q = %v, outside [0, max]", s, b)
		}
	})
}

func FuzzCheckWebhookURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/hook", "https://example.com/a?b=c", "ftp://x/", "http://",
		"/hook", "http://[::1", "HTTP://EXAMPLE.COM/", "http://user:pw@h/", "javascript:alert(1)", "http:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkWebhookURL(s)
		if err != nil {
			if !errors.Is(err, ErrWebhookURL) || !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("checkWebhookURL(%q) = %v: want ErrWebhookURL naming the URL", s, err)
			}
			return
		}
		req, err := http.NewRequest(http.MethodPost, s, nil)
		if err != nil {
			t.Fatalf("accepted %q, but it makes no request: %v", s, err)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
			t.Fatalf("accepted %q: scheme %q host %q", s, req.URL.Scheme, req.URL.Host)
		}
	})
}

// BenchmarkWebhookDelivery posts b.N events to a local receiver, one URL,
// in order: the per-URL throughput with keep-alive connections.
func BenchmarkWebhookDelivery(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	w := NewWebhooks(WebhookOptions{Queue: b.N + 1, Logger: slog.New(slog.DiscardHandler)})
	if err := w.Set([]config.Webhook{{Event: "spawn", URL: srv.URL}}); err != nil {
		b.Fatal(err)
	}
	bus := events.NewBus()
	sub := bus.Subscribe(b.N+1, events.DropOldest)
	b.ResetTimer()
	for i := range b.N {
		bus.Publish(events.Event{Type: "spawn", Name: "default.web", Pid: i, OSPid: 1000 + i})
	}
	sub.Close()
	if err := w.Run(context.Background(), sub); err != nil {
		b.Fatal(err)
	}
	if st := w.Stats()[0]; st.Delivered != uint64(b.N) {
		b.Fatalf("delivered %d of %d", st.Delivered, b.N)
	}
}
