package ws

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// Frame types of the per-process channel (gaffer-events.md §6).
const (
	frameMessage  = "message"
	frameResponse = "response"
	frameError    = "error"
)

// frame is one message of a per-process channel: "V1 <type> <id>\0<body>".
type frame struct {
	typ, id string
	body    []byte
}

// errBadFrame is a message that is not a V1 frame.
var errBadFrame = errors.New("invalid frame")

// parseFrame reads a V1 frame: an ASCII header of exactly three
// whitespace-separated tokens, "V1", the type and the id, then one NUL and
// the body. The body is everything after the first NUL, NULs included.
func parseFrame(b []byte) (frame, error) {
	head, body, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return frame{}, fmt.Errorf("%w: no NUL after the header", errBadFrame)
	}
	fields := strings.Fields(string(head))
	if len(fields) != 3 || fields[0] != "V1" {
		return frame{}, fmt.Errorf("%w: header %.64q is not \"V1 <type> <id>\"", errBadFrame, head)
	}
	for _, r := range string(head) {
		if r > 0x7e {
			return frame{}, fmt.Errorf("%w: header is not ASCII", errBadFrame)
		}
	}
	return frame{typ: fields[1], id: fields[2], body: body}, nil
}

// appendFrame encodes a frame.
func appendFrame(dst []byte, typ, id string, body []byte) []byte {
	dst = append(dst, "V1 "...)
	dst = append(dst, typ...)
	dst = append(dst, ' ')
	dst = append(dst, id...)
	dst = append(dst, 0)
	return append(dst, body...)
}

// newID is a random 32-hex-digit frame id, as gaffer's clients make them.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// procError is an error frame body: {"error": code, "errno": n}.
func procError(code string, errno int) []byte {
	return []byte(`{"error":` + strconv.Quote(code) + `,"errno":` + strconv.Itoa(errno) + `}`)
}

// openError is the error frame of a failure at open, from an error.
func openError(err error) []byte {
	e := errorOf(err)
	return procError(e.Reason, e.Errno)
}

// Channel modes: a bitmask.
const (
	modeRead  = 1
	modeWrite = 2
)

func (h *Handler) serveProcess(w http.ResponseWriter, r *http.Request, pidText, label string) {
	ws, err := h.accept(w, r)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc := &conn{h: h, ws: ws, ctx: ctx, cancel: cancel,
		auth:    authorizer{r: r, fn: h.opts.Authorize},
		out:     make(chan []byte, h.opts.QueueSize),
		closing: make(chan closeReq, 1)}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		pc.writeFrames()
	}()
	pc.serveProcess(r, pidText, label)
	cancel()
	pc.wg.Wait()
	<-writerDone
	ws.CloseNow()
}

