// Package notify tells the outside world about the engine's events. It is
// an ordinary event subscriber: it reads a bounded subscription and never
// holds the engine up.
//
// # Webhooks
//
// Webhooks POSTs each event whose type equals a configured type ("." = every
// event) to the configured URLs (gaffer-config.md §3.2 [webhooks]). The body
// is the event's JSON message (events.Event.Message), with Content-Type
// application/json and User-Agent gaffer/<version>.
//
// Beyond gaffer's fire-and-forget posts, deliveries are retried: a connection
// error, a timeout, a 5xx or a 429 is tried again after an exponential
// backoff with jitter, up to WebhookOptions.Attempts attempts in all; any
// other status of 300 or more is a final answer (redirects are not
// followed). Each URL has its own FIFO queue and at most one sender, so
// events reach a URL in the order they were published, and a URL that is
// down or slow delays only its own queue. A full queue drops its oldest
// event.
//
// # Concurrency contract
//
// Run's goroutine only reads the subscription and appends to the URL queues;
// it never waits on the network. A URL's sender goroutine exists only while
// its queue is not empty, so an idle dispatcher has no goroutine beyond Run
// and no timer. Set and Stats may be called from any goroutine, at any time.
// Set swaps the routing table atomically: an event is matched against the
// table current when Run reads it, so events published just before a Set
// but not read yet go to the new set of hooks.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/events"
)

// Defaults of WebhookOptions.
const (
	DefaultWebhookQueue      = 1024
	DefaultWebhookAttempts   = 6
	DefaultWebhookMinBackoff = 500 * time.Millisecond
	DefaultWebhookMaxBackoff = 30 * time.Second
	DefaultWebhookTimeout    = 10 * time.Second
)

// ErrWebhookURL is the reason Set refuses a hook: only http:// and https://
// URLs with a host are posted to.
var ErrWebhookURL = errors.New("webhook URL must be http:// or https:// with a host")

// ErrWebhooksRunning is returned by a second call to Run.
var ErrWebhooksRunning = errors.New("webhooks: Run already called")

// WebhookOptions configure a Webhooks dispatcher. The zero value is usable.
type WebhookOptions struct {
	Version    string        // sent as User-Agent gaffer/<Version>
	Queue      int           // events waiting per URL before the oldest is dropped (DefaultWebhookQueue)
	Attempts   int           // attempts per event, the first included (DefaultWebhookAttempts)
	MinBackoff time.Duration // wait before the first retry; doubled after each (DefaultWebhookMinBackoff)
	MaxBackoff time.Duration // longest wait between attempts (DefaultWebhookMaxBackoff)
	Timeout    time.Duration // per attempt: connect, send, response (DefaultWebhookTimeout)
	Logger     *slog.Logger  // slog.Default() when nil
}

// WebhookStats counts one (event type, URL) pair's deliveries. Every event
// matched by the pair ends up Delivered, Failed or Dropped, or is still
// Queued (or in flight).
type WebhookStats struct {
	Event, URL string
	Delivered  uint64 // accepted with a 2xx status
	Failed     uint64 // given up: a final status, the last attempt failed, or aborted at shutdown
	Retried    uint64 // attempts after the first
	Dropped    uint64 // discarded unsent: the URL's queue was full, or shutdown came first
	Queued     int64  // waiting now
}

// Webhooks posts events to the configured webhooks. Create it with
// NewWebhooks, give it hooks with Set and feed it with Run.
type Webhooks struct {
	opts   WebhookOptions
	log    *slog.Logger
	client *http.Client
	ua     string

	table atomic.Pointer[webhookTable]

	setMu   sync.Mutex                // serializes Set; guards senders
	senders map[string]*webhookSender // by URL, for the URLs of the current table

	started atomic.Bool
	ctx     context.Context // Run's; set before any sender starts
	wg      sync.WaitGroup  // running senders; Add only from Run's goroutine
}

// webhookTable is an immutable routing table.
type webhookTable struct {
	byType  map[string][]*webhookTarget // exact event type
	all     []*webhookTarget            // "."
	targets []*webhookTarget            // every pair, in configuration order
}

// webhookTarget is one configured (event type, URL) pair and its counters.
type webhookTarget struct {
	event, url string
	sender     *webhookSender
	removed    atomic.Bool // no longer configured: queued events are discarded, retries stop

	delivered, failed, retried, dropped atomic.Uint64
	queued                              atomic.Int64
}

// webhookItem is one event waiting to be posted for one target.
type webhookItem struct {
	target *webhookTarget
	event  events.Event
}

// webhookSender is a URL's FIFO queue and its sender goroutine, which runs
// only while the queue has events.
type webhookSender struct {
	url      string
	redacted string // for logs: no password

	mu          sync.Mutex // guards the fields below
	queue       []webhookItem
	head        int  // queue[head:] are waiting
	running     bool // a sender goroutine exists
	overflowing bool // an overflow was logged and the queue has not emptied since
}

