package legacy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/legacy"
)

// open starts a streaming GET and returns the response once its headers
// arrived (the handler subscribes before it answers them).
func (s *server) open(path string) *http.Response {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	s.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return resp
}

// sseEvent is one event read from an event stream.
type sseEvent struct {
	typ  string
	data string
}

// readSSE reads the next event, counting the heartbeats (lone "\n") before it.
func readSSE(t *testing.T, r *bufio.Reader, beats *int) sseEvent {
	t.Helper()
	var ev sseEvent
	var data []string
	for range 1000 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v (have %+v)", err, ev)
		}
		switch {
		case line == "\n":
			*beats++
		case line == "\r\n":
			ev.data = strings.Join(data, "\n")
			return ev
		case strings.HasPrefix(line, "event: "):
			ev.typ = strings.TrimSuffix(line[len("event: "):], "\r\n")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimSuffix(line[len("data: "):], "\r\n"))
		default:
			t.Fatalf("event stream: unexpected line %q", line)
		}
	}
	t.Fatal("event stream: no event in 1000 lines")
	return ev
}

// TestWatchEventSource reads /watch as gafferctl watch does and sees a
// template's life in 0.4.4's catalogue, in order, with heartbeats.
func TestWatchEventSource(t *testing.T) {
	s := newServer(t, legacy.Options{})
	resp := s.open("/watch?feed=eventsource&heartbeat=0.02")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	s.expect("POST", "/processes", template(t, "app:web", "sleep", nil), 200, `{"ok":true}`)
	pid := s.pids("app:web")[0]
	s.expect("POST", "/processes/app:web/_signal/9", "", 200, `{"ok":true}`)

	want := []string{"create", "start", "proc.app:web.start", "spawn", "proc.app:web.spawn",
		"exit", "proc.app:web.exit", "spawn", "proc.app:web.spawn"}
	beats := 0
	var got []string
	var msgs []map[string]any
	for range want {
		ev := readSSE(t, r, &beats)
		var m map[string]any
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatalf("event %s: data %q: %v", ev.typ, ev.data, err)
		}
		if m["event"] != ev.typ || m["name"] != "app:web" {
			t.Fatalf("event %s: message %v", ev.typ, m)
		}
		got = append(got, ev.typ)
		msgs = append(msgs, m)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n %v\nwant\n %v", got, want)
	}
	spawn, exit := msgs[3], msgs[5]
	if spawn["pid"] != float64(pid) || spawn["detached"] != false || spawn["os_pid"] == nil {
		t.Fatalf("spawn message %v", spawn)
	}
	if exit["pid"] != float64(pid) || exit["term_signal"] != 9.0 || exit["exit_status"] != 0.0 || exit["os_pid"] != spawn["os_pid"] {
		t.Fatalf("exit message %v (spawn %v)", exit, spawn)
	}
	// Heartbeats come while nothing happens.
	for beats < 2 {
		line, err := r.ReadString('\n')
		if err != nil || line != "\n" {
			t.Fatalf("want heartbeats, got %q %v", line, err)
		}
		beats++
	}
}

