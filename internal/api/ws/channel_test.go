package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestWelcomeAndRouting(t *testing.T) {
	s := newServer(t, Options{})
	resp, err := http.Get(s.ts.URL + "/channel")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Welcome to SockJS!\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /channel = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for path, want := range map[string]bool{
		"/channel": true, "/channel/websocket": true, "/channel/info": true, "/3/channel": true,
		"/3/channel/out": true, "/3/channel/": false, "/3/channel/a/b": false, "/x/channel": false,
		"/3": false, "/channels": false, "/jobs/default/web": false, "/3/channelx": false,
	} {
		if got := s.h.Match(path); got != want {
			t.Errorf("Match(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestEventsArriveInOrderWithTopicNames(t *testing.T) {
	s := newServer(t, Options{})
	all, job, pattern := s.dial("/channel/websocket"), s.dial("/channel/websocket"), s.dial("/channel/websocket")
	all.sub("EVENTS")
	job.sub("JOB:default.flappy")
	pattern.sub("events:spawn") // the source is case-insensitive

	cfg := job_(t, "flappy", "exit", "3")
	cfg.Flapping = &supervisor.Flapping{Attempts: 2, Window: time.Minute, RetryIn: time.Hour, MaxRetry: 5}
	if err := s.sup.Load(context.Background(), "", cfg, true); err != nil {
		t.Fatal(err)
	}
	// EVENTS: every event under its full type, in publish order.
	want := []string{"load", "start", "job.default.flappy.start", "spawn", "job.default.flappy.spawn",
		"exit", "job.default.flappy.exit", "spawn", "exit", "flap"}
	for _, w := range want {
		d := eventData(all.expect("event "+w, func(m map[string]any) bool {
			d := eventData(m)
			return d != nil && d["event"] == w
		}))
		if d["topic"] != "EVENTS" || d["name"] != "default.flappy" {
			t.Fatalf("event %s: %v", w, d)
		}
		if w == "exit" && (d["exit_status"] != 3.0 || d["once"] != false || d["pid"] == nil || d["os_pid"] == nil) {
			t.Fatalf("exit event lacks its fields: %v", d)
		}
	}
	// JOB: the suffix after job.<name>.
	for _, w := range []string{"start", "spawn", "exit", "spawn", "exit"} {
		d := eventData(job.next())
		if d == nil || d["event"] != w || d["topic"] != "JOB:default.flappy" {
			t.Fatalf("JOB topic: got %v, want %s", d, w)
		}
	}
	// EVENTS:spawn: only spawns, topic in canonical form.
	for range 2 {
		if d := eventData(pattern.next()); d["event"] != "spawn" || d["topic"] != "EVENTS:spawn" {
			t.Fatalf("EVENTS:spawn delivered %v", d)
		}
	}
}

// job_ is job under another name, for tests with a variable named job.
var job_ = job

func TestProcessTopicSeesKill(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.load(job(t, "web", "sleep"))[0]
	c := s.dial("/channel/websocket")
	c.sub("PROCESS:" + strconv.Itoa(pid))
	c.ok("kill", pid, "HUP")
	d := eventData(c.expect("kill", func(m map[string]any) bool { return eventData(m) != nil }))
	if d["event"] != "kill" || d["pid"] != float64(pid) || d["topic"] != "PROCESS:"+strconv.Itoa(pid) {
		t.Fatalf("PROCESS event = %v", d)
	}
}

func TestStreamOutputAndSendEcho(t *testing.T) {
	s := newServer(t, Options{})
	cfg := job(t, "echo", "echo-stdin")
	cfg.RedirectOutput = []string{"Out", "err"}
	cfg.RedirectInput = true
	pid := s.load(cfg)[0]
	p := strconv.Itoa(pid)

	c := s.dial("/channel/websocket")
	c.sub("STREAM:" + p)
	c.sub("stream:" + p + ".Out") // same stream, the label keeps its case
	if r := c.ok("send", pid, "héllo "); r["ok"] != true {
		t.Fatalf("send = %v", r)
	}
	c.ok("send", strconv.Itoa(pid), []any{"wor", "ld\n"}, "stdin")
	var got strings.Builder
	topics := map[any]int{}
	for got.Len() < 2*len("héllo world\n") {
		d := eventData(c.next())
		if d == nil || d["event"] != "Out" || d["name"] != "default.echo" || d["pid"] != float64(pid) {
			t.Fatalf("output event = %v", d)
		}
		topics[d["topic"]]++
		got.WriteString(d["data"].(string))
	}
	if topics["STREAM:"+p] == 0 || topics["STREAM:"+p+".Out"] == 0 {
		t.Errorf("topics = %v", topics)
	}
	if strings.Count(got.String(), "l") != 6 || !strings.Contains(got.String(), "é") {
		t.Errorf("echo = %q", got.String())
	}
	// The tail extension returns what the stream kept.
	if r := c.ok("tail", pid); r["data"] != "héllo world\n" || r["label"] != "Out" {
		t.Errorf("tail = %v", r)
	}
}

func TestInvalidUTF8BecomesReplacementCharacter(t *testing.T) {
	var d utf8Decoder
	parts := []string{d.decode([]byte("a\xc3")), d.decode([]byte("\xa9b\xff")), d.decode([]byte("\xe2\x82")), d.decode([]byte("\xac"))}
	if got := strings.Join(parts, "|"); got != "a|éb\uFFFD||€" {
		t.Errorf("decoded %q", got)
	}
}

func TestCustomStreamReadsAsREAD(t *testing.T) {
	s := newServer(t, Options{})
	cfg := job(t, "sleeper", "sleep")
	cfg.CustomStreams = []string{"ctl"}
	pid := s.load(cfg)[0]
	c := s.dial("/channel/websocket")
	c.sub(fmt.Sprintf("STREAM:%d.ctl", pid))
	// Nothing reads fd 3 in the helper, but writing to it must be accepted.
	c.ok("send", pid, "ping", "ctl")
	if ev, d := c.cmd("send", pid, "x", "nope"); ev != "gaffer:command_error" || errno(d) != 404 || reason(d) != "stream_not_found" {
		t.Fatalf("send to unknown stream: %s %v", ev, d)
	}
}

func TestStatsTopics(t *testing.T) {
	s := newServer(t, Options{})
	cfg := job(t, "pair", "sleep")
	cfg.NumProcesses = 2
	pids := s.load(cfg)
	c := s.dial("/channel/websocket")
	p := strconv.Itoa(pids[0])
	c.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": "STATS:" + p, "interval": 20}})
	if m := c.next(); m["event"] != "gaffer:subscription_success" {
		t.Fatal(m)
	}
	for range 3 {
		d := eventData(c.next())
		if d["event"] != "stat" || d["topic"] != "STATS:"+p || d["pid"] != float64(pids[0]) || d["os_pid"] == nil ||
			d["cpu"] == nil || d["mem"] == nil || d["mem_info1"] == nil || d["mem_info2"] == nil || d["ctime"] == nil {
			t.Fatalf("stat = %v", d)
		}
	}
	c.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "STATS:" + p}})
	c.expect("UNSUB answer", func(m map[string]any) bool { return m["event"] == "gaffer:subscription_success" })

	// A job's topic covers its processes; when they exit, the sampler stops.
	c.sub("STATS:pair")
	seen := map[float64]bool{}
	for len(seen) < 2 {
		d := eventData(c.next())
		if d["topic"] != "STATS:pair" {
			t.Fatalf("stat = %v", d)
		}
		seen[d["pid"].(float64)] = true
	}
	if !seen[float64(pids[0])] || !seen[float64(pids[1])] {
		t.Fatalf("pids sampled %v, want %v", seen, pids)
	}
	c.ok("stop_job", "pair")
	// When both processes have exited, the sampler stops by itself.
	gaffertest.Eventually(t, wait, "the sampler to stop", func() bool { return s.h.samplers.Load() == 0 })
}

