package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// Close statuses of /channel connections.
const (
	// StatusSlowConsumer closes a connection whose client does not read
	// fast enough: a subscription's queue overflowed.
	StatusSlowConsumer = websocket.StatusPolicyViolation // 1008
)

// conn is one /channel/websocket connection. The reader goroutine (read)
// owns subs; the writer goroutine (write) is the only one writing to ws;
// forwarders and stats samplers feed out.
type conn struct {
	h    *Handler
	ws   *websocket.Conn
	auth authorizer

	ctx     context.Context // cancelled when the connection ends
	cancel  context.CancelFunc
	out     chan []byte    // bounded outgoing queue, drained by write
	closing chan closeReq  // a request to close, served by write
	wg      sync.WaitGroup // forwarders, samplers, the shutdown watcher

	subs map[string]*subscription // by canonical topic; owned by read
}

// closeReq asks the writer to send last (if any), then close with code.
type closeReq struct {
	code   websocket.StatusCode
	reason string
	last   []byte
}

// subscription is one topic of one connection, reference-counted: N SUBs
// need N UNSUBs.
type subscription struct {
	refs int
	run  func() // starts the goroutine that feeds it, after the SUB is answered
	stop func() // ends that goroutine; it releases the rest
}

func (h *Handler) serveChannel(w http.ResponseWriter, r *http.Request) {
	ws, err := h.accept(w, r)
	if err != nil {
		return // Accept has answered
	}
	// The request's context must not be used after the upgrade.
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{h: h, ws: ws, ctx: ctx, cancel: cancel,
		auth:    authorizer{r: r, fn: h.opts.Authorize},
		out:     make(chan []byte, h.opts.QueueSize),
		closing: make(chan closeReq, 1),
		subs:    map[string]*subscription{}}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write()
	}()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-h.sup.Done():
			c.close(websocket.StatusGoingAway, "gafferd is shutting down", nil)
		case <-ctx.Done():
		}
	}()
	c.read()
	cancel()
	for _, s := range c.subs {
		s.stop()
	}
	c.wg.Wait()
	<-writerDone
	ws.CloseNow()
}

// close asks the writer to close the connection; the first request wins.
func (c *conn) close(code websocket.StatusCode, reason string, last []byte) {
	select {
	case c.closing <- closeReq{code, reason, last}:
	default:
	}
}

// write sends queued messages until the connection ends. A close request
// goes before queued messages: after an overflow they are stale.
func (c *conn) write() {
	defer c.cancel()
	send := func(msg []byte) error {
		ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, msg)
	}
	closeWith := func(req closeReq) {
		if req.last != nil && send(req.last) != nil {
			return
		}
		c.ws.Close(req.code, req.reason)
	}
	for {
		select {
		case req := <-c.closing:
			closeWith(req)
			return
		default:
		}
		select {
		case req := <-c.closing:
			closeWith(req)
			return
		case msg := <-c.out:
			if send(msg) != nil {
				return
			}
		case <-c.ctx.Done():
			return
		}
	}
}

// enqueue queues msg, waiting while the queue is full; false once the
// connection or stop is done.
func (c *conn) enqueue(msg []byte, stop <-chan struct{}) bool {
	select {
	case c.out <- msg:
		return true
	case <-c.ctx.Done():
		return false
	case <-stop:
		return false
	}
}

func (c *conn) reply(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(errorMessage("internal", err.Error()))
	}
	c.enqueue(b, nil)
}

func errorMessage(code, reason string) map[string]any {
	return map[string]any{"event": "gaffer:error", "data": map[string]string{"error": code, "reason": reason}}
}

// read serves the client's messages in order until the connection ends.
func (c *conn) read() {
	first := true
	for {
		_, b, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		if first {
			first = false
			key, isAuth := strings.CutPrefix(string(b), "AUTH:")
			if c.h.opts.KeyAuth != nil {
				if !c.authenticate(key, isAuth) {
					return
				}
				continue
			}
			if isAuth {
				continue // keys are not required: a client's AUTH is harmless
			}
		}
		req, reason := decodeMessage(b)
		if reason != "" {
			c.reply(errorMessage("invalid_msg", reason))
			continue
		}
		switch req.kind {
		case "NOP":
		case "SUB":
			c.subscribe(req)
		case "UNSUB":
			c.unsubscribe(req)
		case "CMD":
			c.command(req)
		}
	}
}

