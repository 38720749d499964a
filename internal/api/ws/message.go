package ws

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// request is one decoded client message (gaffer-events.md §5.2).
type request struct {
	kind     string          // "NOP", "SUB", "UNSUB" or "CMD"
	topic    string          // SUB, UNSUB
	interval json.RawMessage // SUB: optional "interval" in milliseconds (STATS topics)
	identity json.RawMessage // CMD: echoed as "id" in the answer
	name     string          // CMD
	args     json.RawMessage // CMD: optional, checked by the command
	kwargs   json.RawMessage // CMD: optional, checked by the command
}

// invalid_msg reasons, spelled as gaffer spells them.
const (
	reasonInvalidJSON     = "invalid_json"
	reasonEventMissing    = "event_missing"
	reasonDataMissing     = "data_missing"
	reasonTopicMissing    = "topic_missing"
	reasonNameMissing     = "cmd_name_mssing" // sic
	reasonIdentityMissing = "cmd_identity_missing"
	reasonUnknownCmd      = "unknown_cmd"
)

// decodeMessage reads one client message. On failure it returns the
// invalid_msg reason to answer with.
func decodeMessage(b []byte) (request, string) {
	var m struct {
		Event json.RawMessage `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil || !isObject(b) {
		return request{}, reasonInvalidJSON
	}
	var kind string
	if json.Unmarshal(m.Event, &kind) != nil || kind == "" {
		return request{}, reasonEventMissing
	}
	req := request{kind: kind}
	switch kind {
	case "NOP":
		return req, ""
	case "SUB", "UNSUB", "CMD":
	default:
		return request{}, reasonUnknownCmd
	}
	if !isObject(m.Data) {
		return request{}, reasonDataMissing
	}
	var d struct {
		Topic    json.RawMessage `json:"topic"`
		Interval json.RawMessage `json:"interval"`
		Identity json.RawMessage `json:"identity"`
		Name     json.RawMessage `json:"name"`
		Args     json.RawMessage `json:"args"`
		Kwargs   json.RawMessage `json:"kwargs"`
	}
	if json.Unmarshal(m.Data, &d) != nil {
		return request{}, reasonDataMissing
	}
	if kind == "CMD" {
		if json.Unmarshal(d.Name, &req.name) != nil || req.name == "" {
			return request{}, reasonNameMissing
		}
		if len(d.Identity) == 0 || string(d.Identity) == "null" {
			return request{}, reasonIdentityMissing
		}
		req.identity, req.args, req.kwargs = d.Identity, d.Args, d.Kwargs
		return req, ""
	}
	if json.Unmarshal(d.Topic, &req.topic) != nil || strings.TrimSpace(req.topic) == "" {
		return request{}, reasonTopicMissing
	}
	req.interval = d.Interval
	return req, ""
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// Topic sources (gaffer-events.md §3).
const (
	srcEvents  = "EVENTS"
	srcJob     = "JOB"
	srcProcess = "PROCESS"
	srcStats   = "STATS"
	srcStream  = "STREAM"
)

// topic is a parsed subscription topic: the source in upper case and the
// target as given (job names and labels keep their case).
type topic struct {
	source, target string
}

// String is the canonical form, used as the key of a connection's
// subscriptions and as "topic" in the events delivered.
func (t topic) String() string {
	if t.target == "" {
		return t.source
	}
	return t.source + ":" + t.target
}

// parseTopic reads SOURCE or SOURCE:target. Only EVENTS may go without a
// target.
func parseTopic(s string) (topic, bool) {
	src, target, hasTarget := strings.Cut(strings.TrimSpace(s), ":")
	t := topic{source: strings.ToUpper(src), target: target}
	if hasTarget && target == "" || !utf8.ValidString(target) {
		return topic{}, false
	}
	switch t.source {
	case srcEvents:
		return t, true
	case srcJob, srcProcess, srcStats, srcStream:
		return t, target != ""
	}
	return topic{}, false
}

// pidTarget splits a STREAM target "<pid>" or "<pid>.<label>".
func pidTarget(target string) (pid, label string, ok bool) {
	pid, label, hasLabel := strings.Cut(target, ".")
	if !isDigits(pid) || hasLabel && label == "" {
		return "", "", false
	}
	return pid, label, true
}

// utf8Decoder turns a stream of chunks into valid UTF-8 text: a character
// split between two chunks is kept whole, invalid bytes become U+FFFD.
type utf8Decoder struct {
	carry []byte // the start of a character the next chunk completes
}

func (d *utf8Decoder) decode(chunk []byte) string {
	b := append(d.carry, chunk...)
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	d.carry = append([]byte(nil), b[cut:]...)
	return strings.ToValidUTF8(string(b[:cut]), "\uFFFD")
}
