package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

func TestFcgiProgramPool(t *testing.T) {
	c := smustParse(t, "[supervisord]\n[fcgi-program:php]\ncommand=php-cgi\nnumprocs=3\n"+
		"process_name=%(program_name)s_%(process_num)d\nuser=www\nsocket=unix:///run/%(program_name)s.sock\n"+
		"socket_backlog=64\nsocket_mode=0660\n")
	if len(c.Jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(c.Jobs))
	}
	want := supervisor.Socket{Network: "unix", Address: "/run/php.sock", Backlog: 64, Owner: "www", Mode: 0o660, Stdin: true}
	for _, j := range c.Jobs {
		if j.Session != "php" || len(j.Config.Sockets) != 1 || j.Config.Sockets[0] != want {
			t.Errorf("%s: sockets %+v, want [%+v]", j.FullName(), j.Config.Sockets, want)
		}
		if j.Config.RedirectInput {
			t.Errorf("%s: stdin is a pipe, want the socket", j.FullName())
		}
	}
	if g := c.Supervisord.Groups; len(g) != 1 || g[0].Name != "php" || len(g[0].Processes) != 3 {
		t.Errorf("groups %+v", g)
	}

	c = smustParse(t, "[supervisord]\n[fcgi-program:web]\ncommand=w\nsocket=tcp://127.0.0.1:9000\n"+
		"[group:pool]\nprograms=web\n")
	if s := c.Jobs[0].Config.Sockets; c.Jobs[0].Session != "pool" || len(s) != 1 ||
		s[0] != (supervisor.Socket{Network: "tcp", Address: "127.0.0.1:9000", Stdin: true}) {
		t.Errorf("tcp fcgi-program in a group: %s %+v", c.Jobs[0].FullName(), s)
	}
}

func TestSocketConfigErrors(t *testing.T) {
	sup := "[supervisord]\n"
	for _, tc := range []struct{ name, src, key, msg string }{
		{"bad scheme", sup + "[fcgi-program:a]\ncommand=x\nsocket=http://x:1\n", "socket", "want tcp"},
		{"relative unix path", sup + "[fcgi-program:a]\ncommand=x\nsocket=unix://run/a.sock\n", "socket", "absolute path"},
		{"backlog out of range", sup + "[fcgi-program:a]\ncommand=x\nsocket=tcp://:1\nsocket_backlog=0\n", "socket_backlog", ""},
		{"bad mode", sup + "[fcgi-program:a]\ncommand=x\nsocket=unix:///a\nsocket_mode=999\n", "socket_mode", ""},
		{"socket on a program", sup + "[program:a]\ncommand=x\nsocket=tcp://:1\n", "socket", ""},
		{"bad sockets", sup + "[program:a]\ncommand=x\nsockets=web=tcp://127.0.0.1:99999\n", "sockets", "port"},
		{"unnamed port", sup + "[program:a]\ncommand=x\nsockets=web=tcp://127.0.0.1\n", "sockets", "HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := sproblems(t, tc.src)
			found := false
			for _, p := range ps {
				if p.Key == tc.key && strings.Contains(p.Error(), tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem at key %q containing %q: %v", tc.key, tc.msg, ps)
			}
		})
	}
}

func TestSocketActivationKeys(t *testing.T) {
	want := []supervisor.Socket{
		{Name: "web", Network: "tcp", Address: "127.0.0.1:8080"},
		{Name: "admin", Network: "unix", Address: "/run/app.sock"},
	}
	check := func(what string, got []supervisor.Socket) {
		t.Helper()
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: %+v, want %+v", what, got, want)
		}
	}
	line := "web=tcp://127.0.0.1:8080, admin=unix:///run/app.sock"

	c := smustParse(t, "[supervisord]\n[program:app]\ncommand=app\nsockets="+line+"\n")
	check("supervisord.conf", c.Jobs[0].Config.Sockets)
	if !c.Jobs[0].Config.RedirectInput {
		t.Error("sockets must not take stdin")
	}

	ini, err := Parse("gaffer.ini", []byte("[job:app]\ncmd = app\nsockets = "+line+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	check("gafferd INI", ini.Jobs[0].Config.Sockets)

	for _, src := range []string{
		`{"name": "app", "cmd": "app", "sockets": "` + line + `"}`,
		`{"name": "app", "cmd": "app", "sockets": ["web=tcp://127.0.0.1:8080", {"name": "admin", "address": "unix:///run/app.sock"}]}`,
	} {
		jobs, err := LoadJSONJobs("jobs.json", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		check("JSON "+src, jobs[0].Config.Sockets)
	}

	_, err = Parse("gaffer.ini", []byte("[job:app]\ncmd = app\nsockets = web=ftp://x\n"))
	if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "sockets") {
		t.Errorf("bad sockets in INI: %v", err)
	}
}

func FuzzParseSockets(f *testing.F) {
	for _, s := range []string{"web=tcp://127.0.0.1:8080, admin=unix:///run/app.sock", "tcp://:80", "unix:///a",
		"a=tcp6://[::1]:1", "x=", "=tcp://*:1", "a=tcp://h:1,a=tcp://h:2", ",", "unix://", "tcp://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ss, err := parseSockets(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("%q: error %v is not ErrInvalidValue", s, err)
			}
			return
		}
		for _, sk := range ss {
			again, err := supervisor.ParseSocketURL(sk.Name, sk.URL())
			if err != nil || again != sk {
				t.Fatalf("%q: %+v does not round-trip through %q: %+v %v", s, sk, sk.URL(), again, err)
			}
		}
	})
}
