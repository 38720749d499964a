package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

const wait = 10 * time.Second

// startSupervisor runs a supervisor for one test; at cleanup it stops it,
// waits for every child and checks none is left alive.
func startSupervisor(t *testing.T) *supervisor.Supervisor {
	t.Helper()
	sup := supervisor.New(supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	spawns := sup.Subscribe(1<<14, supervisor.DropOldest, "spawn")
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	t.Cleanup(func() {
		cancel()
		select {
		case <-sup.Done():
		case <-time.After(30 * time.Second):
			t.Error("supervisor did not stop")
		}
		spawns.Close()
		for e := range spawns.C() {
			if !gaffertest.Gone(e.OSPid) {
				t.Errorf("process %d (os pid %d) still alive", e.Pid, e.OSPid)
			}
		}
	})
	return sup
}

// serve puts the REST API of sup on a loopback TCP listener and returns a
// client of it.
func serve(t *testing.T, sup *supervisor.Supervisor, opts rest.Options, copts ...client.Option) *client.Client {
	t.Helper()
	ts := httptest.NewServer(rest.New(sup, opts))
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL, copts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func helperJob(t *testing.T, name, helper string, args ...string) supervisor.JobConfig {
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(t))
	cfg.Args = args
	cfg.Env = map[string]string{gaffertest.HelperEnv: helper, "GORACE": "atexit_sleep_ms=0"}
	cfg.GracefulTimeout = 5 * time.Second
	return cfg
}

func waitExits(t *testing.T, sub *events.Sub, pids ...int) {
	t.Helper()
	left := map[int]bool{}
	for _, p := range pids {
		left[p] = true
	}
	for len(left) > 0 {
		e := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "exit" && left[e.Pid] })
		delete(left, e.Pid)
	}
}