// TestWatchLongpoll answers the first matching event and ends; the
// proc/<name>/<event> form works.
func TestWatchLongpoll(t *testing.T) {
	s := newServer(t, legacy.Options{})
	s.expect("POST", "/processes", template(t, "web", "sleep", nil), 200, `{"ok":true}`)
	pid := s.pids("web")[0]
	resp := s.open("/watch/proc/web/stop_pid?heartbeat=false")
	stop := s.open("/watch/stop")
	s.expect("DELETE", fmt.Sprintf("/processes/%d", pid), "", 200, `{"ok":true}`)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(body), "\r\n") {
		t.Fatalf("longpoll body %q: want JSON + CRLF", body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m["event"] != "proc.web.stop_pid" || m["pid"] != float64(pid) || m["os_pid"] == 0.0 {
		t.Fatalf("longpoll body %s (%v)", body, err)
	}
	s.expect("POST", "/processes/web/_stop", "", 200, `{"ok":true}`)
	body, _ = io.ReadAll(stop.Body)
	if !jsonEqual(t, string(body), `{"event":"stop","name":"web"}`) {
		t.Fatalf("/watch/stop: %q", body)
	}
}

// TestStreams follows an echo-stdin helper's output with the continuous
// and eventsource feeds while writing to its stdin, and sees both streams
// end when it exits.
func TestStreams(t *testing.T) {
	s := newServer(t, legacy.Options{})
	s.expect("POST", "/processes", template(t, "echo", "echo-stdin",
		map[string]any{"redirect_input": true, "redirect_output": []string{"out", "err"}}), 200, `{"ok":true}`)
	pid := s.pids("echo")[0]
	cont := s.open(fmt.Sprintf("/streams/%d/out?feed=continuous&heartbeat=false", pid))
	es := s.open(fmt.Sprintf("/streams/%d/out?feed=eventsource&heartbeat=false", pid))
	poll := s.open(fmt.Sprintf("/streams/%d/out", pid))

	s.expect("POST", fmt.Sprintf("/streams/%d/stdin", pid), "hello\nworld\n", 200, `{"ok":true}`)
	cr := bufio.NewReader(cont.Body)
	var echoed string
	for len(echoed) < len("hello\nworld\n") {
		line, err := cr.ReadString('\n')
		if err != nil {
			t.Fatalf("continuous: %v after %q", err, echoed)
		}
		echoed += line
	}
	if echoed != "hello\nworld\n" {
		t.Fatalf("continuous stream %q", echoed)
	}
	beats := 0
	ev := readSSE(t, bufio.NewReader(es.Body), &beats)
	if ev.typ != "out" || !strings.HasPrefix("hello\nworld\n", ev.data) {
		t.Fatalf("eventsource event %+v", ev)
	}
	if b, _ := io.ReadAll(poll.Body); !strings.HasPrefix("hello\nworld\n", string(b)) || len(b) == 0 {
		t.Fatalf("longpoll stream %q", b)
	}

	// Closing stdin is not possible over HTTP; stopping the template ends
	// the process, and every open stream ends with it.
	s.expect("POST", "/processes/echo/_stop", "", 200, `{"ok":true}`)
	if rest, err := io.ReadAll(cr); err != nil || len(rest) != 0 {
		t.Fatalf("continuous stream after exit: %q %v", rest, err)
	}
	if _, err := io.ReadAll(es.Body); err != nil {
		t.Fatalf("eventsource stream after exit: %v", err)
	}
}

// TestWebSocketStream writes to stdin and reads the output through
// /wstreams/<pid>, and sees the socket closed when the process exits.
func TestWebSocketStream(t *testing.T) {
	s := newServer(t, legacy.Options{})
	s.expect("POST", "/processes", template(t, "echo", "echo-stdin",
		map[string]any{"redirect_input": true, "redirect_output": []string{"out"}}), 200, `{"ok":true}`)
	pid := s.pids("echo")[0]
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+fmt.Sprintf("/wstreams/%d", pid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	typ, data, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(data) != "ping\n" {
		t.Fatalf("read %v %q %v", typ, data, err)
	}
	s.expect("POST", "/processes/echo/_stop", "", 200, `{"ok":true}`)
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after exit: %v, want a normal closure", err)
	}

	// Without redirected stdin, a message closes the socket with 1008.
	s.expect("POST", "/processes", template(t, "mute", "sleep", nil), 200, `{"ok":true}`)
	c2, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+fmt.Sprintf("/wstreams/%d", s.pids("mute")[0]), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	c2.Write(ctx, websocket.MessageText, []byte("x"))
	if _, _, err := c2.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("write to a process without stdin: %v", err)
	}
}

func TestStats(t *testing.T) {
	s := newServer(t, legacy.Options{})
	s.expect("POST", "/processes", template(t, "app:web", "sleep", map[string]any{"numprocesses": 2}), 200, `{"ok":true}`)
	pids := s.pids("app:web")
	type entry struct {
		ID       int    `json:"id"`
		PID      int    `json:"pid"`
		Cmdline  string `json:"cmdline"`
		Username string `json:"username"`
		Nice     any    `json:"nice"`
		CTime    string `json:"ctime"`
		Children []any  `json:"children"`
	}
	var ts struct {
		Name   string `json:"name"`
		CPU    any    `json:"cpu"`
		MaxMem any    `json:"max_mem"`
		Stats  []entry
	}
	_, _, body := s.do("GET", "/stats/app:web", "")
	if err := json.Unmarshal([]byte(body), &ts); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	self, _ := os.Executable()
	if ts.Name != "app:web" || len(ts.Stats) != 2 || ts.Stats[0].ID != pids[0] || ts.CPU == nil || ts.MaxMem == nil {
		t.Fatalf("template stats %s", body)
	}
	info, _ := s.sup.Process(t.Context(), pids[0])
	if e := ts.Stats[0]; e.PID != info.OSPid || e.Cmdline != filepathBase(self) || e.Username == "" ||
		e.Nice != 0.0 || !strings.Contains(e.CTime, ":") || e.Children == nil {
		t.Fatalf("process entry %+v (os pid %d)", e, info.OSPid)
	}
	_, _, all := s.do("GET", "/stats", "")
	var list []map[string]any
	if err := json.Unmarshal([]byte(all), &list); err != nil || len(list) != 1 || list[0]["name"] != "app:web" {
		t.Fatalf("/stats: %s %v", all, err)
	}
	_, _, one := s.do("GET", fmt.Sprintf("/stats/app:web/%d", pids[1]), "")
	var e entry
	if err := json.Unmarshal([]byte(one), &e); err != nil || e.ID != pids[1] {
		t.Fatalf("process stats %s", one)
	}
	// Streamed: longpoll answers one sample; eventsource sends "stat" events.
	b, _ := io.ReadAll(s.open(fmt.Sprintf("/stats/app:web/%d?feed=longpoll", pids[1])).Body)
	if err := json.Unmarshal(b, &e); err != nil || e.ID != pids[1] {
		t.Fatalf("longpoll stats %q", b)
	}
	beats := 0
	r := bufio.NewReader(s.open("/stats/app:web?feed=eventsource").Body)
	for range 3 {
		if ev := readSSE(t, r, &beats); ev.typ != "stat" || !strings.Contains(ev.data, `"name":"app:web"`) {
			t.Fatalf("stats event %+v", ev)
		}
	}
}

func filepathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }
