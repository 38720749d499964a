package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// keyedDaemon is a gafferd with a gaffer config file (so require_key is on
// by default) on loopback TCP and a unix socket.
type keyedDaemon struct {
	t      *testing.T
	dir    string
	tcp    string // host:port
	sock   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	waited chan error
}

var tcpListeningRe = regexp.MustCompile(`msg=listening addr=tcp:(127\.0\.0\.1:\d+)`)

// configDirWith writes ini as dir/gafferd.ini in a new config directory.
func configDirWith(t *testing.T, ini string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gafferd.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func startKeyed(t *testing.T, dir string, extra ...string) *keyedDaemon {
	t.Helper()
	d := &keyedDaemon{t: t, dir: dir, sock: filepath.Join(dir, "run", "gafferd.sock"), stderr: &syncBuffer{}, waited: make(chan error, 1)}
	args := append([]string{"-c", dir, "--bind", "127.0.0.1:0,unix:" + d.sock}, extra...)
	d.cmd = exec.Command(gafferdBin, args...)
	d.cmd.Stderr = d.stderr
	d.cmd.Dir = dir
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.waited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("gafferd stderr:\n%s", d.stderr)
		}
	})
	gaffertest.Eventually(t, 10*time.Second, "gafferd listening on TCP", func() bool {
		if m := tcpListeningRe.FindStringSubmatch(d.stderr.String()); m != nil {
			d.tcp = m[1]
			return true
		}
		return false
	})
	gaffertest.Eventually(t, 10*time.Second, "gafferd started", func() bool {
		return strings.Contains(d.stderr.String(), "gafferd started")
	})
	return d
}

// stop ends gafferd with SIGTERM, once.
func (d *keyedDaemon) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.waited:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.waited
		d.t.Error("gafferd did not stop on SIGTERM")
	}
}

// req sends a request to the TCP listener; hdr are header name/value pairs.
func (d *keyedDaemon) req(method, path, body string, hdr ...string) (int, string) {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, "http://"+d.tcp+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(r)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// createAdmin runs gafferd --create-admin-user and returns the key it prints.
func createAdmin(t *testing.T, dir, name, password string) string {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(password+"\n"), 0o600)
	out, err := exec.Command(gafferdBin, "-c", dir, "--create-admin-user", name, "--password-file", pwFile).CombinedOutput()
	m := regexp.MustCompile(`(?m)^User '` + name + `' created\.\nAPI Key: ([0-9a-f]{32})$`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("--create-admin-user: %v\n%s", err, out)
	}
	return m[1]
}

const sleeperJob = `
[job:web]
cmd = %s
numprocesses = 1
env:GAFFER_HELPER = sleep
env:GORACE = atexit_sleep_ms=0
`

func sleeperConfig(t *testing.T) string {
	return strings.Replace(sleeperJob, "%s", gaffertest.Self(t), 1)
}