func TestJobLifecycle(t *testing.T) {
	ctx := t.Context()
	sup := startSupervisor(t)
	c := serve(t, sup, rest.Options{Version: "9.9"})
	sub := sup.Subscribe(1024, supervisor.DropOldest, "exit", "spawn")
	defer sub.Close()

	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || v != "9.9" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	if err := c.Load(ctx, "app", helperJob(t, "web", "sleep"), true); err != nil {
		t.Fatal(err)
	}
	if err := c.Load(ctx, "", helperJob(t, "idle", "sleep"), false); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Sessions(ctx); err != nil || !reflect.DeepEqual(s, []string{"app", "default"}) {
		t.Fatalf("Sessions = %v, %v", s, err)
	}
	if j, err := c.Jobs(ctx, ""); err != nil || !reflect.DeepEqual(j, []string{"app.web", "default.idle"}) {
		t.Fatalf("Jobs = %v, %v", j, err)
	}
	if j, err := c.Jobs(ctx, "app"); err != nil || !reflect.DeepEqual(j, []string{"app.web"}) {
		t.Fatalf("Jobs(app) = %v, %v", j, err)
	}
	infos, err := c.JobsInfo(ctx, "")
	if err != nil || len(infos) != 2 || infos[0].Name != "app.web" || infos[0].Running != 1 || !infos[1].Stopped {
		t.Fatalf("JobsInfo = %+v, %v", infos, err)
	}
	if infos, err := c.JobsInfo(ctx, "default"); err != nil || len(infos) != 1 || infos[0].Name != "default.idle" {
		t.Fatalf("JobsInfo(default) = %+v, %v", infos, err)
	}

	info, err := c.Info(ctx, "app.web")
	if err != nil || !info.Active || info.MaxProcesses != 1 || len(info.Processes) != 1 || info.Config.Cmd != gaffertest.Self(t) {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if on, err := c.State(ctx, "app/web"); err != nil || !on {
		t.Fatalf("State = %v, %v", on, err)
	}

	// Scale: gaffer's forms.
	for _, s := range []struct {
		value string
		want  int
	}{{"=3", 3}, {"-1", 2}, {"+1", 3}, {"1", 4}, {"=2", 2}} {
		n, err := c.Scale(ctx, "app.web", s.value)
		if err != nil || n != s.want {
			t.Fatalf("Scale(%q) = %d, %v; want %d", s.value, n, err, s.want)
		}
	}
	if n, err := c.NumProcesses(ctx, "app.web"); err != nil || n != 2 {
		t.Fatalf("NumProcesses = %d, %v", n, err)
	}
	pids, err := c.Pids(ctx, "app.web")
	if err != nil || len(pids) != 2 {
		t.Fatalf("Pids = %v, %v", pids, err)
	}

	p, err := c.Process(ctx, pids[0])
	if err != nil || p.Pid != pids[0] || p.Name != "app.web" || gaffertest.Gone(p.OSPid) {
		t.Fatalf("Process = %+v, %v", p, err)
	}
	ps, err := c.ProcessStats(ctx, pids[0])
	if err != nil || ps.Pid != pids[0] || !ps.CPU.OK || ps.CTime == "" {
		t.Fatalf("ProcessStats = %+v, %v", ps, err)
	}
	js, err := c.Stats(ctx, "app.web")
	if err != nil || js.Name != "app.web" || len(js.Stats) != 2 || !js.CPU.OK || js.Stats[1].Pid != pids[1] || js.Stats[0].OSPid != p.OSPid {
		t.Fatalf("Stats = %+v, %v", js, err)
	}
	if js, err := c.Stats(ctx, "idle"); err != nil || js.CPU.OK || js.MaxMem.String() != "N/A" || len(js.Stats) != 0 {
		t.Fatalf("Stats of a job without processes = %+v, %v", js, err)
	}

	// Signals: harmless ones, then a TERM that ends one process (replaced).
	if err := c.SignalJob(ctx, "app.web", "CONT"); err != nil {
		t.Fatal(err)
	}
	if err := c.SignalProcess(ctx, pids[0], "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	waitExits(t, sub, pids[0])
	if got, _ := c.Pids(ctx, "app.web"); len(got) != 2 || slices.Contains(got, pids[0]) {
		t.Fatalf("pids after TERM = %v", got)
	}

	// StopProcess: replaced too.
	pids, _ = c.Pids(ctx, "app.web")
	if err := c.StopProcess(ctx, pids[1]); err != nil {
		t.Fatal(err)
	}
	waitExits(t, sub, pids[1])
	if got, _ := c.Pids(ctx, "app.web"); len(got) != 2 || slices.Contains(got, pids[1]) {
		t.Fatalf("pids after StopProcess = %v", got)
	}

	// Commit: a one-off process with its own env, outside the target.
	once, err := c.Commit(ctx, "app.web", 3*time.Second, map[string]string{"ONCE": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.Process(ctx, once); err != nil || !p.Commited || p.Env["ONCE"] != "1" {
		t.Fatalf("committed process = %+v, %v", p, err)
	}
	if all, _ := c.Pids(ctx, ""); !slices.Contains(all, once) {
		t.Fatalf("Pids(\"\") = %v misses the committed %d", all, once)
	}

	// Stop, Start, Reload.
	pids, _ = c.Pids(ctx, "app.web")
	if err := c.Stop(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	waitExits(t, sub, append(pids, once)...)
	if on, err := c.State(ctx, "app.web"); err != nil || on {
		t.Fatalf("State after Stop = %v, %v", on, err)
	}
	if err := c.Start(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	started, _ := c.Pids(ctx, "app.web")
	if len(started) != 1 { // start resets the target to numprocesses
		t.Fatalf("pids after Start = %v", started)
	}
	if err := c.Reload(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	waitExits(t, sub, started...)
	if got, _ := c.Pids(ctx, "app.web"); len(got) != 1 || got[0] == started[0] {
		t.Fatalf("pids after Reload = %v (before %v)", got, started)
	}

	// Update and Unload.
	cfg := helperJob(t, "web", "sleep")
	cfg.NumProcesses = 2
	if err := c.Update(ctx, "app", cfg, true); err != nil {
		t.Fatal(err)
	}
	if info, _ := c.Info(ctx, "app.web"); info.Config.NumProcesses != 2 {
		t.Fatalf("config after Update = %+v", info.Config)
	}
	if err := c.Unload(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	if j, _ := c.Jobs(ctx, ""); !reflect.DeepEqual(j, []string{"default.idle"}) {
		t.Fatalf("jobs after Unload = %v", j)
	}
}

func TestErrorsMatchSupervisorSentinels(t *testing.T) {
	ctx := t.Context()
	sup := startSupervisor(t)
	c := serve(t, sup, rest.Options{})
	if err := c.Load(ctx, "app", helperJob(t, "web", "sleep"), false); err != nil {
		t.Fatal(err)
	}
	_, unknownPid := c.Process(ctx, 12345)
	_, badScale := c.Scale(ctx, "app.web", "*3")
	noCmd := supervisor.NewJobConfig("x", "")
	for _, c := range []struct {
		name   string
		err    error
		is     error
		status int
		reason string
	}{
		{"unknown job", c.Unload(ctx, "app.nope"), supervisor.ErrNotFound, 404, "not_found"},
		{"unknown session", func() error { _, err := c.Jobs(ctx, "nope"); return err }(), supervisor.ErrNotFound, 404, "not_found"},
		{"unknown pid", unknownPid, supervisor.ErrNotFound, 404, "not_found"},
		{"conflict", c.Load(ctx, "app", helperJob(t, "web", "sleep"), false), supervisor.ErrConflict, 409, "process_conflict"},
		{"bad signal", c.SignalJob(ctx, "app.web", "NOPE"), supervisor.ErrBadSignal, 400, "bad_signal"},
		{"bad scale", badScale, supervisor.ErrBadScale, 400, "bad_operation"},
		{"no cmd", c.Load(ctx, "app", noCmd, false), supervisor.ErrBadRequest, 400, "bad_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, c.is) {
				t.Fatalf("errors.Is(%v, %v) = false", c.err, c.is)
			}
			e, ok := errors.AsType[*client.Error](c.err)
			if !ok || e.Status != c.status || e.Errno != c.status || e.Reason != c.reason || e.Detail == "" {
				t.Fatalf("error = %#v", c.err)
			}
			if errors.Is(c.err, supervisor.ErrShuttingDown) || errors.Is(c.err, client.ErrForbidden) {
				t.Errorf("%v matches unrelated sentinels", c.err)
			}
		})
	}
	if err := c.Unload(ctx, "app.nope"); !strings.Contains(err.Error(), `"app.nope"`) {
		t.Errorf("Error() = %q, want the job named", err)
	}
}

func TestFrameworkAndForeignErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ping":
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		case "/version":
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprint(w, `{"error":405,"reason":"Method Not Allowed"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer ts.Close()
	c, err := client.New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	err = c.Ping(ctx)
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Status != 502 || e.Reason != "Bad Gateway" || e.Errno != 0 {
		t.Errorf("HTML error = %#v", err)
	}
	_, err = c.Version(ctx)
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Status != 405 || e.Reason != "Method Not Allowed" ||
		err.Error() != "Method Not Allowed (HTTP 405)" {
		t.Errorf("framework error = %#v (%v)", err, err)
	}
	if _, err := c.Sessions(ctx); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("empty 404 = %v, want ErrNotFound", err)
	}
}

func TestAPIKeyIsSent(t *testing.T) {
	sup := startSupervisor(t)
	opts := rest.Options{Authorize: func(r *http.Request, need rest.Permission, target string) error {
		switch r.Header.Get("X-Api-Key") {
		case "":
			return rest.ErrUnauthorized
		case "good":
			return nil
		}
		return rest.ErrForbidden
	}}
	for _, c := range []struct {
		opts []client.Option
		want error
	}{
		{nil, client.ErrUnauthorized},
		{[]client.Option{client.WithAPIKey("bad")}, client.ErrForbidden},
		{[]client.Option{client.WithAPIKey("good")}, nil},
	} {
		_, err := serve(t, sup, opts, c.opts...).Sessions(t.Context())
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("with %d options: %v, want %v", len(c.opts), err, c.want)
		}
	}
}

func TestUnixSocketAddress(t *testing.T) {
	sup := startSupervisor(t)
	sock := filepath.Join(t.TempDir(), "gafferd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rest.New(sup, rest.Options{})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	for _, addr := range []string{"unix://" + sock, "unix:" + sock} {
		c, err := client.New(addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(t.Context()); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	c, _ := client.New("unix://" + sock)
	if err := c.Load(t.Context(), "sock", helperJob(t, "web", "sleep"), true); err != nil {
		t.Fatal(err)
	}
	if pids, err := c.Pids(t.Context(), "sock.web"); err != nil || len(pids) != 1 {
		t.Fatalf("Pids over the socket = %v, %v", pids, err)
	}
	missing, _ := client.New("unix://" + filepath.Join(t.TempDir(), "none.sock"))
	if err := missing.Ping(t.Context()); err == nil {
		t.Error("Ping of a missing socket succeeded")
	}
}

func TestNewAddresses(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"http://127.0.0.1:5000", true},
		{"https://gaffer.example:443/prefix/", true},
		{"127.0.0.1:5000", true},
		{"localhost:5000", true},
		{"unix:///run/gafferd/gafferd.sock", true},
		{"unix:relative.sock", true},
		{"unix://", false},
		{"http://", false},
		{"ftp://host", false},
		{"http://[::1", false},
	} {
		c2, err := client.New(c.addr)
		if (err == nil) != c.ok {
			t.Errorf("New(%q) = %v, want ok=%v", c.addr, err, c.ok)
		}
		if err == nil && c2.Address() != c.addr {
			t.Errorf("Address() = %q, want %q", c2.Address(), c.addr)
		}
	}
}

func TestDefaultAddressAndSocket(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GAFFERD_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	sock := filepath.Join(dir, "gafferd", "gafferd.sock")
	if got := client.DefaultSocketPath(); got != sock {
		t.Errorf("DefaultSocketPath with XDG_RUNTIME_DIR = %q, want %q", got, sock)
	}
	if got := client.DefaultAddress(); got != "http://127.0.0.1:5000" {
		t.Errorf("DefaultAddress without a socket = %q", got)
	}
	// A plain file is not a socket.
	os.MkdirAll(filepath.Dir(sock), 0o700)
	os.WriteFile(sock, nil, 0o600)
	if got := client.DefaultAddress(); got != "http://127.0.0.1:5000" {
		t.Errorf("DefaultAddress with a regular file = %q", got)
	}
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := client.DefaultAddress(); got != "unix://"+sock {
		t.Errorf("DefaultAddress with a socket = %q", got)
	}
	t.Setenv("GAFFERD_ADDRESS", "http://10.0.0.1:6000")
	if got := client.DefaultAddress(); got != "http://10.0.0.1:6000" {
		t.Errorf("DefaultAddress with $GAFFERD_ADDRESS = %q", got)
	}

	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", dir)
	want := filepath.Join(dir, fmt.Sprintf("gafferd-%d", os.Geteuid()), "gafferd.sock")
	if os.Geteuid() == 0 {
		want = "/run/gafferd/gafferd.sock"
	}
	if got := client.DefaultSocketPath(); got != want {
		t.Errorf("DefaultSocketPath without XDG_RUNTIME_DIR = %q, want %q", got, want)
	}
}
