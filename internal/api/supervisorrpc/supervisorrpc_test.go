package supervisorrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

type rig struct {
	t   testing.TB
	sup *supervisor.Supervisor
	url string
}

func newRig(t testing.TB) *rig {
	sup := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	t.Cleanup(func() { cancel(); <-sup.Done() })
	srv := xmlrpc.NewServer()
	Register(srv, &Daemon{Sup: sup, Version: "test", Identification: "supervisor",
		State: func() int { return 1 }})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &rig{t: t, sup: sup, url: hs.URL}
}

func (r *rig) load(group, name, helper string, startsecs time.Duration, autostart bool) {
	cfg := supervisor.NewJobConfig(name, gaffertest.Self(r.t))
	cfg.Env = map[string]string{gaffertest.HelperEnv: helper}
	cfg.Program = supervisor.DefaultProgram(group)
	cfg.Program.StartSecs = startsecs
	cfg.RedirectOutput = []string{"stdout", "stderr"}
	cfg.RedirectInput = true
	cfg.GracefulTimeout = 5 * time.Second
	if err := r.sup.Load(context.Background(), group, cfg, autostart); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) call(method string, params ...any) (any, error) {
	var body bytes.Buffer
	if err := xmlrpc.EncodeRequest(&body, method, params...); err != nil {
		r.t.Fatal(err)
	}
	resp, err := (&httptestClient{}).post(r.url+"/RPC2", &body)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	return xmlrpc.DecodeResponse(resp.Body)
}

func wantFault(t *testing.T, err error, code int) {
	t.Helper()
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.Code != code {
		t.Fatalf("err = %v, want fault %s", err, xmlrpc.FaultName(code))
	}
}

func TestStartStopAndFaults(t *testing.T) {
	r := newRig(t)
	r.load("web", "web", "sleep", 0, false)
	if v, err := r.call("supervisor.startProcess", "web"); err != nil || v != true {
		t.Fatalf("startProcess = %v, %v", v, err)
	}
	_, err := r.call("supervisor.startProcess", "web")
	wantFault(t, err, xmlrpc.AlreadyStarted)
	_, err = r.call("supervisor.startProcess", "nope")
	wantFault(t, err, xmlrpc.BadName)
	_, err = r.call("supervisor.signalProcess", "web", "NOPE")
	wantFault(t, err, xmlrpc.BadSignal)
	info, err := r.call("supervisor.getProcessInfo", "web:web")
	if err != nil {
		t.Fatal(err)
	}
	m := info.(map[string]any)
	if m["statename"] != "RUNNING" || m["state"] != 20 || m["pid"].(int) == 0 || m["group"] != "web" {
		t.Fatalf("process info = %v", m)
	}
	if desc := m["description"].(string); len(desc) < len("pid 1, uptime 0:00:00") || desc[:4] != "pid " {
		t.Fatalf("description = %q", desc)
	}
	if v, err := r.call("supervisor.stopProcess", "web"); err != nil || v != true {
		t.Fatalf("stopProcess = %v, %v", v, err)
	}
	_, err = r.call("supervisor.stopProcess", "web")
	wantFault(t, err, xmlrpc.NotRunning)
	info, _ = r.call("supervisor.getProcessInfo", "web")
	if m := info.(map[string]any); m["statename"] != "STOPPED" || m["pid"] != 0 {
		t.Fatalf("after stop: %v", m)
	}
	_, err = r.call("supervisor.sendProcessStdin", "web", "x")
	wantFault(t, err, xmlrpc.NotRunning)
}

