package ws

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"event":"NOP"}`,
		`{"event":"SUB","data":{"topic":"EVENTS"}}`,
		`{"event":"SUB","data":{"topic":"STATS:3","interval":20}}`,
		`{"event":"UNSUB","data":{"topic":"JOB:app.web"}}`,
		`{"event":"CMD","data":{"identity":"x","name":"send","args":[3,"hi"],"kwargs":{}}}`,
		`{"event":"CMD","data":{"identity":null,"name":"jobs"}}`,
		`{"event":"SUB","data":null}`, `[]`, `null`, `{"event":"SUB","data":{"topic":" "}}`,
		"AUTH:key", `{"event":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, reason := decodeMessage(b)
		if reason != "" {
			if req.kind != "" {
				t.Fatalf("failed with reason %q but kind %q", reason, req.kind)
			}
			return
		}
		switch req.kind {
		case "NOP":
		case "SUB", "UNSUB":
			if strings.TrimSpace(req.topic) == "" {
				t.Fatalf("%s without topic from %q", req.kind, b)
			}
			if t2, ok := parseTopic(req.topic); ok {
				if again, ok := parseTopic(t2.String()); !ok || again != t2 {
					t.Fatalf("topic %q: canonical %q reparses as %v %v", req.topic, t2, again, ok)
				}
			}
		case "CMD":
			if req.name == "" || len(req.identity) == 0 {
				t.Fatalf("CMD without name or identity from %q", b)
			}
			parseArgs(req.args, req.kwargs) // must not panic
		default:
			t.Fatalf("kind %q from %q", req.kind, b)
		}
	})
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		"V1 message 0123456789abcdef0123456789abcdef\x00hello\n",
		"V1 response abc\x00OK", "V1 error gaffer_error\x00{\"error\":\"EPERM\",\"errno\":403}",
		"V1 message abc", "V1\x00", "\x00", "V1 message abc\x00a\x00b", "V1  a\tb\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseFrame(b)
		if err != nil {
			return
		}
		if fr.typ == "" || fr.id == "" || strings.ContainsAny(fr.typ+fr.id, " \t\n\x00") {
			t.Fatalf("frame %+v from %q", fr, b)
		}
		// What parses re-encodes to a frame that parses the same.
		again, err := parseFrame(appendFrame(nil, fr.typ, fr.id, fr.body))
		if err != nil || again.typ != fr.typ || again.id != fr.id || !bytes.Equal(again.body, fr.body) {
			t.Fatalf("round trip of %q: %+v %v", b, again, err)
		}
	})
}

func FuzzUTF8Decoder(f *testing.F) {
	f.Add([]byte("héllo"), 2)
	f.Add([]byte("\xe2\x82\xac\xff"), 1)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if cut < 0 || cut > len(b) {
			return
		}
		var d utf8Decoder
		s := d.decode(b[:cut]) + d.decode(b[cut:])
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		// Valid input split anywhere comes out whole.
		if utf8.Valid(b) && s+string(d.carry) != string(b) {
			t.Fatalf("split %q at %d: %q", b, cut, s)
		}
	})
}

// FuzzEventMessage checks the hand-written encoder against encoding/json.
func FuzzEventMessage(f *testing.F) {
	f.Add("STREAM:3", "out", "héllo\n\"quoted\"\\ \x00\x1f\u2028", 3, true)
	f.Add("EVENTS", "job.a.b.exit", "\xff\xfe", -1, false)
	f.Fuzz(func(t *testing.T, topic, name, data string, pid int, once bool) {
		got := eventMessage(topic, name, map[string]any{"data": data, "pid": pid, "once": once, "name": name})
		// Same bytes as encoding/json, except that <, > and & are not
		// escaped (no HTML is involved).
		var inner strings.Builder
		enc := json.NewEncoder(&inner)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]any{
			"event": name, "topic": topic, "data": data, "pid": pid, "once": once, "name": name}); err != nil {
			t.Fatal(err)
		}
		if want := `{"event":"gaffer:event","data":` + strings.TrimSuffix(inner.String(), "\n") + `}`; string(got) != want {
			t.Fatalf("eventMessage:\n got %s\nwant %s", got, want)
		}
	})
}
