package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/api/ws"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// gafferd routes the websocket paths before the REST API, as gafferd does.
func gafferd(sup *supervisor.Supervisor, opts ws.Options) http.Handler {
	live := ws.New(sup, opts)
	api := rest.New(sup, rest.Options{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if live.Match(r.URL.Path) {
			live.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

func serveLive(t *testing.T, sup *supervisor.Supervisor, opts ws.Options, copts ...client.Option) *client.Client {
	t.Helper()
	ts := httptest.NewServer(gafferd(sup, opts))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	c, err := client.New(ts.URL, copts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openChannel(t *testing.T, c *client.Client) *client.Channel {
	t.Helper()
	ch, err := c.Channel(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

func next(t *testing.T, ch *client.Channel) client.ChannelEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	ev, err := ch.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func TestChannelEventsAndCommands(t *testing.T) {
	sup := startSupervisor(t)
	c := serveLive(t, sup, ws.Options{})
	ch := openChannel(t, c)
	if err := ch.Subscribe(t.Context(), "JOB:app.web"); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(helperJob(t, "web", "sleep"))
	var obj map[string]any
	json.Unmarshal(cfg, &obj)
	if res, err := ch.Command(t.Context(), "load", []any{obj}, map[string]any{"sessionid": "app"}); err != nil || string(res) != `{"ok":true}` {
		t.Fatalf("load = %s, %v", res, err)
	}
	for _, want := range []string{"start", "spawn"} {
		if ev := next(t, ch); ev.Event != want || ev.Topic != "JOB:app.web" || ev.Name != "app.web" {
			t.Fatalf("event %+v, want %s", ev, want)
		}
	}
	res, err := ch.Command(t.Context(), "pids", []any{"app.web"}, nil)
	var pids struct{ Pids []int }
	if err != nil || json.Unmarshal(res, &pids) != nil || len(pids.Pids) != 1 {
		t.Fatalf("pids = %s, %v", res, err)
	}
	_, err = ch.Command(t.Context(), "info", []any{"app.nope"}, nil)
	var e *client.Error
	if !errors.Is(err, supervisor.ErrNotFound) || !errors.As(err, &e) || e.Errno != 404 || e.Reason != "not_found" {
		t.Errorf("info of a missing job: %v", err)
	}
	if _, err := ch.Command(t.Context(), "nope", nil, nil); !errors.As(err, &e) || e.Reason != "command_not_found" {
		t.Errorf("unknown command: %v", err)
	}
	if err := ch.Subscribe(t.Context(), "STATS:999"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("STATS of a missing pid: %v", err)
	}
	if err := ch.Subscribe(t.Context(), fmt.Sprintf("STREAM:%d", pids.Pids[0])); !errors.Is(err, supervisor.ErrStreamNotFound) {
		t.Errorf("STREAM without output: %v", err)
	}
	if err := ch.SubscribeStats(t.Context(), fmt.Sprintf("STATS:%d", pids.Pids[0]), 20e6); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Event != "stat" || ev.Pid != pids.Pids[0] || !strings.Contains(string(ev.Raw), `"mem_info1"`) {
		t.Errorf("stat %+v", ev)
	}
	if err := ch.Unsubscribe(t.Context(), fmt.Sprintf("STATS:%d", pids.Pids[0])); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	if _, err := ch.Command(t.Context(), "jobs", nil, nil); !errors.Is(err, client.ErrChannelClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := ch.Next(t.Context()); !errors.Is(err, client.ErrChannelClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

func TestProcessChannelOverUnixSocket(t *testing.T) {
	sup := startSupervisor(t)
	sock := filepath.Join(t.TempDir(), "gafferd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gafferd(sup, ws.Options{})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, _ := client.New("unix://" + sock)

	cfg := helperJob(t, "echo", "echo-stdin")
	cfg.RedirectOutput, cfg.RedirectInput = []string{"out"}, true
	if err := c.Load(t.Context(), "", cfg, true); err != nil {
		t.Fatal(err)
	}
	pids, _ := c.Pids(t.Context(), "echo")
	pc, err := c.ProcessChannel(t.Context(), pids[0], "", client.ModeReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(pc, got); err != nil || string(got) != "ping\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	// The channel (over the socket too) follows the process to its exit.
	ch := openChannel(t, c)
	if err := ch.Subscribe(t.Context(), "EVENTS:exit"); err != nil {
		t.Fatal(err)
	}
	if err := c.StopProcess(t.Context(), pids[0]); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(pc); err != nil || len(rest) != 0 {
		t.Errorf("after exit: %q, %v (want EOF)", rest, err)
	}
	if ev := next(t, ch); ev.Event != "exit" || ev.Pid != pids[0] {
		t.Errorf("exit event %+v", ev)
	}
	if _, err := pc.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("write after exit: %v", err)
	}

	missing, err := c.ProcessChannel(t.Context(), 999, "", client.ModeRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Read(make([]byte, 1)); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("read of a missing pid: %v", err)
	}
}

func TestChannelAPIKey(t *testing.T) {
	sup := startSupervisor(t)
	opts := ws.Options{KeyAuth: func(key string) (func(rest.Permission, string) error, error) {
		if key != "good" {
			return nil, errors.New("unknown key")
		}
		return func(rest.Permission, string) error { return nil }, nil
	}}
	good := serveLive(t, sup, opts, client.WithAPIKey("good"))
	ch := openChannel(t, good)
	if _, err := ch.Command(t.Context(), "sessions", nil, nil); err != nil {
		t.Errorf("with a good key: %v", err)
	}
	bad := serveLive(t, sup, opts, client.WithAPIKey("bad"))
	ch = openChannel(t, bad)
	if _, err := ch.Command(t.Context(), "sessions", nil, nil); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("with a bad key: %v", err)
	}
	cfg := helperJob(t, "echo", "echo-stdin")
	cfg.RedirectOutput, cfg.RedirectInput = []string{"out"}, true
	exits := sup.Subscribe(16, events.DropOldest, "exit")
	defer exits.Close()
	if err := sup.Load(t.Context(), "", cfg, true); err != nil {
		t.Fatal(err)
	}
	pids, _ := sup.Pids(t.Context(), "echo")
	if _, err := bad.ProcessChannel(t.Context(), pids[0], "", client.ModeReadWrite); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("process channel with a bad key: %v", err)
	}
	pc, err := good.ProcessChannel(t.Context(), pids[0], "", client.ModeReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	pc.Write([]byte("ok\n"))
	got := make([]byte, 3)
	if _, err := io.ReadFull(pc, got); err != nil || string(got) != "ok\n" {
		t.Errorf("read %q, %v", got, err)
	}
	pc.Close()
	sup.StopJob(t.Context(), "echo")
	gaffertest.WaitFor(t, exits, wait, func(events.Event) bool { return true })
}

func TestRefusedUpgradeIsAnError(t *testing.T) {
	sup := startSupervisor(t)
	ts := httptest.NewServer(rest.New(sup, rest.Options{})) // no websocket handler
	t.Cleanup(ts.Close)
	c, _ := client.New(ts.URL)
	if _, err := c.Channel(t.Context()); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("Channel on a server without it: %v", err)
	}
}