func errno(d map[string]any) float64 {
	e, _ := d["error"].(map[string]any)
	n, _ := e["errno"].(float64)
	return n
}

func reason(d map[string]any) string {
	e, _ := d["error"].(map[string]any)
	r, _ := e["reason"].(string)
	return r
}

func TestInvalidMessages(t *testing.T) {
	s := newServer(t, Options{})
	c := s.dial("/channel/websocket")
	for _, tt := range []struct{ msg, reason string }{
		{`not json`, "invalid_json"},
		{`[1,2]`, "invalid_json"},
		{`"SUB"`, "invalid_json"},
		{`{}`, "event_missing"},
		{`{"event":""}`, "event_missing"},
		{`{"event":3}`, "event_missing"},
		{`{"event":"PUB","data":{}}`, "unknown_cmd"},
		{`{"event":"SUB"}`, "data_missing"},
		{`{"event":"CMD","data":"x"}`, "data_missing"},
		{`{"event":"SUB","data":{}}`, "topic_missing"},
		{`{"event":"UNSUB","data":{"topic":""}}`, "topic_missing"},
		{`{"event":"CMD","data":{"identity":"1"}}`, "cmd_name_mssing"},
		{`{"event":"CMD","data":{"name":"jobs"}}`, "cmd_identity_missing"},
	} {
		c.sendRaw(tt.msg)
		m := c.next()
		d, _ := m["data"].(map[string]any)
		if m["event"] != "gaffer:error" || d["error"] != "invalid_msg" || d["reason"] != tt.reason {
			t.Errorf("%s: got %v, want invalid_msg %s", tt.msg, m, tt.reason)
		}
	}
	// The connection is still open and serving.
	c.sendRaw(`{"event":"NOP"}`)
	c.ok("sessions")
}