func TestGroupOperationsReturnStatusStructs(t *testing.T) {
	r := newRig(t)
	r.load("g", "a", "sleep", 0, false)
	r.load("g", "b", "sleep", 0, false)
	r.load("other", "other", "exit", 10*time.Second, false) // dies before startsecs: spawn error
	v, err := r.call("supervisor.startProcessGroup", "g")
	if err != nil {
		t.Fatal(err)
	}
	res := v.([]any)
	if len(res) != 2 {
		t.Fatalf("startProcessGroup = %v", res)
	}
	for _, x := range res {
		if st := x.(map[string]any); st["status"] != xmlrpc.Success || st["description"] != "OK" || st["group"] != "g" {
			t.Fatalf("status = %v", st)
		}
	}
	_, err = r.call("supervisor.startProcess", "other")
	wantFault(t, err, xmlrpc.SpawnError)
	v, err = r.call("supervisor.stopAllProcesses")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.([]any)) != 3 { // processes in running states, BACKOFF included
		t.Fatalf("stopAllProcesses = %v", v)
	}
	all, _ := r.call("supervisor.getAllProcessInfo")
	var names []string
	for _, x := range all.([]any) {
		m := x.(map[string]any)
		names = append(names, m["group"].(string)+":"+m["name"].(string))
	}
	if len(names) != 3 || names[0] != "g:a" || names[1] != "g:b" || names[2] != "other:other" {
		t.Fatalf("getAllProcessInfo order = %v", names)
	}
}

func TestDescriptions(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start.Add(26*time.Hour + 3*time.Minute + 7*time.Second)
	for _, tt := range []struct {
		info supervisor.ProgramInfo
		want string
	}{
		{supervisor.ProgramInfo{State: supervisor.StateRunning, Pid: 42, Start: start}, "pid 42, uptime 1 day, 2:03:07"},
		{supervisor.ProgramInfo{State: supervisor.StateStopped}, "Not started"},
		{supervisor.ProgramInfo{State: supervisor.StateFatal, SpawnErr: "can't find command"}, "can't find command"},
		{supervisor.ProgramInfo{Name: "x", State: supervisor.StateBackoff}, `unknown error (try "tail x")`},
		{supervisor.ProgramInfo{State: supervisor.StateStarting}, ""},
		{supervisor.ProgramInfo{State: supervisor.StateStopped, Waiting: "waiting for db: healthy"}, "waiting for db: healthy"},
		{supervisor.ProgramInfo{State: supervisor.StateRunning, Pid: 7, Start: now.Add(-65 * time.Second), Waiting: "stale"}, "pid 7, uptime 0:01:05"},
		{supervisor.ProgramInfo{State: supervisor.StateRunning, Pid: 8, Start: start.Add(-48 * time.Hour)}, "pid 8, uptime 3 days, 2:03:07"},
	} {
		if got := description(tt.info, now); got != tt.want {
			t.Errorf("description(%v) = %q, want %q", tt.info.State, got, tt.want)
		}
	}
}

type httptestClient struct{}

func (httptestClient) post(url string, body *bytes.Buffer) (*http.Response, error) {
	return http.Post(url, "text/xml", body)
}

// BenchmarkGetAllProcessInfo100 is supervisorctl status with 100 programs,
// over HTTP on loopback.
func BenchmarkGetAllProcessInfo100(b *testing.B) {
	r := newRig(b)
	for i := range 100 {
		cfg := supervisor.NewJobConfig(fmt.Sprintf("p%03d", i), "sleep 600")
		cfg.Program = supervisor.DefaultProgram(fmt.Sprintf("p%03d", i))
		cfg.Program.StartSecs = 0
		if err := r.sup.Load(context.Background(), cfg.Name, cfg, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.call("supervisor.getAllProcessInfo"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAllProcessInfo100Server is the server's share of a call.
func BenchmarkGetAllProcessInfo100Server(b *testing.B) {
	sup := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	defer func() { cancel(); <-sup.Done() }()
	srv := xmlrpc.NewServer()
	Register(srv, &Daemon{Sup: sup, State: func() int { return 1 }})
	for i := range 100 {
		cfg := supervisor.NewJobConfig(fmt.Sprintf("p%03d", i), "sleep 600")
		cfg.Program = supervisor.DefaultProgram(cfg.Name)
		cfg.Program.StartSecs = 0
		if err := sup.Load(ctx, cfg.Name, cfg, true); err != nil {
			b.Fatal(err)
		}
	}
	var body bytes.Buffer
	xmlrpc.EncodeRequest(&body, "supervisor.getAllProcessInfo")
	req := body.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("POST", "/RPC2", bytes.NewReader(req)))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
