package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ErrChannelClosed is returned by a Channel or ProcessChannel used after
// Close.
var ErrChannelClosed = errors.New("channel closed")

// channelQueue bounds the events a Channel holds for its reader. When it is
// full the Channel stops reading from gafferd, which closes the connection
// if its own queues overflow (status 1008, "slow consumer").
const channelQueue = 4096

// ChannelEvent is one message delivered on a subscribed topic
// (gaffer-events.md §5.3).
type ChannelEvent struct {
	Topic string // the topic as gafferd names it: "EVENTS", "JOB:app.web", "STREAM:3"
	// Event is the event's name: its full type on EVENTS topics
	// ("job.app.web.exit"), the suffix on JOB and PROCESS topics ("exit"),
	// "stat" on STATS topics, the label (or "READ") on STREAM topics.
	Event string
	Name  string // the job, "session.job"
	Pid   int    // gaffer's pid, 0 when the event has none
	Data  string // STREAM topics: the output, decoded as UTF-8
	// Raw is the whole message, with the fields of its kind
	// ("exit_status", "os_pid", "cpu", ...).
	Raw json.RawMessage
}

// Channel is a connection to gafferd's /channel/websocket: subscriptions to
// events, stats and output, and commands. Safe for concurrent use.
type Channel struct {
	ws     *websocket.Conn
	events chan ChannelEvent
	done   chan struct{} // closed when the connection has ended

	mu   sync.Mutex
	subs map[string][]chan error // pending SUB/UNSUB answers, by topic, in order
	cmds map[string]chan cmdAnswer
	err  error // why the connection ended; set before done is closed
}

type cmdAnswer struct {
	result json.RawMessage
	err    error
}

// Channel opens a channel to gafferd over the client's transport (TCP or
// unix socket). With an API key, the key is sent first as "AUTH:<key>".
// Events of subscribed topics are read with Next or Events: read them
// promptly, since a client that lets them pile up is disconnected.
func (c *Client) Channel(ctx context.Context) (*Channel, error) {
	ws, err := c.dialWS(ctx, "/channel/websocket")
	if err != nil {
		return nil, err
	}
	ch := &Channel{ws: ws, events: make(chan ChannelEvent, channelQueue), done: make(chan struct{}),
		subs: map[string][]chan error{}, cmds: map[string]chan cmdAnswer{}}
	if c.apiKey != "" {
		if err := ws.Write(ctx, websocket.MessageText, []byte("AUTH:"+c.apiKey)); err != nil {
			ws.CloseNow()
			return nil, err
		}
	}
	go ch.read()
	return ch, nil
}