func TestSubscriptionErrors(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.load(job(t, "web", "sleep"))[0]
	c := s.dial("/channel/websocket")
	p := strconv.Itoa(pid)
	for _, tt := range []struct{ topic, reason string }{
		{"NOPE", "invalid_topic"},
		{"JOB", "invalid_topic"},
		{"EVENTS:", "invalid_topic"},
		{"PROCESS:x", "invalid_topic"},
		{"STREAM:x.out", "invalid_topic"},
		{"STREAM:" + p + ".", "invalid_topic"},
		{"PROCESS:999", "invalid_process"},
		{"STATS:999", "invalid_process"},
		{"STATS:default.nope", "invalid_process"},
		{"STREAM:99999999999999999999", "invalid_process"},
		{"STREAM:" + p, "stream_not_found"}, // no redirect_output
		{"STREAM:" + p + ".out", "stream_not_found"},
	} {
		c.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": tt.topic}})
		m := c.next()
		d, _ := m["data"].(map[string]any)
		if m["event"] != "gaffer:subscription_error" || m["topic"] != tt.topic || d["reason"] != tt.reason {
			t.Errorf("SUB %s: got %v, want %s", tt.topic, m, tt.reason)
		}
	}
	c.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": "STATS:" + p, "interval": "soon"}})
	if m := c.next(); m["event"] != "gaffer:subscription_error" || m["data"].(map[string]any)["reason"] != "invalid_interval" {
		t.Errorf("bad interval: %v", m)
	}
	c.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "EVENTS"}})
	if m := c.next(); m["event"] != "gaffer:subscription_error" || m["data"].(map[string]any)["reason"] != "not_subscribed" {
		t.Errorf("UNSUB without SUB: %v", m)
	}
}

func TestSubscriptionsAreReferenceCounted(t *testing.T) {
	s := newServer(t, Options{})
	c := s.dial("/channel/websocket")
	c.sub("EVENTS:load")
	c.sub("EVENTS:load")
	c.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "EVENTS:load"}})
	c.expect("UNSUB", func(m map[string]any) bool { return m["event"] == "gaffer:subscription_success" })
	s.load(job(t, "one", "sleep"))
	if d := eventData(c.expect("load", func(m map[string]any) bool { return eventData(m) != nil })); d["name"] != "default.one" {
		t.Fatalf("after one UNSUB of two: %v", d)
	}
	c.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "EVENTS:load"}})
	c.expect("UNSUB", func(m map[string]any) bool { return m["event"] == "gaffer:subscription_success" })
	s.load(job(t, "two", "sleep"))
	// No event for "two": the next message is the answer to this command.
	c.send(map[string]any{"event": "CMD", "data": map[string]any{"identity": "x", "name": "sessions"}})
	if m := c.next(); m["event"] != "gaffer:command_success" {
		t.Fatalf("after two UNSUBs: %v", m)
	}
}

