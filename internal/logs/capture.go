package logs

import "bytes"

// Capture mode tokens (supervisor's ProcessCommunicationEvent).
var (
	BeginToken = []byte("<!--XSUPERVISOR:BEGIN-->")
	EndToken   = []byte("<!--XSUPERVISOR:END-->")
)

// Capture splits one output stream into ordinary output and the captured
// blocks between BeginToken and EndToken, as supervisor's POutputDispatcher
// (record_output, toggle_capturemode) does with stdout_capture_maxbytes: a
// token split across reads is found, and the bytes that might start a token
// are held back until more output arrives. The tokens themselves go
// nowhere; a block keeps its last Max bytes. With Max <= 0 (capture mode
// off) output passes through untouched.
//
// A Capture belongs to the one goroutine reading its stream.
type Capture struct {
	Max       int64 // capture_maxbytes; 0 = off
	capturing bool
	pending   []byte // output not yet classified (supervisor's output_buffer)
	captured  []byte // the current block, its last Max bytes
}

// NewCapture returns a Capture keeping at most max bytes of a block.
func NewCapture(max int64) *Capture { return &Capture{Max: max} }

// Capturing reports whether the stream is inside a block.
func (c *Capture) Capturing() bool { return c.capturing }

// Feed classifies data. logged receives output outside capture blocks, in
// order; comm receives each completed block. Neither may keep the slice it
// is given.
func (c *Capture) Feed(data []byte, logged, comm func([]byte)) {
	if c.Max <= 0 {
		if len(data) > 0 {
			logged(data)
		}
		return
	}
	c.pending = append(c.pending, data...)
	// Each round consumes a token or ends the loop; the bound only guards
	// against a bug turning this into a spin.
	for range len(c.pending) + 2 {
		token := BeginToken
		if c.capturing {
			token = EndToken
		}
		if len(c.pending) < len(token) {
			// Not enough to decide. (supervisor waits for one byte more
			// than a token, so an end token that is the last output of a
			// process stays unseen until more output comes.)
			return
		}
		buf := c.pending
		c.pending = nil
		if i := bytes.Index(buf, token); i >= 0 {
			c.record(buf[:i], logged)
			c.toggle(comm)
			if rest := buf[i+len(token):]; len(rest) > 0 {
				c.pending = append([]byte(nil), rest...)
				continue
			}
			return
		}
		if k := prefixAtEnd(buf, token); k > 0 {
			c.pending = append([]byte(nil), buf[len(buf)-k:]...)
			buf = buf[:len(buf)-k]
		}
		c.record(buf, logged)
		return
	}
}

// Flush ends the stream: output held back because it might have started a
// token goes to logged. A block without its end token is dropped, as
// supervisord drops it. (supervisord also drops the held-back bytes; they
// are ordinary output, so they are kept here.)
func (c *Capture) Flush(logged func([]byte)) {
	if !c.capturing && len(c.pending) > 0 {
		logged(c.pending)
	}
	c.pending, c.captured, c.capturing = nil, nil, false
}

func (c *Capture) record(data []byte, logged func([]byte)) {
	if len(data) == 0 {
		return
	}
	if !c.capturing {
		logged(data)
		return
	}
	c.captured = append(c.captured, data...)
	if over := int64(len(c.captured)) - c.Max; over > 0 {
		c.captured = append(c.captured[:0], c.captured[over:]...)
	}
}

func (c *Capture) toggle(comm func([]byte)) {
	c.capturing = !c.capturing
	if !c.capturing {
		block := c.captured
		c.captured = nil
		if block == nil {
			block = []byte{}
		}
		comm(block)
	}
}

// prefixAtEnd is the length of the longest proper prefix of token that ends
// buf (medusa's find_prefix_at_end).
func prefixAtEnd(buf, token []byte) int {
	for k := min(len(token)-1, len(buf)); k > 0; k-- {
		if bytes.HasSuffix(buf, token[:k]) {
			return k
		}
	}
	return 0
}