// authenticate checks the first message, AUTH:<key> (§5.1).
func (c *conn) authenticate(key string, isAuth bool) bool {
	var err error
	if !isAuth {
		err = rest.ErrUnauthorized
	} else {
		c.auth.key, err = c.h.opts.KeyAuth(key)
	}
	if err == nil {
		return true
	}
	b, _ := json.Marshal(errorMessage("AUTH_REQUIRED", err.Error()))
	c.close(websocket.StatusPolicyViolation, "AUTH_REQUIRED", b)
	// Wait for the writer to close; the client's next messages are ignored.
	<-c.ctx.Done()
	return false
}

// ---- subscriptions ---------------------------------------------------------

// subError is a refused SUB; Reason is one of gaffer's words.
type subError struct{ reason string }

func (e *subError) Error() string { return e.reason }

var (
	errInvalidTopic    = &subError{"invalid_topic"}
	errInvalidProcess  = &subError{"invalid_process"}
	errInvalidInterval = &subError{"invalid_interval"}
)

func (c *conn) subscribe(req request) {
	t, ok := parseTopic(req.topic)
	if !ok {
		c.subscriptionError(req.topic, errInvalidTopic)
		return
	}
	key := t.String()
	if s := c.subs[key]; s != nil {
		s.refs++
		c.subscriptionSuccess(req.topic)
		return
	}
	sub, err := c.start(t, req.interval)
	if err != nil {
		c.subscriptionError(req.topic, err)
		return
	}
	c.subs[key] = sub
	c.subscriptionSuccess(req.topic)
	sub.run()
}

func (c *conn) unsubscribe(req request) {
	t, ok := parseTopic(req.topic)
	if !ok {
		c.subscriptionError(req.topic, errInvalidTopic)
		return
	}
	key := t.String()
	s := c.subs[key]
	if s == nil {
		c.subscriptionError(req.topic, &subError{"not_subscribed"})
		return
	}
	if s.refs--; s.refs == 0 {
		s.stop()
		delete(c.subs, key)
	}
	c.subscriptionSuccess(req.topic)
}

func (c *conn) subscriptionSuccess(topic string) {
	c.reply(map[string]any{"event": "gaffer:subscription_success", "topic": topic})
}

func (c *conn) subscriptionError(topic string, err error) {
	reason := ""
	var se *subError
	switch {
	case errors.As(err, &se):
		reason = se.reason
	case errors.Is(err, rest.ErrForbidden):
		reason = "forbidden"
	case errors.Is(err, supervisor.ErrStreamNotFound):
		reason = "stream_not_found"
	case errors.Is(err, supervisor.ErrNotFound):
		reason = "invalid_process"
	default:
		e := errorOf(err)
		b, _ := json.Marshal(map[string]any{"errno": e.Errno, "reason": e.Reason})
		reason = string(b)
	}
	c.reply(map[string]any{"event": "gaffer:subscription_error", "topic": topic,
		"data": map[string]string{"reason": reason}})
}

