package legacy

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// coreTypes are the 0.5.2 events the 0.4.4 catalogue is made from.
var coreTypes = []string{"load", "unload", "start", "stop", "update", "spawn", "reap", "exit", "stop_process", "flap"}

// legacyEvent is one event of gaffer 0.4.4's catalogue (gaffer-events.md
// §2.1): its type and its JSON message.
type legacyEvent struct {
	Type string
	Msg  map[string]any
}

// translator turns the core's events into 0.4.4 events. It remembers the
// OS pid of live processes (stop_process does not carry it) and whether a
// job is detached (spawn reports it). Owned by one request's goroutine.
type translator struct {
	osPid    map[int]int
	detached map[string]bool
	detach   func(job string) bool // asks the core; nil = false
}

func newTranslator(osPids map[int]int, detach func(string) bool) *translator {
	if osPids == nil {
		osPids = map[int]int{}
	}
	return &translator{osPid: osPids, detached: map[string]bool{}, detach: detach}
}

func (t *translator) isDetached(job string) bool {
	d, ok := t.detached[job]
	if !ok && t.detach != nil {
		d = t.detach(job)
		t.detached[job] = d
	}
	return d
}

// translate maps one core event to its 0.4.4 events: the plain one, then,
// for start, stop, spawn, reap, exit and stop_pid, its proc.<name>.<event>
// copy. Events with no 0.4.4 equivalent give none.
func (t *translator) translate(e events.Event) []legacyEvent {
	name := templateName(e.Name)
	var typ string
	msg := map[string]any{"name": name}
	copyToProc := false
	switch e.Type {
	case "load":
		typ = "create"
	case "unload":
		typ = "delete"
		delete(t.detached, e.Name)
	case "start", "stop":
		typ, copyToProc = e.Type, true
		delete(t.detached, e.Name) // a stop or start may follow a config change
	case "update", "flap":
		typ = e.Type
	case "spawn":
		typ, copyToProc = "spawn", true
		t.osPid[e.Pid] = e.OSPid
		msg["pid"], msg["os_pid"], msg["detached"] = e.Pid, e.OSPid, t.isDetached(e.Name)
	case "reap":
		typ, copyToProc = "reap", true
		msg["pid"], msg["os_pid"] = e.Pid, e.OSPid
	case "exit":
		typ, copyToProc = "exit", true
		delete(t.osPid, e.Pid)
		msg["pid"], msg["os_pid"] = e.Pid, e.OSPid
		msg["exit_status"], msg["term_signal"] = e.ExitStatus, e.TermSignal
	case "stop_process":
		typ, copyToProc = "stop_pid", true
		delete(t.detached, e.Name) // an update replaces processes this way
		msg["pid"], msg["os_pid"] = e.Pid, t.osPid[e.Pid]
	default:
		return nil
	}
	msg["event"] = typ
	out := []legacyEvent{{Type: typ, Msg: msg}}
	if copyToProc {
		ptyp := "proc." + name + "." + typ
		m := make(map[string]any, len(msg))
		for k, v := range msg {
			m[k] = v
		}
		m["event"] = ptyp
		out = append(out, legacyEvent{Type: ptyp, Msg: m})
	}
	return out
}

// ---- feeds ---------------------------------------------------------------------

// feedOf reads ?feed=, def when absent; any value not in allowed is
// bad_value naming it.
func feedOf(r *http.Request, def string, allowed ...string) (string, error) {
	f := r.URL.Query().Get("feed")
	if f == "" {
		return def, nil
	}
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", badValue(fmt.Sprintf("feed %q: want one of %s", f, strings.Join(allowed, ", ")))
}

// feedAndHeartbeat reads ?feed= as feedOf does, then ?heartbeat= with the
// handler's heartbeat as default.
func (h *Handler) feedAndHeartbeat(r *http.Request, def string, allowed ...string) (string, time.Duration, error) {
	feed, err := feedOf(r, def, allowed...)
	if err != nil {
		return "", 0, err
	}
	hb, err := parseHeartbeat(r.URL.Query().Get("heartbeat"), h.heartbeat)
	if err != nil {
		return "", 0, err
	}
	return feed, hb, nil
}

