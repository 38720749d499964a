package eventlistener

import "bytes"

// Capture mode tokens (supervisor's ProcessCommunicationEvent).
var (
	beginToken = []byte("<!--XSUPERVISOR:BEGIN-->")
	endToken   = []byte("<!--XSUPERVISOR:END-->")
)

// capture splits one output stream into ordinary output and the captured
// blocks between beginToken and endToken, as supervisor's POutputDispatcher
// (record_output, toggle_capturemode) does: a token split across reads is
// found, and the bytes that might start a token are held back until more
// output arrives. With max == 0 (capture mode off) output passes through.
// Owned by the manager's loop.
type capture struct {
	max       int64 // capture_maxbytes; 0 = off
	capturing bool
	pending   []byte // output not yet classified (supervisor's output_buffer)
	captured  []byte // the current block, its last max bytes
}

// feed classifies data. logged receives output outside capture blocks, in
// order; comm receives each completed block.
func (c *capture) feed(data []byte, logged, comm func([]byte)) {
	if c.max <= 0 {
		if len(data) > 0 {
			logged(data)
		}
		return
	}
	c.pending = append(c.pending, data...)
	// Each round consumes a token or ends the loop; the bound only guards
	// against a bug turning this into a spin.
	for range len(c.pending) + 2 {
		token := beginToken
		if c.capturing {
			token = endToken
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

func (c *capture) record(data []byte, logged func([]byte)) {
	if len(data) == 0 {
		return
	}
	if !c.capturing {
		logged(data)
		return
	}
	c.captured = append(c.captured, data...)
	if over := int64(len(c.captured)) - c.max; over > 0 {
		c.captured = append(c.captured[:0], c.captured[over:]...)
	}
}

func (c *capture) toggle(comm func([]byte)) {
	c.capturing = !c.capturing
	if !c.capturing {
		block := c.captured
		c.captured = nil
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