// start checks the permission a topic needs and starts feeding it.
func (c *conn) start(t topic, interval json.RawMessage) (*subscription, error) {
	key := t.String()
	switch t.source {
	case srcEvents:
		if err := c.auth.allow(rest.ManageAll, ""); err != nil {
			return nil, err
		}
		pattern := t.target
		if pattern == "" {
			pattern = "."
		}
		sub := c.h.subscribe(false, pattern)
		return c.forward(sub, func(e events.Event) []byte { return eventMessage(key, e.Type, e.Message()) }), nil

	case srcJob:
		name := fullName(t.target)
		if err := c.auth.allow(rest.Manage, name); err != nil {
			return nil, err
		}
		prefix := "job." + name
		sub := c.h.subscribe(false, prefix)
		return c.forward(sub, func(e events.Event) []byte {
			return eventMessage(key, strings.TrimPrefix(e.Type, prefix+"."), e.Message())
		}), nil

	case srcProcess:
		if !isDigits(t.target) {
			return nil, errInvalidTopic
		}
		info, err := c.process(t.target)
		if err != nil {
			return nil, err
		}
		if err := c.auth.allow(rest.Manage, info.Name); err != nil {
			return nil, err
		}
		prefix := "proc." + strconv.Itoa(info.Pid)
		sub := c.h.subscribe(false, prefix)
		return c.forward(sub, func(e events.Event) []byte {
			return eventMessage(key, strings.TrimPrefix(e.Type, prefix+"."), e.Message())
		}), nil

	case srcStats:
		every := c.h.opts.StatsInterval
		if len(interval) > 0 && string(interval) != "null" {
			var ms float64
			if json.Unmarshal(interval, &ms) != nil || ms <= 0 || ms > float64(time.Hour/time.Millisecond) {
				return nil, errInvalidInterval
			}
			every = max(time.Duration(ms*float64(time.Millisecond)), MinStatsInterval)
		}
		return c.startStats(t, every)

	case srcStream:
		pid, label, ok := pidTarget(t.target)
		if !ok {
			return nil, errInvalidTopic
		}
		info, err := c.process(pid)
		if err != nil {
			return nil, err
		}
		if err := c.auth.allow(rest.Read, info.Name); err != nil {
			return nil, err
		}
		label, event, err := readLabel(info, label)
		if err != nil {
			return nil, err
		}
		sub := c.h.subscribe(true, strconv.Itoa(info.Pid)+"."+label)
		var text utf8Decoder
		return c.forward(sub, func(e events.Event) []byte {
			return eventMessage(key, event, map[string]any{"name": e.Name, "pid": e.Pid, "data": text.decode(e.Data)})
		}), nil
	}
	return nil, errInvalidTopic
}

// readLabel resolves the label a STREAM topic or a process channel reads
// ("" = the first redirect_output label) and the event name its chunks
// get: the label, or READ for a custom stream.
func readLabel(info supervisor.ProcessInfo, label string) (string, string, error) {
	if label == "" {
		if len(info.RedirectOutput) == 0 {
			return "", "", fmt.Errorf("process %d has no redirected output: %w", info.Pid, supervisor.ErrStreamNotFound)
		}
		return info.RedirectOutput[0], info.RedirectOutput[0], nil
	}
	if slices.Contains(info.RedirectOutput, label) {
		return label, label, nil
	}
	if slices.Contains(info.CustomStreams, label) {
		return label, "READ", nil
	}
	return "", "", fmt.Errorf("process %d stream %q: %w", info.Pid, label, supervisor.ErrStreamNotFound)
}

// process looks up a pid given as digits.
func (c *conn) process(digits string) (supervisor.ProcessInfo, error) {
	pid, err := strconv.Atoi(digits)
	if err != nil {
		return supervisor.ProcessInfo{}, fmt.Errorf("process %s: %w", digits, supervisor.ErrNotFound)
	}
	return c.h.sup.Process(c.ctx, pid)
}

// fullName is a job name as the core knows it, "session.job".
func fullName(name string) string {
	s, j := supervisor.ParseName(name)
	return s + "." + j
}