func TestCommands(t *testing.T) {
	s := newServer(t, Options{})
	c := s.dial("/channel/websocket")
	exits := s.sup.Subscribe(1024, events.DropOldest, "exit")
	defer exits.Close()

	cfg, _ := json.Marshal(job(t, "web", "sleep"))
	var cfgObj map[string]any
	json.Unmarshal(cfg, &cfgObj)
	if ev, d := c.cmdKw("load", map[string]any{"sessionid": "app", "env": map[string]any{"X": "1"}}, cfgObj); ev != "gaffer:command_success" || d["result"].(map[string]any)["ok"] != true {
		t.Fatalf("load: %s %v", ev, d)
	}
	if r := c.ok("sessions"); fmt.Sprint(r["sessions"]) != "[app]" {
		t.Errorf("sessions = %v", r)
	}
	if r := c.ok("jobs"); fmt.Sprint(r["jobs"]) != "[app.web]" {
		t.Errorf("jobs = %v", r)
	}
	if r := c.ok("jobs", "app"); r["sessionid"] != "app" || fmt.Sprint(r["jobs"]) != "[app.web]" {
		t.Errorf("jobs app = %v", r)
	}
	r := c.ok("pids", "app.web")
	if r["sessionid"] != "app.web" || len(r["pids"].([]any)) != 1 {
		t.Fatalf("pids app.web = %v", r)
	}
	pid := int(r["pids"].([]any)[0].(float64))
	if r := c.ok("pids"); len(r["pids"].([]any)) != 1 {
		t.Errorf("pids = %v", r)
	}
	if r := c.ok("scale", "app.web", "+1"); r["numprocesses"] != 2.0 {
		t.Errorf("scale = %v", r)
	}
	if r := c.ok("scale", "app.web", "=1"); r["numprocesses"] != 1.0 {
		t.Errorf("scale = %v", r)
	}
	pid = int(c.ok("pids", "app.web")["pids"].([]any)[0].(float64)) // the oldest went
	if r := c.ok("info", "app.web"); r["info"].(map[string]any)["name"] != "app.web" {
		t.Errorf("info = %v", r)
	}
	if r := c.ok("stats", "app.web"); r["stats"].(map[string]any)["name"] != "app.web" {
		t.Errorf("stats = %v", r)
	}
	info := c.ok("process_info", pid)["info"].(map[string]any)
	if info["pid"] != float64(pid) || info["env"].(map[string]any)["X"] != "1" {
		t.Errorf("process_info = %v", info)
	}
	if st := c.ok("process_stats", strconv.Itoa(pid))["stats"].(map[string]any); st["mem_info1"] == nil {
		t.Errorf("process_stats = %v", st)
	}
	if r := c.ok("commit", "app.web", 3, map[string]any{"ONE": "yes"}); r["ok"] != true || r["pid"] == nil {
		t.Errorf("commit = %v", r)
	}
	c.ok("killall", "app.web", "HUP")
	c.ok("stopall", "app.web")
	c.ok("stop_job", "app.web")
	c.ok("start_job", "app.web")
	c.cmdKw("reload", map[string]any{"sessionid": "app"}, "web")
	cfgObj["numprocesses"] = 2
	if ev, d := c.cmdKw("update", map[string]any{"sessionid": "app", "start": true}, cfgObj); ev != "gaffer:command_success" {
		t.Fatalf("update: %v", d)
	}
	if r := c.ok("info", "app.web"); r["info"].(map[string]any)["max_processes"] != 2.0 {
		t.Errorf("after update: %v", r)
	}
	if ev, d := c.cmdKw("unload", map[string]any{"sessionid": "app"}, "web"); ev != "gaffer:command_success" {
		t.Fatalf("unload: %v", d)
	}
	if r := c.ok("sessions"); fmt.Sprint(r["sessions"]) != "[]" {
		t.Errorf("sessions after unload = %v", r)
	}
}

func TestCommandErrors(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.load(job(t, "web", "sleep"))[0]
	c := s.dial("/channel/websocket")
	for _, tt := range []struct {
		name   string
		args   []any
		errno  float64
		reason string
	}{
		{"nope", nil, 404, "command_not_found"},
		{"info", nil, 400, "bad_command"},
		{"info", []any{3}, 400, "bad_command"},
		{"info", []any{"default.nope"}, 404, "not_found"},
		{"scale", []any{"web"}, 400, "bad_command"},
		{"scale", []any{"web", "x2"}, 400, "bad_operation"},
		{"kill", []any{pid}, 400, "bad_command"},
		{"kill", []any{pid, "SIGNOPE"}, 400, "bad_signal"},
		{"kill", []any{"abc", 1}, 400, "bad_command"},
		{"process_info", []any{999}, 404, "not_found"},
		{"stop_process", []any{999}, 404, "not_found"},
		{"send", []any{pid, "x"}, 500, "stdin not redirected"},
		{"send", []any{pid, 42}, 400, "bad_command"},
		{"load", nil, 400, "config_missing"},
		{"load", []any{"web"}, 400, "invalid_config"},
		{"load", []any{map[string]any{"name": "x"}}, 400, "invalid_config"},
		{"load", []any{map[string]any{"name": "web", "cmd": "true"}}, 409, "process_conflict"},
		{"unload", []any{"nope"}, 404, "not_found"},
		{"commit", []any{"web", "soon"}, 400, "bad_command"},
	} {
		ev, d := c.cmd(tt.name, tt.args...)
		if ev != "gaffer:command_error" || errno(d) != tt.errno || reason(d) != tt.reason || d["id"] != "id-"+tt.name {
			t.Errorf("%s %v: got %s %v, want %v %s", tt.name, tt.args, ev, d, tt.errno, tt.reason)
		}
	}
	c.send(map[string]any{"event": "CMD", "data": map[string]any{"identity": 7, "name": "jobs", "args": "x"}})
	if m := c.next(); m["event"] != "gaffer:command_error" || m["data"].(map[string]any)["id"] != 7.0 {
		t.Errorf("args not a list: %v", m)
	}
}

