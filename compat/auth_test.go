package compat

import (
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestAuthPlainPassword(t *testing.T) {
	both(t, func(t *testing.T, k kind) { testAuth(t, k, "secret") })
}

func TestAuthSHAPassword(t *testing.T) {
	sum := sha1.Sum([]byte("secret"))
	both(t, func(t *testing.T, k kind) { testAuth(t, k, "{SHA}"+hex.EncodeToString(sum[:])) })
}

// testAuth: the inet server requires user/secret (configured as password),
// the unix server requires nothing.
func testAuth(t *testing.T, k kind, password string) {
	port := freePort(t)
	d := start(t, k, setup{
		Inet:     &inet{Port: port, Username: "user", Password: password},
		Sections: []string{program("web", "command=sleep 1000", "startsecs=0")},
	})
	d.waitState("web", "RUNNING", 10*time.Second)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	const status = "web                              RUNNING   pid N, uptime U\n"

	ctl := func(wantCode int, want string, args ...string) {
		t.Helper()
		out, code := d.ctlWith(append([]string{"-c", d.conf}, args...)...)
		if got := normalize(out); got != want || code != wantCode {
			t.Errorf("supervisorctl %s:\n got (exit %d):\n%s\nwant (exit %d):\n%s", strings.Join(args, " "), code, got, wantCode, want)
		}
	}
	ctl(0, status, "-s", url, "-u", "user", "-p", "secret", "status", "web")
	ctl(0, "web: stopped\n", "-s", url, "-u", "user", "-p", "secret", "stop", "web")
	ctl(0, "web: started\n", "-s", url, "-u", "user", "-p", "secret", "start", "web")
	// supervisorctl then prints its ProtocolError (naming its own source
	// file, which varies by installation): compare the first line and the
	// status.
	for _, creds := range [][2]string{{"user", "wrong"}, {"intruder", "secret"}, {"user", ""}} {
		args := []string{"-c", d.conf, "-s", url, "-u", creds[0], "-p", creds[1], "status", "web"}
		out, code := d.ctlWith(args...)
		first, rest, _ := strings.Cut(out, "\n")
		if first != "Server requires authentication" || !strings.Contains(rest, "401 Unauthorized") || code != 1 {
			t.Errorf("supervisorctl %s (exit %d):\n%s\nwant exit 1, Server requires authentication and 401 Unauthorized",
				strings.Join(args, " "), code, out)
		}
	}
	// The unix server has no credentials.
	ctl(0, status, "-s", "unix://"+d.sock, "status", "web")

	// Raw HTTP on the inet server.
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(user, pass string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/RPC2", strings.NewReader(methodCall("supervisor.getAPIVersion")))
		req.Header.Set("Content-Type", "text/xml")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			if v, err := decodeResponse(body); v != "3.0" || err != nil {
				t.Errorf("getAPIVersion over TCP = %#v, %v", v, err)
			}
		}
		return resp.StatusCode
	}
	if code := post("", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /RPC2 without credentials: HTTP %d, want 401", code)
	}
	if code := post("user", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("POST /RPC2 with a wrong password: HTTP %d, want 401", code)
	}
	if code := post("user", "secret"); code != http.StatusOK {
		t.Errorf("POST /RPC2 with the right credentials: HTTP %d, want 200", code)
	}
	if password != "secret" {
		// {SHA}: the digest itself is not a password.
		if code := post("user", strings.TrimPrefix(password, "{SHA}")); code != http.StatusUnauthorized {
			t.Errorf("POST /RPC2 with the digest as password: HTTP %d, want 401", code)
		}
	}
	resp, err := client.Get(url + "/logtail/web")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /logtail/web without credentials: HTTP %d, want 401", resp.StatusCode)
	}
}
