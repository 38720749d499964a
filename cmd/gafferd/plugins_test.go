package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// probePlugin writes a plugin "probe" whose program records its pid and
// environment, then sleeps; and a _site with an index page.
func probePlugin(t *testing.T, dir, out string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "probe", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "probe", "_site", "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf '%s\\n%s\\n%s\\n' \"$$\" \"$GAFFER_SOCKET\" \"$GAFFER_API_KEY\" > " + out + ".tmp\nmv " + out + ".tmp " + out + "\nexec sleep 300\n"
	for name, data := range map[string]string{
		"probe/bin/probe":        script,
		"probe/_site/index.html": "<h1>probe plugin</h1>\n",
		"probe/_site/css/a.css":  "h1{}\n",
		"notaplugin/readme.txt":  "no executable, no site\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlugins(t *testing.T) {
	dir := t.TempDir()
	pdir := filepath.Join(dir, "myplugins")
	out := filepath.Join(dir, "probe.out")
	probePlugin(t, pdir, out)
	conf := filepath.Join(dir, "gaffer.ini") // a gaffer file: API keys required
	if err := os.WriteFile(conf, []byte("[gaffer]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "gafferd.sock")
	stderr := &syncBuffer{}
	cmd := exec.Command(gafferdBin, "-c", conf, "--bind", "unix:"+sock, "-p", pdir)
	cmd.Stderr = stderr
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-waited
			t.Error("gafferd did not stop on SIGTERM")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("gafferd stderr:\n%s", stderr)
		}
	})
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := hc.Get("http://gafferd" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The plugin runs, with the socket and a key of its own.
	var lines []string
	gaffertest.Eventually(t, 10*time.Second, "the plugin wrote its environment", func() bool {
		b, err := os.ReadFile(out)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		return err == nil && len(lines) == 3
	})
	pid, err := strconv.Atoi(lines[0])
	if err != nil {
		t.Fatalf("plugin output %q", lines)
	}
	if lines[1] != sock {
		t.Errorf("GAFFER_SOCKET = %q, want %q", lines[1], sock)
	}
	key := lines[2]
	if code, body := get("/keys/" + key); code != 200 || !strings.Contains(body, `"manage":["*"]`) {
		t.Errorf("GET /keys/<plugin key>: %d %s", code, body)
	}
	if code, body := get("/jobs/plugins/probe"); code != 200 || !strings.Contains(body, `"running":1`) {
		t.Errorf("GET /jobs/plugins/probe: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(pdir, "notaplugin")); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/jobs/plugins/notaplugin"); code != 404 {
		t.Errorf("a folder without executable became a job: %d", code)
	}

	// Its site, read-only, confined to _site.
	for path, want := range map[string]string{
		"/_plugin/probe/":            "<h1>probe plugin</h1>",
		"/_plugin/probe/index.html":  "", // FileServer redirects index.html to ./
		"/_plugin/probe/css/a.css":   "h1{}",
		"/_plugin/probe/css/":        `<a href="a.css">`,
		"/_plugin/probe/../../probe": "",
	} {
		code, body := get(path)
		if want != "" && (code != 200 || !strings.Contains(body, want)) {
			t.Errorf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	for _, path := range []string{"/_plugin/probe/bin/probe", "/_plugin/probe/..%2fbin%2fprobe", "/_plugin/nope/", "/_plugin/notaplugin/readme.txt"} {
		if code, body := get(path); code != 404 && code != 400 {
			t.Errorf("GET %s: %d %q, want 404", path, code, body)
		}
	}
	if code, _ := get("/_plugin/probe/index.html"); code != 301 && code != 200 {
		t.Errorf("GET /_plugin/probe/index.html: %d", code)
	}

	// A crash is restarted.
	syscall.Kill(pid, syscall.SIGKILL)
	gaffertest.Eventually(t, 10*time.Second, "the plugin restarted", func() bool {
		b, err := os.ReadFile(out)
		return err == nil && !strings.HasPrefix(string(b), lines[0]+"\n")
	})
	b, _ := os.ReadFile(out)
	pid, _ = strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])

	// Stopped with gafferd, and its key revoked.
	stop()
	if !gaffertest.Gone(pid) {
		t.Errorf("plugin pid %d still alive after gafferd stopped", pid)
	}
	keys, err := os.ReadFile(filepath.Join(dir, "keys.db"))
	if err != nil || strings.Contains(string(keys), key) || !strings.Contains(stderr.String(), "plugin started") {
		t.Errorf("after stop: keys.db (%v) still holds the plugin key, or no start logged:\n%s", err, keys)
	}
}

// TestExamplePlugin runs examples/plugins as the plugins directory: the
// hello plugin starts, logs, and its page is served.
func TestExamplePlugin(t *testing.T) {
	pdir, err := filepath.Abs("../../examples/plugins")
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemonArgs(t, "[gaffer]\n", "-p", pdir)
	gaffertest.Eventually(t, 10*time.Second, "plugins.hello logged its start", func() bool {
		b, err := d.get("/jobs/plugins/hello")
		return err == nil && strings.Contains(string(b), `"running":1`) && strings.Contains(d.stderr.String(), "plugin started")
	})
	b, err := d.get("/_plugin/hello/")
	if err != nil || !strings.Contains(string(b), "<h1>hello plugin</h1>") {
		t.Errorf("GET /_plugin/hello/: %v %s", err, b)
	}
}

// startDaemonArgs is startDaemon with extra gafferd arguments.
func startDaemonArgs(t *testing.T, ini string, args ...string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, daemonOpts{config: ini, args: args})
}
