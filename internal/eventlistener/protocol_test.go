package eventlistener

import (
	"bytes"
	"testing"
)

func TestProtocolTransitions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		busy  bool // an event was sent after the first READY
		input string
		want  listenerState
		out   outcome
	}{
		{"ready", false, "READY\n", listenerReady, noOutcome},
		{"not enough to decide", false, "READ", listenerAcknowledged, noOutcome},
		{"short garbage waits for 6 bytes", false, "HELLO", listenerAcknowledged, noOutcome},
		{"garbage", false, "HELLO!", listenerUnknown, noOutcome},
		{"ready then spurious", false, "READY\nx", listenerUnknown, noOutcome},
		{"ok", true, "READY\nRESULT 2\nOK", listenerAcknowledged, processed},
		{"ok then ready", true, "READY\nRESULT 2\nOKREADY\n", listenerReady, processed},
		{"fail", true, "READY\nRESULT 4\nFAIL", listenerAcknowledged, rejected},
		{"empty result is a rejection", true, "READY\nRESULT 0\n", listenerAcknowledged, rejected},
		{"ok with spaces in length", true, "READY\nRESULT  2 \nOK", listenerAcknowledged, processed},
		{"crlf result line", true, "READY\nRESULT 2\r\nOK", listenerAcknowledged, processed},
		{"prefix not checked", true, "READY\nXXXXXXX2\nOK", listenerAcknowledged, processed},
		{"OK plus more is not OK", true, "READY\nRESULT 3\nOKK", listenerAcknowledged, rejected},
		{"partial body", true, "READY\nRESULT 2\nO", listenerBusy, noOutcome},
		{"no newline yet", true, "READY\nRESULT 2", listenerBusy, noOutcome},
		{"bad length", true, "READY\nRESULT two\n", listenerUnknown, broken},
		{"negative length", true, "READY\nRESULT -1\n", listenerUnknown, broken},
		{"short line", true, "READY\nOK\n", listenerUnknown, broken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, and split at every byte: same end.
			for _, split := range []bool{false, true} {
				p := newProtocol()
				out := noOutcome
				feed := func(s string) {
					if split {
						for i := range len(s) {
							if o := p.feed([]byte{s[i]}); o != noOutcome {
								out = o
							}
						}
						return
					}
					if o := p.feed([]byte(s)); o != noOutcome {
						out = o
					}
				}
				in := tt.input
				if tt.busy {
					feed(readyToken)
					if p.state != listenerReady {
						t.Fatalf("split=%v: state after READY = %v", split, p.state)
					}
					p.sent()
					in = in[len(readyToken):]
				}
				feed(in)
				if p.state != tt.want || out != tt.out {
					t.Errorf("split=%v: state %v outcome %v, want %v %v", split, p.state, out, tt.want, tt.out)
				}
			}
		})
	}
}

func TestProtocolUnknownIsTerminal(t *testing.T) {
	p := newProtocol()
	p.feed([]byte("nonsense"))
	if p.state != listenerUnknown || p.reason == "" {
		t.Fatalf("state %v reason %q", p.state, p.reason)
	}
	if out := p.feed([]byte("READY\n")); out != noOutcome || p.state != listenerUnknown {
		t.Fatalf("after READY: %v %v", p.state, out)
	}
	if len(p.buf) != 0 {
		t.Fatalf("UNKNOWN keeps %d bytes", len(p.buf))
	}
}

func TestProtocolBoundsResultLine(t *testing.T) {
	p := newProtocol()
	p.feed([]byte(readyToken))
	p.sent()
	chunk := make([]byte, 4096)
	for i := range chunk {
		chunk[i] = 'x'
	}
	out := noOutcome
	for range maxResultLine/len(chunk) + 2 {
		if out = p.feed(chunk); out != noOutcome {
			break
		}
	}
	if out != broken || p.state != listenerUnknown {
		t.Fatalf("endless result line: %v %v", p.state, out)
	}
}

func TestProtocolLargeResultBodyIsCounted(t *testing.T) {
	p := newProtocol()
	p.feed([]byte(readyToken))
	p.sent()
	p.feed([]byte("RESULT 100000\n"))
	body := make([]byte, 100000)
	out := p.feed(body[:50000])
	if out != noOutcome || len(p.result) > keepResult {
		t.Fatalf("half body: %v, kept %d", out, len(p.result))
	}
	if out = p.feed(append(body[50000:], readyToken...)); out != rejected || p.state != listenerReady {
		t.Fatalf("whole body: %v %v", out, p.state)
	}
}

// FuzzProtocol checks that how the listener's output is cut into reads
// never changes the outcome, and that nothing panics. The event is "sent"
// right after each READY\n of the input in both runs, as a listener that
// waits for its event would be.
func FuzzProtocol(f *testing.F) {
	f.Add([]byte("READY\nRESULT 2\nOKREADY\n"), uint8(3))
	f.Add([]byte("READY\nRESULT 4\nFAILREADY\nxx"), uint8(1))
	f.Add([]byte("READY\nRESULT x\n"), uint8(7))
	f.Add([]byte("READY\nRESULT 6\nREADY\nREADY\n"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := run(data, len(data)+1)
		cut := run(data, int(step)%8+1)
		if whole != cut {
			t.Fatalf("whole %v, in pieces of %d: %v", whole, step%8+1, cut)
		}
	})
}

type protoRun struct {
	state    listenerState
	outcomes string
}

// run feeds data in pieces of at most n bytes, cutting after every READY\n,
// where an event is sent if the listener is READY.
func run(data []byte, n int) protoRun {
	p := newProtocol()
	var r protoRun
	for len(data) > 0 {
		seg := data
		if i := bytes.Index(data, []byte(readyToken)); i >= 0 {
			seg = data[:i+len(readyToken)]
		}
		data = data[len(seg):]
		for len(seg) > 0 {
			k := min(n, len(seg))
			if o := p.feed(seg[:k]); o != noOutcome {
				r.outcomes += string('0' + rune(o))
			}
			seg = seg[k:]
		}
		if p.state == listenerReady && len(p.buf) == 0 {
			p.sent()
		}
	}
	r.state = p.state
	return r
}
