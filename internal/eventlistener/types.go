package eventlistener

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gafferhq/gaffer/supervisor"
)

// parents is supervisor's event type hierarchy (supervisor-semantics.md
// §3.1): each type with its parent, "" for EVENT. Subscribing to a type
// subscribes to its subtypes.
var parents = map[string]string{
	"EVENT":                  "",
	"PROCESS_STATE":          "EVENT",
	"PROCESS_STATE_STARTING": "PROCESS_STATE",
	"PROCESS_STATE_RUNNING":  "PROCESS_STATE",
	"PROCESS_STATE_BACKOFF":  "PROCESS_STATE",
	"PROCESS_STATE_STOPPING": "PROCESS_STATE",
	"PROCESS_STATE_EXITED":   "PROCESS_STATE",
	"PROCESS_STATE_STOPPED":  "PROCESS_STATE",
	"PROCESS_STATE_FATAL":    "PROCESS_STATE",
	"PROCESS_STATE_UNKNOWN":  "PROCESS_STATE",

	"PROCESS_LOG":                  "EVENT",
	"PROCESS_LOG_STDOUT":           "PROCESS_LOG",
	"PROCESS_LOG_STDERR":           "PROCESS_LOG",
	"PROCESS_COMMUNICATION":        "EVENT",
	"PROCESS_COMMUNICATION_STDOUT": "PROCESS_COMMUNICATION",
	"PROCESS_COMMUNICATION_STDERR": "PROCESS_COMMUNICATION",

	"REMOTE_COMMUNICATION": "EVENT",

	"SUPERVISOR_STATE_CHANGE":          "EVENT",
	"SUPERVISOR_STATE_CHANGE_RUNNING":  "SUPERVISOR_STATE_CHANGE",
	"SUPERVISOR_STATE_CHANGE_STOPPING": "SUPERVISOR_STATE_CHANGE",

	"TICK":      "EVENT",
	"TICK_5":    "TICK",
	"TICK_60":   "TICK",
	"TICK_3600": "TICK",

	"PROCESS_GROUP":         "EVENT",
	"PROCESS_GROUP_ADDED":   "PROCESS_GROUP",
	"PROCESS_GROUP_REMOVED": "PROCESS_GROUP",
}

// IsEventType reports whether name (upper case) is one of supervisor's event
// types, abstract ones included.
func IsEventType(name string) bool {
	_, ok := parents[name]
	return ok
}

// isA reports whether typ is sub or one of its subtypes.
func isA(typ, sub string) bool {
	for t := typ; t != ""; t = parents[t] {
		if t == sub {
			return true
		}
	}
	return false
}

// ticks are the TICK types with their periods, in supervisor's order.
var ticks = []struct {
	typ    string
	period int64 // seconds
}{{"TICK_5", 5}, {"TICK_60", 60}, {"TICK_3600", 3600}}

// timeslice is the start of the period containing t, in epoch seconds
// (supervisor's timeslice: now − now mod period).
func timeslice(period int64, t time.Time) int64 {
	s := t.Unix()
	return s - s%period
}

// event is one supervisor event: its type name, payload and global serial.
// It is shared by every pool that accepted it; only the loop touches it.
type event struct {
	serial  int64 // global serial, -1 until a pool accepts it
	typ     string
	payload []byte
}

// tokens writes supervisor's "token set": key:value pairs separated by
// single spaces, without a trailing newline.
func tokens(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[i])
		b.WriteByte(':')
		b.WriteString(kv[i+1])
	}
	return b.String()
}

// stateEvent turns a core "state" event into PROCESS_STATE_<TO>, with the
// extras supervisor's event classes add (events.py get_extra_values). ok is
// false for a state supervisor has no event type for.
func stateEvent(e supervisor.Event) (typ string, payload []byte, ok bool) {
	typ = "PROCESS_STATE_" + e.To
	if parents[typ] != "PROCESS_STATE" {
		return "", nil, false
	}
	kv := []string{"processname", e.Process, "groupname", e.Group, "from_state", e.From}
	switch e.To {
	case "STARTING", "BACKOFF":
		kv = append(kv, "tries", strconv.Itoa(e.Tries))
	case "RUNNING", "STOPPING", "STOPPED":
		kv = append(kv, "pid", strconv.Itoa(e.OSPid))
	case "EXITED":
		expected := "0"
		if e.Expected {
			expected = "1"
		}
		kv = append(kv, "expected", expected, "pid", strconv.Itoa(e.OSPid))
	}
	return typ, []byte(tokens(kv...)), true
}

// outputPayload is the payload of PROCESS_LOG_* (channel != "") and
// PROCESS_COMMUNICATION_* (channel == "") events. Data is passed as the raw
// bytes the process wrote.
func outputPayload(process, group string, osPid int, channel string, data []byte) []byte {
	kv := []string{"processname", process, "groupname", group, "pid", strconv.Itoa(osPid)}
	if channel != "" {
		kv = append(kv, "channel", channel)
	}
	h := tokens(kv...)
	out := make([]byte, 0, len(h)+1+len(data))
	out = append(out, h...)
	out = append(out, '\n')
	return append(out, data...)
}

// envelope is what a listener reads on stdin: supervisor's header line then
// exactly len bytes of payload. len counts bytes.
func envelope(server, pool string, serial, poolSerial int64, typ string, payload []byte) []byte {
	// len counts characters when the payload is UTF-8, as supervisord does:
	// Python listeners (supervisor.childutils) read len characters from a
	// text stream, and a byte count hangs them on non-ASCII output.
	n := len(payload)
	if utf8.Valid(payload) {
		n = utf8.RuneCount(payload)
	}
	h := fmt.Sprintf("ver:3.0 server:%s serial:%d pool:%s poolserial:%d eventname:%s len:%d\n",
		server, serial, pool, poolSerial, typ, n)
	return append([]byte(h), payload...)
}
