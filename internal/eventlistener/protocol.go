package eventlistener

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

//go:generate stringer -type=listenerState -linecomment

// listenerState is a listener's protocol state, with supervisor's codes
// (supervisor-semantics.md §1).
type listenerState int

const (
	listenerReady        listenerState = 10 // READY
	listenerBusy         listenerState = 20 // BUSY
	listenerAcknowledged listenerState = 30 // ACKNOWLEDGED
	listenerUnknown      listenerState = 40 // UNKNOWN
)

const (
	readyToken  = "READY\n"
	resultStart = len("RESULT ") // the prefix itself is not checked, as in supervisor

	// maxResultLine bounds a result line still waiting for its newline: a
	// listener writing without end becomes UNKNOWN instead of growing our
	// memory (supervisor buffers without limit). Other states decide after
	// at most len(readyToken) bytes, and result bodies are counted, not kept.
	maxResultLine = 64 << 10
	// keepResult is how much of a result body is kept: only "OK" matters.
	keepResult = 16
)

// outcome is what a chunk of listener output did to the event in flight.
type outcome int

const (
	noOutcome outcome = iota
	processed         // RESULT with body "OK"
	rejected          // RESULT with any other body: send the event again
	broken            // bad result line while BUSY: UNKNOWN, send the event again
)

// protocol parses one listener process's stdout incrementally (reads may
// split or join protocol lines anywhere), as supervisor's
// PEventListenerDispatcher does:
//
//	     spawn
//	       │
//	       ▼      READY\n           event written
//	ACKNOWLEDGED ─────────► READY ─────────────────► BUSY
//	  │    ▲                  │                       │  │
//	  │    └──────────────────┼── RESULT <n>\n + n ───┘  │
//	  │ not READY\n           │   bytes (OK or not)      │ result line without
//	  ▼                       │ any output               │ an integer length
//	UNKNOWN ◄─────────────────┴──────────────────────────┘
//	(no events until the process is restarted)
//
// It is a value owned by the manager's loop; a new one starts with each
// listener process.
type protocol struct {
	state     listenerState
	buf       []byte // output not consumed yet
	resultLen int    // BUSY: -1 while reading the result line, else the body length
	resultGot int    // BUSY: body bytes read so far
	result    []byte // BUSY: the first keepResult bytes of the body
	reason    string // why it went UNKNOWN, for the log
}

func newProtocol() protocol {
	return protocol{state: listenerAcknowledged, resultLen: -1}
}

// sent records that an event was written to a READY listener.
func (p *protocol) sent() {
	p.state = listenerBusy
	p.resultLen, p.resultGot, p.result = -1, 0, p.result[:0]
}

// feed consumes output of the listener. At most one result can complete in
// one call: after a result the listener must say READY and be sent a new
// event before it can answer again.
func (p *protocol) feed(data []byte) outcome {
	if p.state == listenerUnknown {
		return noOutcome // terminal: output is only logged
	}
	p.buf = append(p.buf, data...)
	out := noOutcome
	for len(p.buf) > 0 && p.state != listenerUnknown {
		switch p.state {
		case listenerAcknowledged:
			if len(p.buf) < len(readyToken) {
				return out // not enough to decide
			}
			if !bytes.HasPrefix(p.buf, []byte(readyToken)) {
				p.fail(fmt.Sprintf("expected READY, got %q", clip(p.buf)))
				return out
			}
			p.state = listenerReady
			p.buf = p.buf[len(readyToken):]
		case listenerReady:
			// Nothing was sent yet, so nothing is expected: be strict.
			p.fail(fmt.Sprintf("output while READY: %q", clip(p.buf)))
			return out
		case listenerBusy:
			if p.resultLen < 0 {
				i := bytes.IndexByte(p.buf, '\n')
				if i < 0 {
					if len(p.buf) > maxResultLine {
						p.fail(fmt.Sprintf("result line longer than %d bytes", maxResultLine))
						return broken
					}
					return out
				}
				line := p.buf[:i]
				p.buf = p.buf[i+1:]
				n, err := resultLength(line)
				if err != nil {
					p.fail(fmt.Sprintf("bad result line %q", clip(line)))
					return broken
				}
				p.resultLen = n
			}
			take := min(p.resultLen-p.resultGot, len(p.buf))
			if keep := min(take, keepResult-len(p.result)); keep > 0 {
				p.result = append(p.result, p.buf[:keep]...)
			}
			p.resultGot += take
			p.buf = p.buf[take:]
			if p.resultGot < p.resultLen {
				return out
			}
			if p.resultLen == 2 && string(p.result) == "OK" {
				out = processed
			} else {
				out = rejected
			}
			p.state = listenerAcknowledged
			p.resultLen, p.resultGot = -1, 0
		}
	}
	p.compact()
	return out
}

// lastResult is the body of the last result, for the log.
func (p *protocol) lastResult() string { return string(p.result) }

func (p *protocol) fail(reason string) {
	p.state = listenerUnknown
	p.reason = reason
	p.buf = nil
}

// compact keeps the pending buffer from pinning a large backing array.
func (p *protocol) compact() {
	if len(p.buf) == 0 {
		p.buf = nil
	}
}

// resultLength parses the length of "RESULT <n>": everything after the
// first 7 bytes, as Python's int() reads it (surrounding white space and a
// sign allowed). A negative length is refused.
func resultLength(line []byte) (int, error) {
	if len(line) < resultStart {
		return 0, fmt.Errorf("short result line")
	}
	s := strings.TrimSpace(string(line[resultStart:]))
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("negative result length %d", n)
	}
	return n, nil
}

// clip shortens listener output quoted in log lines.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
