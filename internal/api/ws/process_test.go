package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
)

// frameClient speaks V1 frames on a per-process channel.
type frameClient struct{ *client }

func (s *server) dialProcess(path string) frameClient { return frameClient{s.dial(path)} }

func (c frameClient) sendFrame(typ, id string, body string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageBinary, appendFrame(nil, typ, id, []byte(body))); err != nil {
		c.t.Fatal(err)
	}
}

func (c frameClient) readFrame() frame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	f, err := parseFrame(b)
	if err != nil {
		c.t.Fatalf("frame %q: %v", b, err)
	}
	return f
}

// openError reads the error frame of a refused open and the close.
func (c frameClient) openError() map[string]any {
	c.t.Helper()
	f := c.readFrame()
	var m map[string]any
	if f.typ != frameError || f.id != "gaffer_error" || json.Unmarshal(f.body, &m) != nil {
		c.t.Fatalf("want an open error, got %s %s %q", f.typ, f.id, f.body)
	}
	c.closeStatus()
	return m
}

func TestProcessChannelEchoesStdin(t *testing.T) {
	s := newServer(t, Options{})
	cfg := job(t, "echo", "echo-stdin")
	cfg.RedirectOutput = []string{"out"}
	cfg.RedirectInput = true
	pid := s.load(cfg)[0]
	c := s.dialProcess(fmt.Sprintf("/%d/channel", pid))
	c.sendFrame("message", "0123456789abcdef0123456789abcdef", "hi\x00there\n")
	var got []byte
	responded := false
	for !responded || len(got) < len("hi\x00there\n") {
		f := c.readFrame()
		switch f.typ {
		case frameResponse:
			if f.id != "0123456789abcdef0123456789abcdef" || string(f.body) != "OK" {
				t.Fatalf("response %s %q", f.id, f.body)
			}
			responded = true
		case frameMessage:
			if len(f.id) != 32 {
				t.Errorf("output frame id %q", f.id)
			}
			got = append(got, f.body...)
		default:
			t.Fatalf("frame %s %s %q", f.typ, f.id, f.body)
		}
	}
	if string(got) != "hi\x00there\n" {
		t.Errorf("echo = %q", got)
	}
	// A bad frame is answered, the channel stays open.
	c.c.Write(context.Background(), websocket.MessageText, []byte("hello"))
	if f := c.readFrame(); f.typ != frameError || !bytes.Contains(f.body, []byte("EINVAL")) {
		t.Errorf("bad frame answered %s %q", f.typ, f.body)
	}
	// The socket closes when the process exits, after its last output.
	c.sendFrame("message", "last", "bye\n")
	exits := s.sup.Subscribe(16, events.DropOldest, "exit")
	defer exits.Close()
	var tail []byte
	for !bytes.Contains(tail, []byte("bye\n")) {
		if f := c.readFrame(); f.typ == frameMessage {
			tail = append(tail, f.body...)
		}
	}
	s.sup.StopProcess(context.Background(), pid)
	if ce := c.closeStatus(); ce.Code != websocket.StatusNormalClosure || ce.Reason != "process exited" {
		t.Errorf("close = %v", ce)
	}
}