// dialWS opens a websocket at path on gafferd. A refused upgrade returns
// an *Error, as REST calls do.
func (c *Client) dialWS(ctx context.Context, path string) (*websocket.Conn, error) {
	hc := *c.hc
	// The upgrade needs HTTP/1.1: an https transport would otherwise
	// negotiate HTTP/2, which has no Upgrade.
	if t, ok := hc.Transport.(*http.Transport); ok {
		t = t.Clone()
		var p http.Protocols
		p.SetHTTP1(true)
		t.Protocols = &p
		hc.Transport = t
	}
	h := http.Header{"User-Agent": {"gaffer-client"}}
	if c.apiKey != "" {
		h.Set("X-Api-Key", c.apiKey)
	}
	ws, resp, err := websocket.Dial(ctx, c.base+path, &websocket.DialOptions{HTTPClient: &hc, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			body, _ := io.ReadAll(resp.Body)
			return nil, errorOf(resp.StatusCode, body)
		}
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	return ws, nil
}

// read dispatches gafferd's messages until the connection ends.
func (ch *Channel) read() {
	var err error
	defer func() { ch.end(err) }()
	for {
		var b []byte
		_, b, err = ch.ws.Read(context.Background())
		if err != nil {
			return
		}
		var m struct {
			Event string          `json:"event"`
			Topic string          `json:"topic"`
			Data  json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue // not gaffer's: ignored
		}
		switch m.Event {
		case "gaffer:event":
			ev, ok := decodeEvent(m.Data)
			if !ok {
				continue
			}
			select {
			case ch.events <- ev:
			case <-ch.done:
				return
			}
		case "gaffer:subscription_success", "gaffer:subscription_error":
			var d struct {
				Reason string `json:"reason"`
			}
			json.Unmarshal(m.Data, &d)
			var answer error
			if m.Event == "gaffer:subscription_error" {
				answer = subscriptionError(m.Topic, d.Reason)
			}
			ch.mu.Lock()
			if waiting := ch.subs[m.Topic]; len(waiting) > 0 {
				waiting[0] <- answer
				ch.subs[m.Topic] = waiting[1:]
			}
			ch.mu.Unlock()
		case "gaffer:command_success", "gaffer:command_error":
			var d struct {
				ID     string          `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  struct {
					Errno  int    `json:"errno"`
					Reason string `json:"reason"`
				} `json:"error"`
			}
			json.Unmarshal(m.Data, &d)
			a := cmdAnswer{result: d.Result}
			if m.Event == "gaffer:command_error" {
				a = cmdAnswer{err: &Error{Status: d.Error.Errno, Errno: d.Error.Errno, Reason: d.Error.Reason}}
			}
			ch.mu.Lock()
			if w := ch.cmds[d.ID]; w != nil {
				w <- a
				delete(ch.cmds, d.ID)
			}
			ch.mu.Unlock()
		case "gaffer:error":
			var d struct {
				Error  string `json:"error"`
				Reason string `json:"reason"`
			}
			json.Unmarshal(m.Data, &d)
			if d.Error == "AUTH_REQUIRED" {
				err = &Error{Status: http.StatusUnauthorized, Reason: "unauthorized", Detail: "AUTH_REQUIRED: " + d.Reason}
				return
			}
			// invalid_msg cannot be tied to a request; this client sends none.
		}
	}
}

// end records why the connection ended and fails whoever waits.
func (ch *Channel) end(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.err != nil {
		return
	}
	if err == nil || errors.Is(err, net.ErrClosed) || websocket.CloseStatus(err) == websocket.StatusNormalClosure {
		err = ErrChannelClosed
	}
	if _, ok := errors.AsType[*Error](err); !ok && !errors.Is(err, ErrChannelClosed) {
		err = fmt.Errorf("channel: %w", err)
	}
	ch.err = err
	for topic, waiting := range ch.subs {
		for _, w := range waiting {
			w <- err
		}
		delete(ch.subs, topic)
	}
	for id, w := range ch.cmds {
		w <- cmdAnswer{err: err}
		delete(ch.cmds, id)
	}
	close(ch.done)
	close(ch.events)
	ch.ws.CloseNow()
}

// Err is why the channel ended (nil while it is open): ErrChannelClosed
// after Close, an *Error when gafferd refused the API key, else the
// connection's error (a websocket.CloseError with status 1008 when gafferd
// closed a slow consumer, 1001 when it shut down).
func (ch *Channel) Err() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.err
}

// Close closes the connection.
func (ch *Channel) Close() error {
	ch.ws.Close(websocket.StatusNormalClosure, "")
	<-ch.done
	return nil
}

// send writes one message, unless the channel has ended.
func (ch *Channel) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := ch.ws.Write(ctx, websocket.MessageText, b); err != nil {
		if e := ch.Err(); e != nil {
			return e
		}
		return fmt.Errorf("channel: %w", err)
	}
	return nil
}

// Subscribe subscribes to a topic (gaffer-events.md §3): "EVENTS",
// "EVENTS:<pattern>", "JOB:<job>", "PROCESS:<pid>", "STATS:<pid|job>",
// "STREAM:<pid>[.<label>]". Subscriptions are counted: N Subscribe need N
// Unsubscribe. A refusal is an *Error: errors.Is(err, ErrForbidden),
// supervisor.ErrNotFound (no such process or job) or
// supervisor.ErrStreamNotFound.
func (ch *Channel) Subscribe(ctx context.Context, topic string) error {
	return ch.subscription(ctx, "SUB", topic, nil)
}

// SubscribeStats subscribes to a STATS topic sampled every interval (at
// least 10 ms; gafferd's default, 100 ms, when 0).
func (ch *Channel) SubscribeStats(ctx context.Context, topic string, interval time.Duration) error {
	var ms any
	if interval > 0 {
		ms = float64(interval) / float64(time.Millisecond)
	}
	return ch.subscription(ctx, "SUB", topic, ms)
}

// Unsubscribe drops one subscription to topic.
func (ch *Channel) Unsubscribe(ctx context.Context, topic string) error {
	return ch.subscription(ctx, "UNSUB", topic, nil)
}

func (ch *Channel) subscription(ctx context.Context, verb, topic string, interval any) error {
	answer := make(chan error, 1)
	ch.mu.Lock()
	if ch.err != nil {
		ch.mu.Unlock()
		return ch.err
	}
	ch.subs[topic] = append(ch.subs[topic], answer)
	ch.mu.Unlock()
	data := map[string]any{"topic": topic}
	if interval != nil {
		data["interval"] = interval
	}
	if err := ch.send(ctx, map[string]any{"event": verb, "data": data}); err != nil {
		return err
	}
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// subscriptionError turns gafferd's refusal into an *Error.
func subscriptionError(topic, reason string) error {
	status := http.StatusBadRequest
	switch reason {
	case "forbidden":
		status = http.StatusForbidden
	case "invalid_process", "stream_not_found":
		status = http.StatusNotFound
	}
	name := reason
	if reason == "invalid_process" {
		name = "not_found"
	}
	return &Error{Status: status, Errno: status, Reason: name, Detail: fmt.Sprintf("subscribe %s: %s", topic, reason)}
}

// Command runs a channel command (gaffer-events.md §5.4: "jobs", "load",
// "send", ...) and returns its result object. A command error is an *Error
// with gaffer's errno and reason ("command_not_found", "bad_command",
// "not_found", ...).
func (ch *Channel) Command(ctx context.Context, name string, args []any, kwargs map[string]any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	id := newID()
	answer := make(chan cmdAnswer, 1)
	ch.mu.Lock()
	if ch.err != nil {
		ch.mu.Unlock()
		return nil, ch.err
	}
	ch.cmds[id] = answer
	ch.mu.Unlock()
	msg := map[string]any{"event": "CMD", "data": map[string]any{"identity": id, "name": name, "args": args, "kwargs": kwargs}}
	if err := ch.send(ctx, msg); err != nil {
		return nil, err
	}
	select {
	case a := <-answer:
		return a.result, a.err
	case <-ctx.Done():
		ch.mu.Lock()
		delete(ch.cmds, id)
		ch.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Next returns the next event of the subscribed topics. When the channel
// has ended it returns Err.
func (ch *Channel) Next(ctx context.Context) (ChannelEvent, error) {
	select {
	case ev, ok := <-ch.events:
		if !ok {
			return ChannelEvent{}, ch.Err()
		}
		return ev, nil
	case <-ctx.Done():
		return ChannelEvent{}, ctx.Err()
	}
}

// Events is the channel's events, closed when the connection ends (Err
// says why). Use either Events or Next.
func (ch *Channel) Events() <-chan ChannelEvent { return ch.events }

func decodeEvent(data json.RawMessage) (ChannelEvent, bool) {
	var d struct {
		Event string `json:"event"`
		Topic string `json:"topic"`
		Name  string `json:"name"`
		Pid   int    `json:"pid"`
		Data  string `json:"data"`
	}
	if json.Unmarshal(data, &d) != nil || d.Event == "" {
		return ChannelEvent{}, false
	}
	return ChannelEvent{Topic: d.Topic, Event: d.Event, Name: d.Name, Pid: d.Pid, Data: d.Data, Raw: data}, true
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ---- per-process channel -----------------------------------------------------

// ChannelMode says what a ProcessChannel does: read the process's output,
// write to its input, or both.
type ChannelMode int

const (
	ModeRead      ChannelMode = 1
	ModeWrite     ChannelMode = 2
	ModeReadWrite ChannelMode = 3
)

// ProcessChannel is gafferd's per-process websocket, /<pid>/channel[/<stream>]
// (gaffer-events.md §6). Read returns the process's output as it comes and
// io.EOF once the process has exited and everything was read; Write sends
// bytes to its stdin (or its custom stream) and returns once gafferd
// accepted them. One Read and any number of Writes may run concurrently.
type ProcessChannel struct {
	ws   *websocket.Conn
	data chan []byte   // output bodies
	done chan struct{} // closed when the connection has ended
	rest []byte        // unread part of the last body; owned by Read

	mu      sync.Mutex
	pending map[string]chan error // writes waiting for their answer
	err     error                 // why the connection ended; io.EOF for a process exit
}

// ProcessChannel opens pid's channel: stream "" reads the first output label
// and writes to stdin; an output label reads that label (writes still go to
// stdin); a custom stream reads and writes that stream. gafferd refuses an
// unknown pid or stream, and a read without redirected output: the error
// comes from the first Read or Write (an *Error with gaffer's reason:
// "not_found", "ENOENT", "EPERM"), or from this call when the client has an
// API key (the key is checked first).
func (c *Client) ProcessChannel(ctx context.Context, pid int, stream string, mode ChannelMode) (*ProcessChannel, error) {
	path := "/" + strconv.Itoa(pid) + "/channel"
	if stream != "" {
		path += "/" + stream
	}
	ws, err := c.dialWS(ctx, path+"?mode="+strconv.Itoa(int(mode)))
	if err != nil {
		return nil, err
	}
	pc := &ProcessChannel{ws: ws, data: make(chan []byte, channelQueue), done: make(chan struct{}),
		pending: map[string]chan error{}}
	go pc.read()
	if c.apiKey != "" {
		if err := pc.write(ctx, []byte("AUTH:"+c.apiKey)); err != nil {
			pc.Close()
			return nil, err
		}
	}
	return pc, nil
}

func (pc *ProcessChannel) read() {
	var err error
	defer func() { pc.end(err) }()
	for {
		var b []byte
		_, b, err = pc.ws.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				err = io.EOF // the process exited
			}
			return
		}
		f, ok := parseFrame(b)
		if !ok {
			continue
		}
		switch f.typ {
		case "message":
			select {
			case pc.data <- f.body:
			case <-pc.done:
				return
			}
		case "response", "error":
			var answer error
			if f.typ == "error" {
				var e struct {
					Error  string `json:"error"`
					Errno  int    `json:"errno"`
					Reason string `json:"reason"`
				}
				json.Unmarshal(f.body, &e)
				answer = &Error{Status: e.Errno, Errno: e.Errno, Reason: e.Error, Detail: e.Reason}
				if f.id == "gaffer_error" { // the channel was refused
					err = answer
					return
				}
			}
			pc.mu.Lock()
			if w := pc.pending[f.id]; w != nil {
				w <- answer
				delete(pc.pending, f.id)
			}
			pc.mu.Unlock()
		}
	}
}

func (pc *ProcessChannel) end(err error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.err != nil {
		return
	}
	if err == nil {
		err = ErrChannelClosed
	}
	pc.err = err
	for id, w := range pc.pending {
		if err == io.EOF {
			w <- fmt.Errorf("process exited: %w", io.ErrClosedPipe)
		} else {
			w <- err
		}
		delete(pc.pending, id)
	}
	close(pc.done)
	close(pc.data)
	pc.ws.CloseNow()
}

// Read reads the process's output.
func (pc *ProcessChannel) Read(p []byte) (int, error) {
	if len(pc.rest) == 0 {
		b, ok := <-pc.data
		if !ok {
			pc.mu.Lock()
			defer pc.mu.Unlock()
			return 0, pc.err
		}
		pc.rest = b
	}
	n := copy(p, pc.rest)
	pc.rest = pc.rest[n:]
	return n, nil
}

// Write sends p as one frame and waits until gafferd has queued it for the
// process.
func (pc *ProcessChannel) Write(p []byte) (int, error) {
	if err := pc.write(context.Background(), p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteContext is Write with a context.
func (pc *ProcessChannel) WriteContext(ctx context.Context, p []byte) error {
	return pc.write(ctx, p)
}

func (pc *ProcessChannel) write(ctx context.Context, p []byte) error {
	id := newID()
	answer := make(chan error, 1)
	pc.mu.Lock()
	if pc.err != nil {
		err := pc.err
		pc.mu.Unlock()
		if err == io.EOF {
			return fmt.Errorf("process exited: %w", io.ErrClosedPipe)
		}
		return err
	}
	pc.pending[id] = answer
	pc.mu.Unlock()
	if err := pc.ws.Write(ctx, websocket.MessageBinary, appendFrame("message", id, p)); err != nil {
		select {
		case err := <-answer: // the connection ended meanwhile: say why
			return err
		default:
		}
		return fmt.Errorf("process channel: %w", err)
	}
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		pc.mu.Lock()
		delete(pc.pending, id)
		pc.mu.Unlock()
		return ctx.Err()
	}
}

// Close closes the connection.
func (pc *ProcessChannel) Close() error {
	pc.ws.Close(websocket.StatusNormalClosure, "")
	<-pc.done
	return nil
}

// frame is one "V1 <type> <id>\0<body>" message.
type frame struct {
	typ, id string
	body    []byte
}

// parseFrame reads a V1 frame: a header of exactly three whitespace-
// separated tokens, "V1", the type and the id, one NUL, then the body.
func parseFrame(b []byte) (frame, bool) {
	head, body, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return frame{}, false
	}
	f := strings.Fields(string(head))
	if len(f) != 3 || f[0] != "V1" {
		return frame{}, false
	}
	return frame{typ: f[1], id: f[2], body: body}, true
}

func appendFrame(typ, id string, body []byte) []byte {
	b := make([]byte, 0, len(typ)+len(id)+5+len(body))
	b = append(b, "V1 "+typ+" "+id+"\x00"...)
	return append(b, body...)
}