func TestPermissions(t *testing.T) {
	type check struct {
		need   rest.Permission
		target string
	}
	var asked []check
	s := newServer(t, Options{Authorize: func(r *http.Request, need rest.Permission, target string) error {
		asked = append(asked, check{need, target})
		if r.Header.Get("X-Api-Key") != "" {
			return nil
		}
		if need == rest.Read && target == "default.web" {
			return nil
		}
		return rest.ErrForbidden
	}})
	cfg := job(t, "web", "echo-stdin")
	cfg.RedirectOutput = []string{"out"}
	cfg.RedirectInput = true
	pid := s.load(cfg)[0]
	c := s.dial("/channel/websocket")
	c.sub(fmt.Sprintf("STREAM:%d", pid)) // read on the job: allowed
	for _, topic := range []string{"EVENTS", "JOB:web", fmt.Sprintf("PROCESS:%d", pid)} {
		c.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": topic}})
		if m := c.next(); m["event"] != "gaffer:subscription_error" || m["data"].(map[string]any)["reason"] != "forbidden" {
			t.Errorf("SUB %s: %v", topic, m)
		}
	}
	exits := s.sup.Subscribe(16, events.DropOldest, "exit")
	defer exits.Close()
	for _, args := range [][]any{{"stop_process", pid}, {"stop_job", "web"}, {"sessions"}, {"unload", "web"}} {
		ev, d := c.cmd(args[0].(string), args[1:]...)
		if ev != "gaffer:command_error" || errno(d) != 403 || reason(d) != "forbidden" {
			t.Errorf("%v: %s %v", args, ev, d)
		}
	}
	// Refused commands did not run: the process is still there.
	if _, err := s.sup.Process(context.Background(), pid); err != nil {
		t.Fatalf("a refused command ran: %v", err)
	}
	want := []check{{rest.Read, "default.web"}, {rest.ManageAll, ""}, {rest.Manage, "default.web"},
		{rest.Manage, "default.web"}, {rest.Manage, "default.web"}, {rest.Manage, "default.web"},
		{rest.ManageAll, ""}, {rest.Admin, ""}}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
}

func TestKeyAuth(t *testing.T) {
	s := newServer(t, Options{KeyAuth: func(key string) (func(rest.Permission, string) error, error) {
		if key != "sesame" {
			return nil, errors.New("unknown key")
		}
		return func(need rest.Permission, _ string) error {
			if need >= rest.Admin {
				return rest.ErrForbidden
			}
			return nil
		}, nil
	}})
	for _, first := range []string{`{"event":"NOP"}`, "AUTH:wrong"} {
		c := s.dial("/channel/websocket")
		c.sendRaw(first)
		m := c.next()
		d, _ := m["data"].(map[string]any)
		if m["event"] != "gaffer:error" || d["error"] != "AUTH_REQUIRED" || d["reason"] == "" {
			t.Errorf("first message %s: %v", first, m)
		}
		if ce := c.closeStatus(); ce.Code != websocket.StatusPolicyViolation {
			t.Errorf("close = %v", ce)
		}
	}
	c := s.dial("/channel/websocket")
	c.sendRaw("AUTH:sesame")
	c.ok("sessions")
	if ev, d := c.cmd("load", map[string]any{"name": "x", "cmd": "true"}); ev != "gaffer:command_error" || errno(d) != 403 {
		t.Errorf("load with a manage key: %s %v", ev, d)
	}
}

func TestOriginPolicy(t *testing.T) {
	s := newServer(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	h := http.Header{"Origin": {"http://evil.example"}}
	_, resp, err := websocket.Dial(ctx, s.url+"/channel/websocket", &websocket.DialOptions{HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, resp %v", err, resp)
	}
	h.Set("Origin", s.ts.URL) // same origin
	c, _, err := websocket.Dial(ctx, s.url+"/channel/websocket", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	c.CloseNow()

	allowed := newServer(t, Options{OriginPatterns: []string{"dash.example"}})
	h.Set("Origin", "https://dash.example")
	c, _, err = websocket.Dial(ctx, allowed.url+"/channel/websocket", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("listed origin: %v", err)
	}
	c.CloseNow()
}