func TestProcessChannelModesAndErrors(t *testing.T) {
	s := newServer(t, Options{})
	cfg := job(t, "sleeper", "sleep")
	cfg.RedirectOutput = []string{"out", "err"}
	cfg.CustomStreams = []string{"ctl"}
	pid := s.load(cfg)[0]
	p := fmt.Sprint(pid)

	// Read only: writes are refused per frame.
	c := s.dialProcess("/" + p + "/channel/err?mode=1")
	c.sendFrame("message", "abc", "x")
	if f := c.readFrame(); f.typ != frameError || f.id != "abc" || string(f.body) != `{"error":"EPERM","errno":403}` {
		t.Errorf("write on mode=1: %s %s %q", f.typ, f.id, f.body)
	}
	// No redirect_input: stdin is not writable.
	c = s.dialProcess("/" + p + "/channel?mode=2")
	c.sendFrame("message", "abc", "x")
	if f := c.readFrame(); f.typ != frameError || string(f.body) != `{"error":"EPERM","errno":403}` {
		t.Errorf("write without redirect_input: %s %q", f.typ, f.body)
	}
	// A custom stream is written to.
	c = s.dialProcess("/" + p + "/channel/ctl")
	c.sendFrame("message", "abc", "x")
	if f := c.readFrame(); f.typ != frameResponse || string(f.body) != "OK" {
		t.Errorf("write to custom stream: %s %q", f.typ, f.body)
	}
	for path, want := range map[string]string{
		"/" + p + "/channel/nope":   `ENOENT 404`,
		"/999/channel":              `not_found 404`,
		"/" + p + "/channel?mode=7": `bad_mode 400`,
	} {
		m := s.dialProcess(path).openError()
		if got := fmt.Sprint(m["error"], " ", m["errno"]); got != want {
			t.Errorf("%s: %v, want %s", path, m, want)
		}
	}
	bare := job(t, "bare", "sleep")
	bp := s.load(bare)[0]
	if m := s.dialProcess(fmt.Sprintf("/%d/channel?mode=1", bp)).openError(); m["error"] != "EPERM" {
		t.Errorf("read without output: %v", m)
	}
}

func TestProcessChannelKeyAuth(t *testing.T) {
	s := newServer(t, Options{KeyAuth: func(key string) (func(rest.Permission, string) error, error) {
		if key != "sesame" {
			return nil, fmt.Errorf("unknown key")
		}
		return func(need rest.Permission, _ string) error {
			if need > rest.Read {
				return rest.ErrForbidden
			}
			return nil
		}, nil
	}})
	cfg := job(t, "echo", "echo-stdin")
	cfg.RedirectOutput = []string{"out"}
	cfg.RedirectInput = true
	pid := s.load(cfg)[0]
	c := s.dialProcess(fmt.Sprintf("/%d/channel", pid))
	c.sendFrame("message", "a", "AUTH:wrong")
	if m := c.openError(); m["error"] != "AUTH_REQUIRED" || m["errno"] != 403.0 {
		t.Errorf("bad key: %v", m)
	}
	// A read key may read but not open for writing.
	c = s.dialProcess(fmt.Sprintf("/%d/channel?mode=1", pid))
	c.sendFrame("message", "a", "AUTH:sesame")
	if f := c.readFrame(); f.typ != frameResponse || f.id != "a" {
		t.Errorf("AUTH answer %s %s", f.typ, f.id)
	}
	c = s.dialProcess(fmt.Sprintf("/%d/channel", pid))
	c.sendFrame("message", "a", "AUTH:sesame")
	c.readFrame() // OK
	if m := c.openError(); m["error"] != "forbidden" || m["errno"] != 403.0 {
		t.Errorf("write with a read key: %v", m)
	}
}

func TestFramesRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		in      string
		ok      bool
		typ, id string
		body    string
	}{
		{"V1 message abc\x00body", true, "message", "abc", "body"},
		{"V1  response\tabc \x00", true, "response", "abc", ""},
		{"V1 message abc\x00a\x00b", true, "message", "abc", "a\x00b"},
		{"V1 message\x00x", false, "", "", ""},
		{"V2 message abc\x00x", false, "", "", ""},
		{"V1 message abc extra\x00x", false, "", "", ""},
		{"V1 message abc", false, "", "", ""},
		{"V1 méssage abc\x00", false, "", "", ""},
	} {
		f, err := parseFrame([]byte(tt.in))
		if (err == nil) != tt.ok || tt.ok && (f.typ != tt.typ || f.id != tt.id || string(f.body) != tt.body) {
			t.Errorf("parseFrame(%q) = %+v, %v", tt.in, f, err)
		}
	}
	if got := string(appendFrame(nil, "error", "x", []byte("{}"))); got != "V1 error x\x00{}" {
		t.Errorf("appendFrame = %q", got)
	}
}