// NewWebhooks returns a dispatcher with no hooks.
func NewWebhooks(opts WebhookOptions) *Webhooks {
	if opts.Queue < 1 {
		opts.Queue = DefaultWebhookQueue
	}
	if opts.Attempts < 1 {
		opts.Attempts = DefaultWebhookAttempts
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultWebhookMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultWebhookMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ua := "gaffer"
	if opts.Version != "" {
		ua += "/" + opts.Version
	}
	w := &Webhooks{opts: opts, log: log, ua: ua, senders: map[string]*webhookSender{},
		client: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   opts.Timeout,
			// A redirect is the receiver's answer, not a new target: a POST
			// turned into a GET elsewhere would not deliver the event.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	w.table.Store(&webhookTable{})
	return w
}

// checkWebhookURL accepts the http(s)://host[:port][/path] URLs webhooks post to.
func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%w: %q", ErrWebhookURL, raw)
	}
	return nil
}

// Set replaces the hooks. Pairs kept from the previous set keep their queue
// and counters; added pairs receive the events read from now on; removed
// pairs get nothing more, their queued events are discarded and their
// retries stop (an attempt in flight may finish). A pair listed twice counts
// once. If a URL is not http(s), Set changes nothing and returns an error
// naming it.
func (w *Webhooks) Set(hooks []config.Webhook) error {
	var errs []error
	for _, h := range hooks {
		if err := checkWebhookURL(h.URL); err != nil {
			errs = append(errs, fmt.Errorf("webhook %s: %w", h.Event, err))
		}
		if h.Event == "" {
			errs = append(errs, fmt.Errorf("webhook %q: empty event type", h.URL))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w.setMu.Lock()
	defer w.setMu.Unlock()
	old := w.table.Load()
	oldTargets := map[[2]string]*webhookTarget{}
	for _, t := range old.targets {
		oldTargets[[2]string{t.event, t.url}] = t
	}
	next := &webhookTable{byType: map[string][]*webhookTarget{}}
	senders := map[string]*webhookSender{}
	seen := map[[2]string]bool{}
	for _, h := range hooks {
		key := [2]string{h.Event, h.URL}
		if seen[key] {
			continue
		}
		seen[key] = true
		t := oldTargets[key]
		if t == nil {
			s := senders[h.URL]
			if s == nil {
				s = w.senders[h.URL]
			}
			if s == nil {
				s = newWebhookSender(h.URL)
			}
			t = &webhookTarget{event: h.Event, url: h.URL, sender: s}
		}
		senders[h.URL] = t.sender
		next.targets = append(next.targets, t)
		if h.Event == "." {
			next.all = append(next.all, t)
		} else {
			next.byType[h.Event] = append(next.byType[h.Event], t)
		}
	}
	for key, t := range oldTargets {
		if !seen[key] {
			t.removed.Store(true)
		}
	}
	w.senders = senders
	w.table.Store(next)
	return nil
}

func newWebhookSender(raw string) *webhookSender {
	s := &webhookSender{url: raw, redacted: raw}
	if u, err := url.Parse(raw); err == nil {
		s.redacted = u.Redacted()
	}
	return s
}

// Stats returns the counters of the current hooks, in configuration order.
func (w *Webhooks) Stats() []WebhookStats {
	t := w.table.Load()
	out := make([]WebhookStats, 0, len(t.targets))
	for _, h := range t.targets {
		out = append(out, WebhookStats{Event: h.event, URL: h.url,
			Delivered: h.delivered.Load(), Failed: h.failed.Load(), Retried: h.retried.Load(),
			Dropped: h.dropped.Load(), Queued: h.queued.Load()})
	}
	return out
}

// Run posts the events read from sub until sub is closed or ctx is done,
// and returns once its senders are gone:
//
//   - sub closed (the engine's last events are in): the events already
//     queued are delivered, with their retries; bound the wait with ctx.
//   - ctx done: attempts in flight are aborted (counted Failed) and the
//     events still queued are discarded (counted Dropped).
//
// Run does not close sub. Before returning it logs a warning per hook that
// failed or dropped events. It may be called once.
func (w *Webhooks) Run(ctx context.Context, sub *events.Sub) error {
	if w.started.Swap(true) {
		return ErrWebhooksRunning
	}
	w.ctx = ctx
	defer w.client.CloseIdleConnections()
	var lost uint64
	for c := sub.C(); c != nil; {
		select {
		case <-ctx.Done():
			c = nil
		case e, ok := <-c:
			if !ok {
				c = nil
				break
			}
			if n := sub.Dropped(); n > lost {
				w.log.Warn("webhooks: events lost: the engine's event queue overflowed", "lost", n-lost)
				lost = n
			}
			w.dispatch(e)
		}
	}
	w.wg.Wait()
	w.logSummary()
	return nil
}

// dispatch queues e for every hook whose type equals e's. Event types are
// compared lower-cased, as the configuration lower-cases its keys.
func (w *Webhooks) dispatch(e events.Event) {
	t := w.table.Load()
	typ := e.Type
	if strings.ContainsFunc(typ, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
		typ = strings.ToLower(typ)
	}
	for _, h := range t.byType[typ] {
		w.enqueue(webhookItem{h, e})
	}
	for _, h := range t.all {
		w.enqueue(webhookItem{h, e})
	}
}

// enqueue appends it to its URL's queue, dropping the oldest event if the
// queue is full, and starts the URL's sender if none runs.
func (w *Webhooks) enqueue(it webhookItem) {
	s := it.target.sender
	s.mu.Lock()
	warn := false
	if len(s.queue)-s.head >= w.opts.Queue {
		old := s.pop()
		old.target.queued.Add(-1)
		old.target.dropped.Add(1)
		warn, s.overflowing = !s.overflowing, true
	}
	if s.head > 0 && len(s.queue) == cap(s.queue) {
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue, s.head = s.queue[:n], 0
	}
	s.queue = append(s.queue, it)
	it.target.queued.Add(1)
	if !s.running {
		s.running = true
		w.wg.Add(1)
		go w.send(s)
	}
	s.mu.Unlock()
	if warn { // once until the queue empties again
		w.log.Warn("webhook: queue full, dropping the oldest events", "url", s.redacted, "queue", w.opts.Queue)
	}
}

// pop removes the oldest queued item; the queue must not be empty. Called
// with s.mu held.
func (s *webhookSender) pop() webhookItem {
	it := s.queue[s.head]
	s.queue[s.head] = webhookItem{}
	s.head++
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	}
	return it
}

// send is a URL's sender: it posts the queued events one at a time, in
// order, and exits when the queue is empty.
func (w *Webhooks) send(s *webhookSender) {
	defer w.wg.Done()
	for {
		s.mu.Lock()
		if s.head == len(s.queue) {
			s.running, s.overflowing = false, false
			s.mu.Unlock()
			return
		}
		it := s.pop()
		s.mu.Unlock()
		it.target.queued.Add(-1)
		switch {
		case it.target.removed.Load():
		case w.ctx.Err() != nil:
			it.target.dropped.Add(1)
		default:
			w.deliver(s, it)
		}
	}
}

// deliver posts one event, retrying what may succeed later.
func (w *Webhooks) deliver(s *webhookSender, it webhookItem) {
	t := it.target
	body, err := json.Marshal(it.event.Message())
	if err != nil { // a Message holds strings and numbers only
		t.failed.Add(1)
		w.log.Warn("webhook: event not encoded, dropped", "url", s.redacted, "event", it.event.Type, "err", err)
		return
	}
	for attempt := 1; ; attempt++ {
		retry, after, err := w.post(s.url, body)
		if err == nil {
			t.delivered.Add(1)
			return
		}
		if w.ctx.Err() != nil {
			t.failed.Add(1)
			return
		}
		wait := webhookBackoff(attempt, w.opts.MinBackoff, w.opts.MaxBackoff, after)
		last := !retry || attempt >= w.opts.Attempts
		if last {
			wait = 0
		}
		w.log.Debug("webhook: attempt failed", "url", s.redacted, "event", it.event.Type, "seq", it.event.Seq,
			"attempt", attempt, "err", err, "retry_in", wait)
		if last {
			t.failed.Add(1)
			w.log.Warn("webhook: event dropped", "url", s.redacted, "event", it.event.Type, "seq", it.event.Seq,
				"attempts", attempt, "err", err)
			return
		}
		timer := time.NewTimer(wait)
		select {
		case <-w.ctx.Done():
			timer.Stop()
			t.failed.Add(1)
			return
		case <-timer.C:
		}
		if t.removed.Load() {
			return
		}
		t.retried.Add(1)
	}
}

// post makes one attempt. It reports whether a failure is worth retrying,
// and the receiver's Retry-After, if any.
func (w *Webhooks) post(target string, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.ua)
	resp, err := w.client.Do(req)
	if err != nil {
		return true, 0, err // connection refused, reset, timeout
	}
	defer resp.Body.Close()
	// Read a little of the body: a short reason for the log, and the
	// connection can be reused when the body was small.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, 0, nil
	}
	err = fmt.Errorf("%s", resp.Status)
	if msg := strings.TrimSpace(string(head)); msg != "" {
		err = fmt.Errorf("%s: %.200q", resp.Status, msg)
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return retry, parseRetryAfter(resp.Header.Get("Retry-After")), err
}

// webhookBackoff is the wait before attempt+1: min doubled attempt-1 times,
// capped at max, then a random part of it taken off (up to half) so that
// events failing together do not retry in lockstep against a receiver that
// is coming back. A receiver's Retry-After, capped at max, wins when longer.
func webhookBackoff(attempt int, minWait, maxWait, after time.Duration) time.Duration {
	d := minWait
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	d -= rand.N(d/2 + 1)
	return max(d, min(after, maxWait))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Anything else, or a time in the past, is 0.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// logSummary warns about every hook that lost events.
func (w *Webhooks) logSummary() {
	for _, s := range w.Stats() {
		if s.Failed > 0 || s.Dropped > 0 {
			w.log.Warn("webhook: undelivered events", "event", s.Event, "url", redact(s.URL),
				"delivered", s.Delivered, "failed", s.Failed, "dropped", s.Dropped, "retried", s.Retried)
		}
	}
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}
