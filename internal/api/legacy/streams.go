package legacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// output follows one output stream of a process: chunks from a bounded
// output subscription, and the end of the stream from the process's
// in-memory tail, which is closed once the pipe reached EOF (the process
// exited). The pump publishes each chunk before it closes the tail, so
// when the tail is closed every chunk is already queued.
type output struct {
	sub  *events.Sub
	tail *supervisor.Tail
}

// follow subscribes to a process's stream label.
func (h *Handler) follow(ctx context.Context, pid int, label string) (*output, error) {
	sub := h.sup.SubscribeOutput(h.queue, supervisor.CloseSub, strconv.Itoa(pid)+"."+label)
	tail, err := h.sup.Output(ctx, pid, label)
	if err != nil {
		sub.Close()
		return nil, err
	}
	return &output{sub: sub, tail: tail}, nil
}

func (o *output) close() { o.sub.Close() }

// ended returns a channel closed at the tail's next change, and whether
// the stream has already ended.
func (o *output) ended() (<-chan struct{}, bool) {
	_, _, wake, closed := o.tail.Read(1 << 62) // offset past the end: copies nothing
	return wake, closed
}

// rest returns the chunks still queued once the stream has ended.
func (o *output) rest() [][]byte {
	var out [][]byte
	for {
		select {
		case e, ok := <-o.sub.C():
			if !ok {
				return out
			}
			out = append(out, e.Data)
		default:
			return out
		}
	}
}

// stream is GET /streams/<pid>/<label>?feed=longpoll|eventsource|continuous:
// the process's output on that label from now on, as raw bytes. longpoll
// (default) answers the first chunk; eventsource sends each chunk as an
// event named after the label; continuous passes the bytes through in
// chunked encoding. The answer ends when the process exits, the client
// leaves, or it falls QueueSize chunks behind.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, rt route) error {
	feed, hb, err := h.feedAndHeartbeat(r, "longpoll", "longpoll", "eventsource", "continuous")
	if err != nil {
		return err
	}
	ctx := r.Context()
	p, err := h.sup.Process(ctx, rt.pid)
	if err != nil {
		return err
	}
	if len(p.RedirectOutput) == 0 {
		return legacyError(http.StatusBadRequest, "io_not_redirected", fmt.Sprintf("process %d: no output is redirected", rt.pid))
	}
	if !slices.Contains(p.RedirectOutput, rt.label) {
		return legacyError(http.StatusNotFound, "io_not_found", fmt.Sprintf("process %d has no output %q (it has %v)", rt.pid, rt.label, p.RedirectOutput))
	}
	o, err := h.follow(ctx, rt.pid, rt.label)
	if err != nil {
		return err
	}
	defer o.close()
	ctype := "application/octet-stream"
	if feed == "eventsource" {
		ctype = "text/event-stream"
	}
	out := startStream(w, ctype)
	send := func(data []byte) error {
		if feed == "eventsource" {
			return out.write(sseEvent(rt.label, data))
		}
		return out.write(data)
	}
	beat, stop := ticker(hb)
	defer stop()
	for {
		wake, closed := o.ended()
		if closed {
			for _, d := range o.rest() {
				if send(d) != nil || feed == "longpoll" {
					return nil
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.sup.Done():
			return nil
		case <-wake:
		case <-beat:
			if out.write([]byte("\n")) != nil {
				return nil
			}
		case e, ok := <-o.sub.C():
			if !ok {
				return nil // overflowed: the reader was too slow
			}
			if send(e.Data) != nil || feed == "longpoll" {
				return nil
			}
		}
	}
}

// writeStdin is POST /streams/<pid>/stdin: the raw body goes to the
// process's stdin, nothing added.
func (h *Handler) writeStdin(w http.ResponseWriter, r *http.Request, rt route) error {
	if rt.label != "stdin" {
		return legacyError(http.StatusNotFound, "not_found", fmt.Sprintf("stream %q: only stdin can be written", rt.label))
	}
	body, err := io.ReadAll(r.Body)
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		return errTooLarge
	}
	if err != nil {
		return badValue("reading body: " + err.Error())
	}
	if err := h.sup.Write(r.Context(), rt.pid, "stdin", body); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// wstream is the WebSocket /wstreams/<pid>: each text (or binary) message
// from the client is written to stdin; the process's first output label is
// sent as text messages. The socket closes (status 1000, "process
// exited") when the process exits, and with status 1008 when stdin is not
// redirected or a write fails, or 1011 when the client falls behind.
func (h *Handler) wstream(w http.ResponseWriter, r *http.Request, rt route) error {
	p, err := h.sup.Process(r.Context(), rt.pid)
	if err != nil {
		return err
	}
	var o *output
	var exits *events.Sub
	if len(p.RedirectOutput) > 0 {
		if o, err = h.follow(r.Context(), rt.pid, p.RedirectOutput[0]); err != nil {
			return err
		}
		defer o.close()
	} else {
		// No output to see the end by: watch for the exit itself.
		exits = h.sup.Subscribe(h.queue, supervisor.CloseSub, "exit")
		defer exits.Close()
		if _, err := h.sup.Process(r.Context(), rt.pid); err != nil {
			return err // exited before the subscription
		}
	}
	c, err := websocket.Accept(w, r, nil) // checks Origin against Host
	if err != nil {
		return nil // Accept has answered
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer cancel()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := h.sup.Write(ctx, rt.pid, "stdin", data); err != nil {
				c.Close(websocket.StatusPolicyViolation, closeReason(err))
				return
			}
		}
	}()
	defer func() { c.CloseNow(); <-readerDone }()

	var chunks <-chan events.Event
	var exitC <-chan events.Event
	if o != nil {
		chunks = o.sub.C()
	} else {
		exitC = exits.C()
	}
	for {
		var wake <-chan struct{}
		if o != nil {
			var closed bool
			if wake, closed = o.ended(); closed {
				for _, d := range o.rest() {
					if c.Write(ctx, websocket.MessageText, d) != nil {
						return nil
					}
				}
				c.Close(websocket.StatusNormalClosure, "process exited")
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.sup.Done():
			c.Close(websocket.StatusGoingAway, "supervisor stopped")
			return nil
		case <-wake:
		case e, ok := <-chunks:
			if !ok {
				c.Close(websocket.StatusInternalError, "output queue overflowed: reader too slow")
				return nil
			}
			if c.Write(ctx, websocket.MessageText, e.Data) != nil {
				return nil
			}
		case e, ok := <-exitC:
			if !ok {
				c.Close(websocket.StatusInternalError, "event queue overflowed")
				return nil
			}
			if e.Pid == rt.pid {
				c.Close(websocket.StatusNormalClosure, "process exited")
				return nil
			}
		}
	}
}

// closeReason fits an error into a close frame's 123-byte reason.
func closeReason(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
