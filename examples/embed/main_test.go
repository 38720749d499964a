package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	m.Run()
}

// rpc posts one XML-RPC call, as any XML-RPC client would, and returns the
// response body.
func rpc(t *testing.T, url, method, params, key string) string {
	t.Helper()
	body := `<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>` + params + `</params></methodCall>`
	req, _ := http.NewRequest("POST", url+"/RPC2", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s %s", method, resp.Status, b)
	}
	return string(b)
}

func TestEmbed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, "k1") }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(20 * time.Second):
			t.Error("run did not return")
		}
	}()
	url := "http://" + ln.Addr().String()

	// The added route, with its permission (Read: anyone here).
	type hello struct {
		Job     string
		Running int
	}
	get := func() hello {
		t.Helper()
		resp, err := http.Get(url + "/hello/demo.ticker")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h hello
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /hello/demo.ticker: %s, %v", resp.Status, err)
		}
		return h
	}
	gaffertest.Eventually(t, 10*time.Second, "demo.ticker running", func() bool { return get().Running == 1 })
	if h := get(); h.Job != "demo.ticker" {
		t.Errorf("GET /hello/demo.ticker: %+v", h)
	}

	// The added namespace beside supervisor's.
	if got := rpc(t, url, "hello.greet", `<param><value><string>gopher</string></value></param>`, ""); !strings.Contains(got, "<string>hello, gopher</string>") {
		t.Errorf("hello.greet: %s", got)
	}
	if got := rpc(t, url, "hello.greet", ``, ""); !strings.Contains(got, "<int>2</int>") || !strings.Contains(got, "INCORRECT_PARAMETERS: greet(name)") {
		t.Errorf("hello.greet(): %s", got)
	}
	if got := rpc(t, url, "hello.jobs", ``, ""); !strings.Contains(got, "<string>demo.ticker</string>") {
		t.Errorf("hello.jobs: %s", got)
	}
	if got := rpc(t, url, "system.listMethods", ``, ""); !strings.Contains(got, "hello.greet") || !strings.Contains(got, "supervisor.getState") {
		t.Errorf("system.listMethods: %s", got)
	}
	// hello.stop needs Manage: refused without the key, as supervisor's
	// own stopProcess is.
	for _, m := range []string{"hello.stop", "supervisor.stopProcess"} {
		if got := rpc(t, url, m, `<param><value><string>demo.ticker</string></value></param>`, ""); !strings.Contains(got, "forbidden") {
			t.Errorf("%s without a key: %s", m, got)
		}
	}
	if h := get(); h.Running != 1 {
		t.Fatalf("after refused stops: %+v, want 1 running", h)
	}
	// The built-in REST routes go through the same hook.
	req, _ := http.NewRequest("POST", url+"/jobs/demo/ticker/state", bytes.NewReader([]byte("0")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /jobs/demo/ticker/state without a key: %s, want 403", resp.Status)
	}
	if got := rpc(t, url, "hello.stop", `<param><value><string>demo.ticker</string></value></param>`, "k1"); !strings.Contains(got, "<boolean>1</boolean>") {
		t.Errorf("hello.stop with the key: %s", got)
	}
	gaffertest.Eventually(t, 10*time.Second, "demo.ticker stopped", func() bool { return get().Running == 0 })
	if got := rpc(t, url, "hello.stop", `<param><value><string>demo.nope</string></value></param>`, "k1"); !strings.Contains(got, "BAD_NAME: demo.nope") {
		t.Errorf("hello.stop of an unknown job: %s", got)
	}
}