// parseHeartbeat reads ?heartbeat=: absent or "true" is def, "false" or 0
// is none, else seconds (fractions allowed) from 0.01 to 86400.
func parseHeartbeat(v string, def time.Duration) (time.Duration, error) {
	switch strings.ToLower(v) {
	case "", "true":
		return def, nil
	case "false", "0":
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0.01 || f > 86400 {
		return 0, badValue(fmt.Sprintf("heartbeat %q: want true, false or seconds from 0.01 to 86400", v))
	}
	return time.Duration(f * float64(time.Second)), nil
}

// streamWriter writes a long response, flushing after every write. A write
// error means the client is gone.
type streamWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startStream(w http.ResponseWriter, ctype string) *streamWriter {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	s := &streamWriter{w: w, rc: http.NewResponseController(w)}
	s.rc.Flush()
	return s
}

func (s *streamWriter) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// sseEvent encodes an event-stream event. gaffer 0.4.4 ended an event with
// its last "data:" line and no blank line, which browsers' EventSource
// never dispatches; the blank line is added (0.4.4's Python client strips
// it). Each line of data gets its own "data:" field, so data containing
// newlines survives.
func sseEvent(typ string, data []byte) []byte {
	var b []byte
	b = append(b, "event: "...)
	b = append(b, typ...)
	b = append(b, "\r\n"...)
	for _, line := range strings.Split(string(data), "\n") {
		b = append(b, "data: "...)
		b = append(b, strings.TrimSuffix(line, "\r")...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// ticker returns a heartbeat channel, nil (never ready) when d is 0, and
// its stop function. The timer exists only while the request is open.
func ticker(d time.Duration) (<-chan time.Time, func()) {
	if d <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// ---- /watch --------------------------------------------------------------------

// watch is GET /watch[/p1[/p2[/p3]]]: 0.4.4 events matching the parts
// joined with '.' ("." for none). longpoll (default) answers the first
// event as JSON + CRLF; eventsource streams every event until the client
// leaves, the supervisor stops, or the client falls QueueSize events
// behind (the stream then ends: the supervisor never waits for a reader).
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, rt route) error {
	feed, hb, err := h.feedAndHeartbeat(r, "longpoll", "longpoll", "eventsource")
	if err != nil {
		return err
	}
	pattern := "."
	if len(rt.pattern) > 0 {
		pattern = strings.Join(rt.pattern, ".")
	}
	ctx := r.Context()
	sub := h.sup.Subscribe(h.queue, supervisor.CloseSub, coreTypes...)
	defer sub.Close()
	// After subscribing, so that no process is missed between the two.
	osPids, _, err := h.sup.OSPids(ctx, "")
	if err != nil {
		return err
	}
	tr := newTranslator(osPids, func(job string) bool {
		info, err := h.sup.Info(ctx, job)
		return err == nil && info.Config.Detach
	})
	ctype := "application/json"
	if feed == "eventsource" {
		ctype = "text/event-stream"
	}
	out := startStream(w, ctype)
	beat, stop := ticker(hb)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.sup.Done():
			return nil
		case <-beat:
			if out.write([]byte("\n")) != nil {
				return nil
			}
		case e, ok := <-sub.C():
			if !ok {
				return nil // overflowed: the reader was too slow
			}
			for _, le := range tr.translate(e) {
				if !events.Match(pattern, le.Type) {
					continue
				}
				data, err := json.Marshal(le.Msg)
				if err != nil {
					return nil
				}
				if feed == "longpoll" {
					out.write(append(data, "\r\n"...))
					return nil
				}
				if out.write(sseEvent(le.Type, data)) != nil {
					return nil
				}
			}
		}
	}
}
