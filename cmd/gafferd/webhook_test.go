package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// webhookPost is one POST a test receiver got from gafferd.
type webhookPost struct {
	path, contentType, userAgent string
	msg                          map[string]any
	err                          error // the body was not a JSON object
}

func (p webhookPost) osPid() int {
	f, _ := p.msg["os_pid"].(float64)
	return int(f)
}

func TestWebhooksPostEventsAndFollowReload(t *testing.T) {
	posts := make(chan webhookPost, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := webhookPost{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent")}
		b, _ := io.ReadAll(r.Body)
		p.err = json.Unmarshal(b, &p.msg)
		posts <- p
	}))
	t.Cleanup(srv.Close) // after gafferd has stopped: cleanups run last-in first-out
	next := func(what string) webhookPost {
		t.Helper()
		select {
		case p := <-posts:
			if p.err != nil {
				t.Fatalf("%s: body is not a JSON object: %v", p.path, p.err)
			}
			return p
		case <-time.After(10 * time.Second):
			t.Fatalf("no webhook POST within 10s: waiting for %s", what)
			return webhookPost{}
		}
	}

	d := startDaemon(t, fmt.Sprintf(`
[webhooks]
spawn = %s/spawn
[job:web]
cmd = sleep 300
`, srv.URL))
	p := next("the spawn of web")
	first := d.osPids("default.web")
	if p.path != "/spawn" || p.msg["event"] != "spawn" || p.msg["name"] != "default.web" || p.osPid() != first[0] {
		t.Fatalf("POST %s %v, want spawn of default.web with os_pid %d", p.path, p.msg, first[0])
	}
	if p.contentType != "application/json" || p.userAgent != "gaffer/"+Version {
		t.Errorf("Content-Type %q, User-Agent %q", p.contentType, p.userAgent)
	}

	// Replace the spawn hook by two others and change the job, so that its
	// process is replaced: an exit, then a spawn.
	d.writeConfig(fmt.Sprintf(`
[webhooks]
exit = %[1]s/exit
job.default.web.spawn = %[1]s/job-spawn
[job:web]
cmd = sleep 301
`, srv.URL))
	d.cmd.Process.Signal(syscall.SIGHUP)
	got := map[string]webhookPost{}
	for range 2 {
		p := next("the exit and spawn of the reload")
		if _, dup := got[p.path]; dup {
			t.Fatalf("a second POST to %s: %v", p.path, p.msg)
		}
		got[p.path] = p
	}
	second := d.osPids("default.web")
	if p := got["/exit"]; p.msg["event"] != "exit" || p.osPid() != first[0] {
		t.Errorf("/exit got %v, want the exit of os_pid %d", p.msg, first[0])
	}
	if p := got["/job-spawn"]; p.msg["event"] != "job.default.web.spawn" || p.osPid() != second[0] {
		t.Errorf("/job-spawn got %v, want the spawn of os_pid %d", p.msg, second[0])
	}

	// On SIGTERM the last exit is posted before gafferd exits, and the
	// removed spawn hook never heard of the new process.
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.waited:
		d.waited <- err
		if err != nil {
			t.Fatalf("gafferd exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gafferd did not exit on SIGTERM")
	}
	p = next("the exit at shutdown")
	if p.path != "/exit" || p.osPid() != second[0] {
		t.Errorf("POST %s %v, want the exit of os_pid %d", p.path, p.msg, second[0])
	}
	select {
	case p := <-posts:
		t.Errorf("unexpected POST %s %v", p.path, p.msg)
	default:
	}
}
