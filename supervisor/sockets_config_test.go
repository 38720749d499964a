package supervisor_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

func TestSocketsValidate(t *testing.T) {
	tcp := supervisor.Socket{Name: "web", Network: "tcp", Address: "127.0.0.1:80"}
	for _, tc := range []struct {
		name  string
		edit  func(*supervisor.JobConfig)
		match string
	}{
		{"two on stdin", func(c *supervisor.JobConfig) {
			a, b := tcp, tcp
			a.Stdin, b.Stdin, b.Name, b.Address = true, true, "b", "127.0.0.1:81"
			c.Sockets = []supervisor.Socket{a, b}
		}, "at most one"},
		{"stdin socket and pipe", func(c *supervisor.JobConfig) {
			a := tcp
			a.Stdin = true
			c.Sockets, c.RedirectInput = []supervisor.Socket{a}, true
		}, "redirect_input"},
		{"same address twice", func(c *supervisor.JobConfig) {
			b := tcp
			b.Name = "other"
			c.Sockets = []supervisor.Socket{tcp, b}
		}, "listed twice"},
		{"same name twice", func(c *supervisor.JobConfig) {
			b := tcp
			b.Address = "127.0.0.1:81"
			c.Sockets = []supervisor.Socket{tcp, b}
		}, "used twice"},
		{"mode on tcp", func(c *supervisor.JobConfig) {
			a := tcp
			a.Mode = 0o600
			c.Sockets = []supervisor.Socket{a}
		}, "unix sockets only"},
		{"name with colon", func(c *supervisor.JobConfig) {
			a := tcp
			a.Name = "a:b"
			c.Sockets = []supervisor.Socket{a}
		}, "name"},
		{"backlog", func(c *supervisor.JobConfig) {
			a := tcp
			a.Backlog = 70000
			c.Sockets = []supervisor.Socket{a}
		}, "backlog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := supervisor.NewJobConfig("j", "x")
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, supervisor.ErrBadValue) || !strings.Contains(err.Error(), tc.match) {
				t.Errorf("Validate: %v, want ErrBadValue mentioning %q", err, tc.match)
			}
		})
	}
}

func TestSocketsJSONRoundTrip(t *testing.T) {
	c := supervisor.NewJobConfig("j", "x")
	c.Sockets = []supervisor.Socket{{Name: "web", Network: "tcp6", Address: "[::1]:80", Backlog: 10},
		{Network: "unix", Address: "/run/a.sock", Owner: "www:www", Mode: 0o660, Stdin: true}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mode":"0660"`) || !strings.Contains(string(b), `"address":"unix:///run/a.sock"`) {
		t.Errorf("JSON %s", b)
	}
	var back supervisor.JobConfig
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !c.Equal(back) || len(back.Sockets) != 2 || back.Sockets[1] != c.Sockets[1] {
		t.Errorf("round trip: %+v", back.Sockets)
	}
	err = json.Unmarshal([]byte(`{"name":"j","cmd":"x","sockets":[{"address":"tcp://:1","mod":"0600"}]}`), &back)
	if err == nil || !strings.Contains(err.Error(), "mod") {
		t.Errorf("unknown socket key: %v", err)
	}
}

func FuzzSocketsJSON(f *testing.F) {
	for _, s := range []string{`"web=tcp://127.0.0.1:8080, admin=unix:///run/app.sock"`, `["tcp://:80"]`,
		`[{"name":"a","address":"unix:///a","mode":"0600","owner":"root","backlog":5,"stdin":true}]`,
		`[{"address":"tcp6://[::1]:1","mode":"9"}]`, `[1]`, `{}`, `null`, `[""]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var c supervisor.JobConfig
		if json.Unmarshal([]byte(`{"name":"j","cmd":"x","sockets":`+v+`}`), &c) != nil || c.Validate() != nil {
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back supervisor.JobConfig
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: re-read %s: %v", v, b, err)
		}
		if len(back.Sockets) != len(c.Sockets) {
			t.Fatalf("%s: %+v became %+v", v, c.Sockets, back.Sockets)
		}
		for i := range c.Sockets {
			if back.Sockets[i] != c.Sockets[i] {
				t.Fatalf("%s: %+v became %+v", v, c.Sockets[i], back.Sockets[i])
			}
		}
	})
}