// eventMessage is a gaffer:event carrying msg under the given name. Every
// subscriber renders every event, so the common field types are written
// directly rather than through reflection.
func eventMessage(topic, name string, msg map[string]any) []byte {
	msg["event"], msg["topic"] = name, topic
	b := make([]byte, 0, 64+32*len(msg))
	b = append(b, `{"event":"gaffer:event","data":{`...)
	for i, k := range slices.Sorted(maps.Keys(msg)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		switch v := msg[k].(type) {
		case string:
			b = appendJSONString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case bool:
			b = strconv.AppendBool(b, v)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				return nil
			}
			b = append(b, j...)
		}
	}
	return append(b, "}}"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript string
		// literals; encoding/json escapes them too.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// forward makes the subscription whose goroutine moves sub's events to the
// outgoing queue, rendered by render (nil = skip). When the bus closes sub
// because its queue overflowed, the client is too slow: the connection is
// closed.
func (c *conn) forward(sub *events.Sub, render func(events.Event) []byte) *subscription {
	done := make(chan struct{})
	run := func() {
		c.wg.Add(1)
		go c.pump(sub, render, done)
	}
	return &subscription{refs: 1, run: run, stop: sync.OnceFunc(func() { close(done) })}
}

// pump is a subscription's goroutine: bus events to the outgoing queue.
func (c *conn) pump(sub *events.Sub, render func(events.Event) []byte, done chan struct{}) {
	defer c.wg.Done()
	defer c.h.release(sub)
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), events.ErrOverflow) {
					c.close(StatusSlowConsumer, fmt.Sprintf("slow consumer: more than %d messages queued", c.h.opts.QueueSize), nil)
				}
				return
			}
			if msg := render(e); msg != nil && !c.enqueue(msg, done) {
				return
			}
		case <-done:
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// startStats samples the processes of a STATS topic every interval: one
// pid, or every process of a job alive now (later spawns are not added, as
// in gaffer). The sampler stops when the last of them exits or the topic is
// unsubscribed.
func (c *conn) startStats(t topic, every time.Duration) (*subscription, error) {
	// Subscribe to exits before listing processes, so none is missed.
	exits := c.h.subscribeExits()
	procs := map[int]int{} // pid → OS pid
	var name string
	if isDigits(t.target) {
		info, err := c.process(t.target)
		if err != nil {
			c.h.release(exits)
			return nil, err
		}
		name, procs[info.Pid] = info.Name, info.OSPid
	} else {
		name = fullName(t.target)
		osPids, _, err := c.h.sup.OSPids(c.ctx, name)
		if err != nil {
			c.h.release(exits)
			return nil, err
		}
		procs = osPids
	}
	if err := c.auth.allow(rest.Read, name); err != nil {
		c.h.release(exits)
		return nil, err
	}
	key := t.String()
	done := make(chan struct{})
	run := func() {
		c.wg.Add(1)
		c.h.samplers.Add(1)
		go c.sample(key, name, procs, exits, every, done)
	}
	return &subscription{refs: 1, run: run, stop: sync.OnceFunc(func() { close(done) })}, nil
}

// sample is a STATS subscription's goroutine: it samples procs (pid → OS
// pid) now and at every tick, and forgets a process at its exit.
func (c *conn) sample(key, name string, procs map[int]int, exits *events.Sub, every time.Duration, done chan struct{}) {
	defer c.wg.Done()
	defer c.h.release(exits)
	defer c.h.samplers.Add(-1)
	tick := time.NewTicker(every)
	defer tick.Stop()
	sample := func() bool {
		for _, pid := range slices.Sorted(maps.Keys(procs)) {
			st, err := c.h.sampler.Sample(procs[pid])
			if err != nil {
				delete(procs, pid) // gone (or unreadable): nothing more to say
				continue
			}
			if !c.enqueue(statMessage(key, pid, procs[pid], st), done) {
				return false
			}
		}
		return len(procs) > 0
	}
	if !sample() {
		return
	}
	for {
		select {
		case e, ok := <-exits.C():
			if !ok {
				return
			}
			if _, mine := procs[e.Pid]; mine && e.Name == name {
				delete(procs, e.Pid)
				if len(procs) == 0 {
					return
				}
			}
		case <-tick.C:
			if !sample() {
				return
			}
		case <-done:
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// statMessage is a gaffer:event "stat": the process's stats plus pid,
// os_pid and topic.
func statMessage(topic string, pid, osPid int, st stats.Stat) []byte {
	b, err := json.Marshal(stats.ProcessStat{PID: pid, OSPID: osPid, Stat: st})
	if err != nil {
		return nil
	}
	tb, _ := json.Marshal(topic)
	out := make([]byte, 0, len(b)+len(tb)+64)
	out = append(out, `{"event":"gaffer:event","data":{"event":"stat","topic":`...)
	out = append(out, tb...)
	out = append(out, ',')
	out = append(out, b[1:]...)
	return append(out, '}')
}
