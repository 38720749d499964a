package ws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/internal/gaffertest/enginetest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// wait bounds every wait for a message or an event.
const wait = enginetest.Wait

// server is a real supervisor behind the websocket and REST handlers, routed
// as gafferd routes them, on a loopback listener.
type server struct {
	t   testing.TB
	sup *supervisor.Supervisor
	h   *Handler
	ts  *httptest.Server
	url string // ws://127.0.0.1:port
}

func newServer(t testing.TB, opts Options) *server {
	t.Helper()
	return newServerWith(t, opts, nil)
}

// newServerWith lets a test change the listener before the server starts.
func newServerWith(t testing.TB, opts Options, setup func(*httptest.Server)) *server {
	t.Helper()
	e := enginetest.New(t, enginetest.Options{})
	h := New(e.Sup, opts)
	api := rest.New(e.Sup, rest.Options{Sampler: opts.Sampler})
	srv := e.Serve(enginetest.Route(h, api), enginetest.ServeOptions{Setup: setup, StopFirst: true, CloseClients: true})
	return &server{t: t, sup: e.Sup, h: h, ts: srv.TS, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// job is a config running this test binary as helper.
func job(t testing.TB, name, helper string, args ...string) supervisor.JobConfig {
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(t))
	cfg.Args = args
	cfg.Env = map[string]string{gaffertest.HelperEnv: helper, "GORACE": "atexit_sleep_ms=0"}
	cfg.GracefulTimeout = 5 * time.Second
	return cfg
}

// load loads and starts a job in session "default" and returns its pids.
func (s *server) load(cfg supervisor.JobConfig) []int {
	s.t.Helper()
	spawns := s.sup.Subscribe(1024, events.DropOldest, "job.default."+cfg.Name+".spawn")
	defer spawns.Close()
	if err := s.sup.Load(context.Background(), "", cfg, true); err != nil {
		s.t.Fatalf("load %s: %v", cfg.Name, err)
	}
	var pids []int
	for range cfg.NumProcesses {
		pids = append(pids, gaffertest.WaitFor(s.t, spawns, wait, func(events.Event) bool { return true }).Pid)
	}
	return pids
}

// client is a websocket client of the test server.
type client struct {
	t       testing.TB
	c       *websocket.Conn
	backlog []map[string]any // messages read while waiting for an answer
}

func (s *server) dial(path string) *client {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.url+path, nil)
	if err != nil {
		s.t.Fatalf("dial %s: %v", path, err)
	}
	c.SetReadLimit(4 << 20)
	s.t.Cleanup(func() { c.CloseNow() })
	return &client{t: s.t, c: c}
}

// sendRaw sends one text message.
func (c *client) sendRaw(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("write %q: %v", msg, err)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// next returns the next message: from the backlog, else read.
func (c *client) next() map[string]any {
	c.t.Helper()
	if len(c.backlog) > 0 {
		m := c.backlog[0]
		c.backlog = c.backlog[1:]
		return m
	}
	return c.read()
}

// read reads one JSON message.
func (c *client) read() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("message %q: %v", b, err)
	}
	return m
}

// expect reads messages until match accepts one (at most 10,000).
func (c *client) expect(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 10_000 {
		if m := c.next(); match(m) {
			return m
		}
	}
	c.t.Fatalf("no %s in 10000 messages", what)
	return nil
}

func (c *client) sub(topic string) {
	c.t.Helper()
	c.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": topic}})
	for range 10_000 {
		m := c.read()
		if m["event"] == "gaffer:event" { // of an earlier subscription
			c.backlog = append(c.backlog, m)
			continue
		}
		if m["event"] != "gaffer:subscription_success" || m["topic"] != topic {
			c.t.Fatalf("SUB %s: %v", topic, m)
		}
		return
	}
}

// cmd runs a command and returns the answer's data.
func (c *client) cmd(name string, args ...any) (event string, data map[string]any) {
	c.t.Helper()
	return c.cmdKw(name, nil, args...)
}

func (c *client) cmdKw(name string, kwargs map[string]any, args ...any) (event string, data map[string]any) {
	c.t.Helper()
	if args == nil {
		args = []any{}
	}
	id := "id-" + name
	c.send(map[string]any{"event": "CMD", "data": map[string]any{"identity": id, "name": name, "args": args, "kwargs": kwargs}})
	// Events that arrive first are kept for next.
	for range 10_000 {
		m := c.read()
		d, _ := m["data"].(map[string]any)
		if strings.HasPrefix(m["event"].(string), "gaffer:command_") && d["id"] == id {
			return m["event"].(string), d
		}
		c.backlog = append(c.backlog, m)
	}
	c.t.Fatalf("no answer to %s", name)
	return "", nil
}

// ok runs a command that must succeed and returns its result.
func (c *client) ok(name string, args ...any) map[string]any {
	c.t.Helper()
	ev, d := c.cmd(name, args...)
	if ev != "gaffer:command_success" {
		c.t.Fatalf("%s %v: %v", name, args, d)
	}
	r, _ := d["result"].(map[string]any)
	return r
}

// closeStatus reads until the connection closes and returns the status.
func (c *client) closeStatus() websocket.CloseError {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for range 100_000 {
		_, _, err := c.c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce
	}
	c.t.Fatal("connection did not close")
	return websocket.CloseError{}
}

// eventData is the data of a gaffer:event, or nil.
func eventData(m map[string]any) map[string]any {
	if m["event"] != "gaffer:event" {
		return nil
	}
	d, _ := m["data"].(map[string]any)
	return d
}

// checkGoroutines fails the test if goroutines stay above before.
func checkGoroutines(t testing.TB, before int) {
	t.Helper()
	gaffertest.Eventually(t, wait, "goroutines back to their count", func() bool {
		return runtime.NumGoroutine() <= before
	})
}