func TestKeysGuardEveryTransport(t *testing.T) {
	dir := configDirWith(t, sleeperConfig(t))
	admin := createAdmin(t, dir, "root", "rootpw")
	out, err := exec.Command(gafferdBin, "-c", dir, "--list-admins").CombinedOutput()
	if err != nil || string(out) != "root - "+admin+"\n" {
		t.Fatalf("--list-admins: %v %q", err, out)
	}
	if out, err := exec.Command(gafferdBin, "-c", dir, "--create-admin-user", "root", "--password-file", "/dev/null").CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("creating root twice: %v %s", err, out)
	}
	d := startKeyed(t, dir)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// REST: 401 without a key, 200 with the admin's.
	if status, body := d.req("GET", "/jobs", ""); status != 401 {
		t.Fatalf("GET /jobs without a key over TCP: %d %s", status, body)
	}
	if status, body := d.req("GET", "/jobs", "", "X-Api-Key", admin); status != 200 || !strings.Contains(body, "default.web") {
		t.Fatalf("GET /jobs with the admin key: %d %s", status, body)
	}
	// The unix socket is trusted: no key needed.
	uc, err := client.New("unix://" + d.sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Jobs(ctx, ""); err != nil {
		t.Fatalf("unix socket without a key: %v", err)
	}

	// A read-only key and a user acting with it, made over the API.
	ac, _ := client.New("http://"+d.tcp, client.WithAPIKey(admin))
	ro, err := ac.CreateKey(ctx, client.Permissions{Read: []string{"default.web"}}, "read-only", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ac.CreateUser(ctx, client.User{Username: "viewer", Key: ro}, "viewpw"); err != nil {
		t.Fatal(err)
	}
	anon, _ := client.New("http://" + d.tcp)
	if key, err := anon.Login(ctx, "viewer", "viewpw"); err != nil || key != ro {
		t.Fatalf("login: %q %v", key, err)
	}
	rc, _ := client.New("http://"+d.tcp, client.WithAPIKey(ro))
	if _, err := rc.Info(ctx, "default.web"); err != nil {
		t.Errorf("read-only key reading its job: %v", err)
	}
	if err := rc.Stop(ctx, "default.web"); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("read-only key stopping its job: %v, want forbidden", err)
	}

	// Websocket: the first message must be AUTH:<key>; a read-only key may
	// not subscribe to everything nor run commands.
	ch, err := anon.Channel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Subscribe(ctx, "EVENTS"); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("channel without AUTH: %v, want AUTH_REQUIRED", err)
	}
	ch, err = rc.Channel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Subscribe(ctx, "EVENTS"); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("read-only SUB EVENTS: %v, want forbidden", err)
	}
	if _, err := ch.Command(ctx, "stop_job", []any{"default.web"}, nil); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("read-only CMD stop_job: %v, want forbidden", err)
	}
	if _, err := ch.Command(ctx, "info", []any{"default.web"}, nil); err == nil {
		t.Errorf("read-only CMD info (needs manage): allowed")
	}
	if info, err := uc.Info(ctx, "default.web"); err != nil || info.Running != 1 {
		t.Errorf("the job after the refused commands: %+v %v", info, err)
	}

	// XML-RPC: Basic credentials of a user; read methods pass, control
	// methods need manage.
	rpc := func(user, pass, method string, params ...string) (int, string) {
		body := "<?xml version='1.0'?><methodCall><methodName>" + method + "</methodName><params>"
		for _, p := range params {
			body += "<param><value><string>" + p + "</string></value></param>"
		}
		body += "</params></methodCall>"
		hdr := []string{"Content-Type", "text/xml"}
		if user != "" {
			r, _ := http.NewRequest("GET", "/", nil)
			r.SetBasicAuth(user, pass)
			hdr = append(hdr, "Authorization", r.Header.Get("Authorization"))
		}
		return d.req("POST", "/RPC2", body, hdr...)
	}
	if status, _ := rpc("", "", "supervisor.getState"); status != 401 {
		t.Errorf("XML-RPC without credentials: %d, want 401", status)
	}
	if status, _ := rpc("viewer", "wrong", "supervisor.getState"); status != 401 {
		t.Errorf("XML-RPC with a wrong password: %d, want 401", status)
	}
	// gaffer jobs are not supervisor programs (BAD_NAME): what matters
	// here is that the read passes the permission check.
	if status, body := rpc("viewer", "viewpw", "supervisor.getProcessInfo", "default:web"); status != 200 || strings.Contains(body, "forbidden") {
		t.Errorf("XML-RPC getProcessInfo as viewer: %d %s", status, body)
	}
	if status, body := rpc("viewer", "viewpw", "supervisor.stopProcess", "default:web"); status != 200 || !strings.Contains(body, "<fault>") || !strings.Contains(body, "forbidden") {
		t.Errorf("XML-RPC stopProcess as viewer: %d %s, want a forbidden fault", status, body)
	}
	if status, body := rpc("viewer", "viewpw", "supervisor.shutdown"); !strings.Contains(body, "<fault>") {
		t.Errorf("XML-RPC shutdown as viewer: %d %s, want a fault", status, body)
	}
	if status, body := rpc("root", "rootpw", "supervisor.stopProcess", "default:web"); status != 200 || strings.Contains(body, "forbidden") {
		t.Errorf("XML-RPC as root: %d %s", status, body)
	}

	// Keys and users survive a restart.
	d.stop()
	d = startKeyed(t, dir)
	if status, body := d.req("GET", "/jobs/default/web", "", "X-Api-Key", ro); status != 200 {
		t.Errorf("read-only key after a restart: %d %s", status, body)
	}
	anon, _ = client.New("http://" + d.tcp)
	if key, err := anon.Login(ctx, "viewer", "viewpw"); err != nil || key != ro {
		t.Errorf("login after a restart: %q %v", key, err)
	}
	for _, f := range []string{"keys.db", "auth.db"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, err, fi)
		}
	}
}

func TestHostAndOriginChecks(t *testing.T) {
	d := startKeyed(t, configDirWith(t, "[gaffer]\nrequire_key = false\nallowed_origins = https://dash.example.com\n"))
	if status, _ := d.req("GET", "/jobs", "", "Host", "localhost"); status != 200 {
		t.Errorf("Host localhost: %d", status)
	}
	if status, body := d.req("GET", "/jobs", "", "Host", "rebind.example:5000"); status != http.StatusMisdirectedRequest {
		t.Errorf("Host rebind.example: %d %s, want 421", status, body)
	}
	if status, body := d.req("POST", "/jobs/app", `{"name":"x","cmd":"true"}`, "Origin", "http://evil.example"); status != 403 || !strings.Contains(body, "allowed_origins") {
		t.Errorf("cross-origin POST: %d %s, want 403", status, body)
	}
	if status, body := d.req("GET", "/jobs", "", "Origin", "https://dash.example.com"); status != 200 {
		t.Errorf("allowed origin: %d %s", status, body)
	}
	if status, body := d.req("GET", "/jobs", "", "Origin", "http://"+d.tcp); status != 200 {
		t.Errorf("same origin: %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws://"+d.tcp+"/channel/websocket", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("cross-origin websocket: %v %v, want 403", resp, err)
	}
	c, _, err := websocket.Dial(ctx, "ws://"+d.tcp+"/channel/websocket", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://dash.example.com"}}})
	if err != nil {
		t.Errorf("websocket from an allowed origin: %v", err)
	} else {
		c.CloseNow()
	}
}

func TestNonLoopbackBindNeedsAuth(t *testing.T) {
	dir := configDirWith(t, "[gaffer]\nrequire_key = false\n")
	out, err := exec.Command(gafferdBin, "-c", dir, "--bind", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "require_key = true") || !strings.Contains(string(out), "--insecure-remote") {
		t.Fatalf("non-loopback bind, keys off: %v\n%s, want a refusal saying how to allow it", err, out)
	}
	// With keys on (the default with a config file), it is allowed.
	dir = configDirWith(t, "")
	cmd := exec.Command(gafferdBin, "-c", dir, "--bind", "0.0.0.0:0")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}()
	gaffertest.Eventually(t, 10*time.Second, "gafferd listening on 0.0.0.0", func() bool {
		return strings.Contains(stderr.String(), "gafferd started")
	})
}