// writeFrames is write for binary frames.
func (c *conn) writeFrames() {
	defer c.cancel()
	send := func(msg []byte) error {
		ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageBinary, msg)
	}
	for {
		select {
		case req := <-c.closing:
			// Frames already queued go first: the output a process wrote
			// before exiting, or the answer to a refused open.
			for {
				select {
				case msg := <-c.out:
					if send(msg) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			if req.last != nil && send(req.last) != nil {
				return
			}
			c.ws.Close(req.code, req.reason)
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

// fail sends an open error and closes.
func (c *conn) fail(body []byte) {
	c.close(websocket.StatusPolicyViolation, "", appendFrame(nil, frameError, "gaffer_error", body))
	<-c.ctx.Done()
}

func (c *conn) serveProcess(r *http.Request, pidText, label string) {
	mode := modeRead | modeWrite
	if m := r.URL.Query().Get("mode"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 3 {
			c.fail(procError("bad_mode", 400))
			return
		}
		mode = n
	}
	if c.h.opts.KeyAuth != nil {
		_, b, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		f, err := parseFrame(b)
		key, isAuth := strings.CutPrefix(string(f.body), "AUTH:")
		if err == nil && isAuth {
			c.auth.key, err = c.h.opts.KeyAuth(key)
		} else {
			err = rest.ErrUnauthorized
		}
		if err != nil {
			c.fail(procError("AUTH_REQUIRED", 403))
			return
		}
		c.enqueue(appendFrame(nil, frameResponse, f.id, []byte("OK")), nil)
	}
	// Subscribe to exits before looking the process up, so that an exit
	// in between is not missed.
	exits := c.h.subscribeExits()
	defer c.h.release(exits)
	info, err := c.process(pidText)
	if err != nil {
		c.fail(openError(err))
		return
	}
	// What the channel reads, and where it writes.
	readFrom, writeTo := "", "stdin"
	switch {
	case label == "":
		if len(info.RedirectOutput) > 0 {
			readFrom = info.RedirectOutput[0]
		}
	case slices.Contains(info.RedirectOutput, label):
		readFrom = label
	case slices.Contains(info.CustomStreams, label):
		readFrom, writeTo = label, label
	default:
		c.fail(procError("ENOENT", 404))
		return
	}
	writable := mode&modeWrite != 0 && (writeTo != "stdin" || info.RedirectInput)
	if mode&modeRead != 0 {
		if err := c.auth.allow(rest.Read, info.Name); err != nil {
			c.fail(openError(err))
			return
		}
		if readFrom == "" {
			c.fail(procError("EPERM", 403))
			return
		}
	}
	if mode&modeWrite != 0 {
		if err := c.auth.allow(rest.Write, info.Name); err != nil {
			c.fail(openError(err))
			return
		}
	}
	var tail *supervisor.Tail
	var output *events.Sub
	if mode&modeRead != 0 {
		output = c.h.subscribe(true, strconv.Itoa(info.Pid)+"."+readFrom)
		defer c.h.release(output)
		if tail, err = c.h.sup.Output(c.ctx, info.Pid, readFrom); err != nil {
			c.fail(openError(err))
			return
		}
	}
	// The reader writes the client's frames to the process.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.readFrames(info.Pid, writeTo, writable)
	}()

	var outC <-chan events.Event
	if output != nil {
		outC = output.C()
	}
	for {
		select {
		case e, ok := <-outC:
			if !ok {
				if errors.Is(output.Err(), events.ErrOverflow) {
					c.close(StatusSlowConsumer, fmt.Sprintf("slow consumer: more than %d messages queued", c.h.opts.QueueSize), nil)
				}
				<-c.ctx.Done()
				return
			}
			if !c.enqueue(appendFrame(nil, frameMessage, newID(), e.Data), nil) {
				return
			}
		case e := <-exits.C():
			if e.Pid != info.Pid || e.Name != info.Name {
				continue
			}
			// Everything the process wrote is published before its
			// stream's tail closes: wait for that, forward the rest, close.
			if tail != nil {
				c.waitClosed(tail)
				for drained := false; !drained; {
					select {
					case e, ok := <-outC:
						if !ok {
							drained = true
							break
						}
						c.enqueue(appendFrame(nil, frameMessage, newID(), e.Data), nil)
					default:
						drained = true
					}
				}
			}
			c.close(websocket.StatusNormalClosure, "process exited", nil)
			<-c.ctx.Done()
			return
		case <-c.h.sup.Done():
			c.close(websocket.StatusGoingAway, "gafferd is shutting down", nil)
			<-c.ctx.Done()
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// waitClosed waits until a stream's tail has seen its end of file.
func (c *conn) waitClosed(t *supervisor.Tail) {
	for {
		_, _, wake, closed := t.Read(math.MaxInt64) // no data: only the state
		if closed {
			return
		}
		select {
		case <-wake:
		case <-c.ctx.Done():
			return
		}
	}
}

// readFrames serves the client's frames until the connection ends: each
// "message" frame's body is written to the process and answered.
func (c *conn) readFrames(pid int, stream string, writable bool) {
	defer c.cancel()
	for {
		_, b, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		f, err := parseFrame(b)
		if err != nil {
			c.enqueue(appendFrame(nil, frameError, "gaffer_error", procErrorReason("EINVAL", 400, err.Error())), nil)
			continue
		}
		if f.typ != frameMessage {
			c.enqueue(appendFrame(nil, frameError, f.id, procErrorReason("EINVAL", 400, "frame type must be message")), nil)
			continue
		}
		if !writable {
			c.enqueue(appendFrame(nil, frameError, f.id, procError("EPERM", 403)), nil)
			continue
		}
		if err := c.h.sup.Write(c.ctx, pid, stream, f.body); err != nil {
			c.enqueue(appendFrame(nil, frameError, f.id, procErrorReason("EIO", 500, err.Error())), nil)
			continue
		}
		c.enqueue(appendFrame(nil, frameResponse, f.id, []byte("OK")), nil)
	}
}

func procErrorReason(code string, errno int, reason string) []byte {
	b, _ := json.Marshal(map[string]any{"error": code, "errno": errno, "reason": reason})
	return b
}
