package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// MaxBody is the largest HTTP request body Do carries to another node.
const MaxBody = 1 << 20

// A control message (gaffer.api.<node> requests and their replies) is one
// frame: the 4 bytes "GAF1", a big-endian uint32 length, that many bytes of
// JSON head (requestHead or responseHead), then the raw body. Keeping the
// body raw (not base64 in JSON) lets a 1 MiB body fit the message size the
// embedded server allows.
const frameMagic = "GAF1"

// requestHead is the head of a serialized HTTP request.
type requestHead struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"` // path and query, as in the request line
	Header http.Header `json:"header,omitempty"`
	From   string      `json:"from,omitempty"` // the sending node's name
}

// responseHead is the head of a serialized HTTP response. Error is set
// when the node could not run the request at all.
type responseHead struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Error  string      `json:"error,omitempty"`
}

func encodeFrame(head any, body []byte) ([]byte, error) {
	h, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 8+len(h)+len(body))
	b = append(b, frameMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h)))
	b = append(b, h...)
	return append(b, body...), nil
}

func decodeFrame(b []byte, head any) (body []byte, err error) {
	if len(b) < 8 || string(b[:4]) != frameMagic {
		return nil, errors.New("not a gaffer control message (missing GAF1 header)")
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if uint64(n) > uint64(len(b)-8) {
		return nil, fmt.Errorf("control message head of %d bytes overruns the %d-byte message", n, len(b))
	}
	if err := json.Unmarshal(b[8:8+n], head); err != nil {
		return nil, fmt.Errorf("control message head: %w", err)
	}
	return b[8+n:], nil
}

// decodeRequest parses and checks a serialized request.
func decodeRequest(b []byte) (requestHead, []byte, error) {
	var h requestHead
	body, err := decodeFrame(b, &h)
	if err != nil {
		return h, nil, err
	}
	switch {
	case h.Method == "" || strings.ContainsAny(h.Method, " \t\r\n"):
		return h, nil, fmt.Errorf("control request: bad method %q", h.Method)
	case !strings.HasPrefix(h.URI, "/"):
		return h, nil, fmt.Errorf("control request: path %q does not start with /", h.URI)
	case len(body) > MaxBody:
		return h, nil, fmt.Errorf("control request: body of %d bytes exceeds %d", len(body), MaxBody)
	}
	return h, body, nil
}

// decodeResponse parses and checks a serialized response.
func decodeResponse(b []byte) (responseHead, []byte, error) {
	var h responseHead
	body, err := decodeFrame(b, &h)
	if err != nil {
		return h, nil, err
	}
	if h.Error == "" && (h.Status < 100 || h.Status > 999) {
		return h, nil, fmt.Errorf("control response: bad status %d", h.Status)
	}
	return h, body, nil
}

// token makes s usable as one NATS subject token: empty becomes "_", and
// the characters NATS gives a meaning to ('.', '*', '>') or forbids
// (white space, control characters) become '_'.
func token(s string) string {
	if s == "" {
		return "_"
	}
	if !strings.ContainsFunc(s, badTokenRune) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if badTokenRune(r) {
			return '_'
		}
		return r
	}, s)
}

func badTokenRune(r rune) bool {
	return r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f
}

// ErrBadName is the error of a node name that is not one subject token.
var ErrBadName = errors.New("cluster: bad node name")

// checkName reports whether a node name can be used as it is.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadName)
	}
	if token(name) != name {
		return fmt.Errorf("%w %q: it may not contain '.', '*', '>' or white space (try %q)", ErrBadName, name, token(name))
	}
	return nil
}
