package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("gaffer.ini", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// problems parses src, which must fail, and returns every problem reported.
func problems(t *testing.T, src string) []*Error {
	t.Helper()
	c, err := Parse("gaffer.ini", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded: %+v", c)
	}
	if c != nil {
		t.Errorf("Parse returned a config with an error")
	}
	var out []*Error
	for _, e := range splitErrors(err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("problem is not a *Error: %v", e)
		}
		out = append(out, ce)
	}
	return out
}

// one parses src, which must fail with exactly one problem.
func one(t *testing.T, src string) *Error {
	t.Helper()
	ps := problems(t, src)
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(ps), ps)
	}
	return ps[0]
}

func jobNames(c *Config) []string {
	var out []string
	for _, j := range c.Jobs {
		out = append(out, j.FullName())
	}
	return out
}

func TestSpecExample(t *testing.T) {
	c, err := Load("testdata/example.ini")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	wantGlobal := Global{
		Bind: []string{"127.0.0.1:5000"}, Backlog: 128, LogLevel: "info", RequireKey: &no,
		LookupdAddresses: []string{"http://127.0.0.1:5010"},
	}
	if !reflect.DeepEqual(c.Global, wantGlobal) {
		t.Errorf("Global = %+v\nwant     %+v", c.Global, wantGlobal)
	}
	job := supervisor.NewJobConfig("dummy", "./dummy.py")
	job.OSEnv = true
	job.NumProcesses = 2
	job.RedirectOutput = []string{"stdout", "stderr"}
	job.Flapping = &supervisor.Flapping{Attempts: 2, Window: time.Second, RetryIn: 7 * time.Second, MaxRetry: 5}
	job.GracefulTimeout = 5 * time.Second
	job.Priority = 1
	job.Env = map[string]string{"PORT": "80"}
	job.Given = []string{"cmd", "env", "flapping", "graceful_timeout", "name", "numprocesses", "os_env", "priority", "redirect_output"}
	want := &Config{
		Files:    []string{"testdata/example.ini"},
		Global:   wantGlobal,
		Jobs:     []Job{{Session: "default", Config: job, Source: "testdata/example.ini:10 [job:dummy]"}},
		Webhooks: []Webhook{{Event: "spawn", URL: "http://127.0.0.1:8080/hook"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
		if len(c.Jobs) == 1 {
			t.Errorf("job  %+v\nwant %+v", c.Jobs[0].Config, job)
		}
	}
}

func TestSessionFirstNaming(t *testing.T) {
	tests := map[string]string{
		"job:web":         "default.web",
		"process:web":     "default.web",
		"job:shop:web":    "shop.web",
		"job:shop.web":    "shop.web",
		"job:shop/web":    "shop.web",
		"job:shop/w:e.b":  "shop.w:e.b", // '/' wins over ':' and '.'
		"job:shop:w.e/b":  "",           // '/' first: session "shop:w.e" is not a name
		"job:shop:web.v2": "shop.web.v2",
		"job:a.b.c":       "a.b.c",
		"process:x:y:z":   "x.y:z",
		"job:":            "",
		"job:shop:":       "",
		"job::web":        "",
		"job: web":        "",
		"job:web ":        "",
	}
	for sec, want := range tests {
		src := "[" + sec + "]\ncmd = run\n"
		if want == "" {
			e := one(t, src)
			if e.Section != sec || !errors.Is(e, supervisor.ErrBadName) && !errors.Is(e, supervisor.ErrMissingName) {
				t.Errorf("[%s]: %v, want a bad name error", sec, e)
			}
			continue
		}
		c := mustParse(t, src)
		if got := jobNames(c); len(got) != 1 || got[0] != want {
			t.Errorf("[%s] = %v, want %s", sec, got, want)
		}
	}
}

func TestJobKeys(t *testing.T) {
	c := mustParse(t, `
[job:shop:web]
cmd = python -m http.server
args = --bind '127.0.0.1 x' 8000
env:PYTHONPATH = /srv/lib
env:Mixed = yes
uid = www
gid = 33
cwd = /srv
detach = Yes
shell = on
redirect_input = 1
os_env = off
numprocesses = 3
start = FALSE
flapping = 3 2.5
redirect_output = out ,err
custom_streams = ctl, data
graceful_timeout = 2.9
priority = -4
backoff = 0.5 30 1.5
`)
	want := supervisor.NewJobConfig("web", "python -m http.server")
	want.Args = []string{"--bind", "127.0.0.1 x", "8000"}
	want.Env = map[string]string{"PYTHONPATH": "/srv/lib", "Mixed": "yes"}
	want.UID, want.GID, want.Cwd = "www", "33", "/srv"
	want.Detach, want.Shell, want.RedirectInput, want.OSEnv = true, true, true, false
	want.NumProcesses, want.Start = 3, false
	want.Flapping = &supervisor.Flapping{Attempts: 3, Window: 2500 * time.Millisecond, RetryIn: 7 * time.Second, MaxRetry: 5}
	want.RedirectOutput = []string{"out", "err"}
	want.CustomStreams = []string{"ctl", "data"}
	want.GracefulTimeout = 2 * time.Second
	want.Priority = -4
	want.Backoff = &supervisor.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 1.5, Jitter: 0.1, Reset: time.Minute}
	want.Given = []string{"args", "backoff", "cmd", "custom_streams", "cwd", "detach", "env", "flapping", "gid",
		"graceful_timeout", "name", "numprocesses", "os_env", "priority", "redirect_input", "redirect_output", "shell", "uid"} // no "start": as in UnmarshalJSON, it is not part of the echoed config
	if len(c.Jobs) != 1 {
		t.Fatalf("jobs = %v", jobNames(c))
	}
	j := c.Jobs[0]
	if j.Session != "shop" || !reflect.DeepEqual(j.Config, want) {
		t.Errorf("got  %s %+v\nwant %+v", j.Session, j.Config, want)
	}
	if j.Source != "gaffer.ini:2 [job:shop:web]" {
		t.Errorf("Source = %q", j.Source)
	}
}

func TestJobDefaults(t *testing.T) {
	c := mustParse(t, "[job:web]\ncmd = run\n")
	want := supervisor.NewJobConfig("web", "run")
	want.OSEnv = true
	want.Given = []string{"cmd", "name", "os_env"}
	if !reflect.DeepEqual(c.Jobs[0].Config, want) {
		t.Errorf("got  %+v\nwant %+v", c.Jobs[0].Config, want)
	}
	if want.Priority != supervisor.LowestPriority || want.GracefulTimeout != supervisor.DefaultGracefulTimeout {
		t.Errorf("NewJobConfig defaults changed: %+v", want)
	}
}

func TestFlapping(t *testing.T) {
	d := supervisor.DefaultFlapping()
	tests := []struct {
		value string
		want  supervisor.Flapping
	}{
		{"4", supervisor.Flapping{Attempts: 4, Window: d.Window, RetryIn: d.RetryIn, MaxRetry: d.MaxRetry}},
		{"4 2", supervisor.Flapping{Attempts: 4, Window: 2 * time.Second, RetryIn: d.RetryIn, MaxRetry: d.MaxRetry}},
		{"4 2 .5", supervisor.Flapping{Attempts: 4, Window: 2 * time.Second, RetryIn: 500 * time.Millisecond, MaxRetry: d.MaxRetry}},
		{"2 1. 7. 5", supervisor.Flapping{Attempts: 2, Window: time.Second, RetryIn: 7 * time.Second, MaxRetry: 5}},
		{"2\t1\n  7 5", supervisor.Flapping{Attempts: 2, Window: time.Second, RetryIn: 7 * time.Second, MaxRetry: 5}},
	}
	for _, tt := range tests {
		c := mustParse(t, "[job:web]\ncmd = run\nflapping = "+tt.value+"\n")
		if f := c.Jobs[0].Config.Flapping; f == nil || *f != tt.want {
			t.Errorf("flapping = %q: got %+v, want %+v", tt.value, f, tt.want)
		}
	}
	for _, bad := range []struct {
		value string
		is    error
	}{
		{"2, 1., 7., 5", ErrInvalidValue}, // the docs' form
		{"2,1", ErrInvalidValue},
		{"", ErrInvalidValue},
		{"1 2 3 4 5", ErrInvalidValue},
		{"2.5", ErrInvalidInt}, // attempts is an integer
		{"2 1 7 5.0", ErrInvalidInt},
		{"2 x", ErrInvalidNumber},
		{"2 nan", ErrInvalidNumber},
		{"2 1e300", ErrInvalidNumber},
		{"off", ErrInvalidInt},
	} {
		e := one(t, "[job:web]\ncmd = run\nflapping = "+bad.value+"\n")
		if e.Key != "flapping" || e.Line != 3 || !errors.Is(e, bad.is) || !errors.Is(e, ErrInvalidValue) {
			t.Errorf("flapping = %q: %v, want %v", bad.value, e, bad.is)
		}
	}
	// Out of range values are the supervisor's call.
	e := one(t, "[job:web]\ncmd = run\nflapping = -1\n")
	if !errors.Is(e, supervisor.ErrBadValue) || e.Section != "job:web" {
		t.Errorf("flapping = -1: %v", e)
	}
}

func TestBackoff(t *testing.T) {
	c := mustParse(t, "[job:web]\ncmd = run\nbackoff = 1 60 3 0.5 120\n")
	want := supervisor.Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 3, Jitter: 0.5, Reset: 2 * time.Minute}
	if b := c.Jobs[0].Config.Backoff; b == nil || *b != want {
		t.Errorf("backoff = %+v, want %+v", b, want)
	}
	for value, is := range map[string]error{
		"1":             ErrInvalidValue,
		"1 2 3 4 5 6":   ErrInvalidValue,
		"1 x":           ErrInvalidNumber,
		"10 1":          supervisor.ErrBadValue, // max < initial: Validate
		"1 10 0.5":      supervisor.ErrBadValue, // multiplier < 1
		"1, 10":         ErrInvalidNumber,
		"1 10 2 0.1 -x": ErrInvalidNumber,
	} {
		ps := problems(t, "[job:web]\ncmd = run\nbackoff = "+value+"\n")
		if len(ps) != 1 || !errors.Is(ps[0], is) {
			t.Errorf("backoff = %q: %v, want %v", value, ps, is)
		}
	}
}

func TestValueErrors(t *testing.T) {
	tests := []struct {
		key, value string
		is         error
	}{
		{"numprocesses", "x", ErrInvalidInt},
		{"numprocesses", "2.0", ErrInvalidInt},
		{"numprocesses", "", ErrInvalidInt},
		{"numprocesses", "99999999999999999999", ErrInvalidInt},
		{"priority", "high", ErrInvalidInt},
		{"detach", "yep", ErrInvalidBool},
		{"shell", "", ErrInvalidBool},
		{"redirect_input", "2", ErrInvalidBool},
		{"os_env", "t", ErrInvalidBool},
		{"start", "y", ErrInvalidBool},
		{"graceful_timeout", "5s", ErrInvalidNumber},
		{"graceful_timeout", "inf", ErrInvalidNumber},
		{"graceful_timeout", "0x10", ErrInvalidNumber},
		{"args", "'unterminated", supervisor.ErrUnterminatedQuote},
	}
	for _, tt := range tests {
		src := "[DEFAULT]\nhelper = 1\n\n[job:web]\ncmd = run\n" + tt.key + " = " + tt.value + "\n"
		e := one(t, src)
		if e.File != "gaffer.ini" || e.Line != 6 || e.Section != "job:web" || e.Key != tt.key || !errors.Is(e, tt.is) {
			t.Errorf("%s = %q: %q, want gaffer.ini:6 [job:web] %s: %v", tt.key, tt.value, e, tt.key, tt.is)
		}
	}
	// The message names file, line, section and key.
	e := one(t, strings.Repeat("\n", 10)+"[job:web]\nnumprocesses = x\ncmd = run\n")
	if got, want := e.Error(), `gaffer.ini:12: [job:web] numprocesses: invalid integer "x"`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	// Values the supervisor refuses are reported against the section.
	e = one(t, "[job:web]\ncmd = run\nnumprocesses = -1\n")
	if !errors.Is(e, supervisor.ErrBadValue) || e.Section != "job:web" || e.Line != 1 {
		t.Errorf("numprocesses = -1: %v", e)
	}
	e = one(t, "[job:web]\ncmd = run\nredirect_output = , err\n")
	if !errors.Is(e, supervisor.ErrBadValue) {
		t.Errorf("empty stream label: %v", e)
	}
}

func TestGracefulTimeoutTruncates(t *testing.T) {
	for value, want := range map[string]time.Duration{"5": 5 * time.Second, "2.9": 2 * time.Second, "0.5": 0, "+3": 3 * time.Second} {
		c := mustParse(t, "[job:web]\ncmd = run\ngraceful_timeout = "+value+"\n")
		if got := c.Jobs[0].Config.GracefulTimeout; got != want {
			t.Errorf("graceful_timeout = %s: %v, want %v", value, got, want)
		}
	}
}

func TestUnknownKey(t *testing.T) {
	e := one(t, "[job:web]\ncmd = run\nnumprocess = 2\n")
	if !errors.Is(e, ErrUnknownKey) || e.Key != "numprocess" || e.Line != 3 || !strings.Contains(e.Error(), "numprocesses") {
		t.Errorf("%v", e)
	}
	// Also in a section that is skipped for lack of cmd: the typo may be the cause.
	e = one(t, "[job:web]\ncommand = run\n")
	if !errors.Is(e, ErrUnknownKey) || e.Key != "command" {
		t.Errorf("%v", e)
	}
}

func TestMissingCmdSkipsSection(t *testing.T) {
	c := mustParse(t, "[job:web]\nnumprocesses = 2\n[job:api]\ncmd =\n[job:ok]\ncmd = run\n")
	if got := jobNames(c); !slices.Equal(got, []string{"default.ok"}) {
		t.Errorf("jobs = %v", got)
	}
	want := []string{"gaffer.ini:1: [job:web] no cmd, section skipped", "gaffer.ini:3: [job:api] no cmd, section skipped"}
	if !slices.Equal(c.Warnings, want) {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestDuplicateJob(t *testing.T) {
	ps := problems(t, "[job:web]\ncmd = a\n[process:web]\ncmd = b\n[job:default.web]\ncmd = c\n[job:shop.web]\ncmd = d\n")
	if len(ps) != 2 {
		t.Fatalf("problems: %v", ps)
	}
	for i, sec := range []string{"process:web", "job:default.web"} {
		if !errors.Is(ps[i], ErrDuplicate) || ps[i].Section != sec || !strings.Contains(ps[i].Error(), "gaffer.ini:1 [job:web]") {
			t.Errorf("problem %d: %v", i, ps[i])
		}
	}
}

func TestDefaultInheritance(t *testing.T) {
	c := mustParse(t, `
[DEFAULT]
root = /srv
numprocesses = 2
env:LANG = C
backlog = 64
cwd = %(root)s/%(uid)s

[gaffer]
bind = 127.0.0.1:5000

[webhooks]
spawn = http://127.0.0.1:8080%(root)s

[job:web]
uid = www
cmd = %(root)s/bin/web

[job:api]
uid = api
cmd = api
numprocesses = 1
env:LANG = fr_FR.UTF-8

[env:web]
home = %(root)s
`)
	if c.Global.Backlog != 64 {
		t.Errorf("backlog = %d, want 64 from DEFAULT", c.Global.Backlog)
	}
	if len(c.Webhooks) != 1 || c.Webhooks[0].URL != "http://127.0.0.1:8080/srv" {
		t.Errorf("webhooks = %+v: DEFAULT keys must not become webhooks", c.Webhooks)
	}
	web, api := c.Jobs[0].Config, c.Jobs[1].Config
	// cwd comes from DEFAULT but its %(uid)s is read in the job's section.
	if web.Cmd != "/srv/bin/web" || web.Cwd != "/srv/www" || web.NumProcesses != 2 {
		t.Errorf("web = %+v", web)
	}
	if !reflect.DeepEqual(web.Env, map[string]string{"HOME": "/srv"}) {
		t.Errorf("web env = %v: [env:web] replaces env and takes no DEFAULT keys", web.Env)
	}
	if api.Cwd != "/srv/api" || api.NumProcesses != 1 || !reflect.DeepEqual(api.Env, map[string]string{"LANG": "fr_FR.UTF-8"}) {
		t.Errorf("api = %+v", api)
	}
	if !slices.Contains(web.Given, "numprocesses") || !slices.Contains(web.Given, "cwd") {
		t.Errorf("keys inherited from DEFAULT are set keys: Given = %v", web.Given)
	}
}

func TestUnknownDefaultKeysAreHelpers(t *testing.T) {
	c := mustParse(t, "[DEFAULT]\nroot = /srv\n[job:web]\ncmd = run\n")
	if len(c.Warnings) != 0 || len(c.Jobs) != 1 {
		t.Errorf("warnings %q, jobs %v", c.Warnings, jobNames(c))
	}
}

func TestEnvMapsAreNotShared(t *testing.T) {
	c := mustParse(t, "[DEFAULT]\nenv:LANG = C\n[job:a]\ncmd = run\n[job:b]\ncmd = run\n")
	c.Jobs[0].Config.Env["X"] = "leak"
	if _, ok := c.Jobs[1].Config.Env["X"]; ok {
		t.Fatal("jobs share an env map")
	}
	if c.Jobs[1].Config.Env["LANG"] != "C" {
		t.Errorf("env = %v", c.Jobs[1].Config.Env)
	}
}

func TestEnvSection(t *testing.T) {
	c := mustParse(t, `
[job:shop:web]
cmd = run
env:KEEP = no

[env:shop.web]
port = 80
Db_Url: postgres://x

[env:nojob]
x = 1
`)
	j := c.Jobs[0].Config
	if !reflect.DeepEqual(j.Env, map[string]string{"PORT": "80", "DB_URL": "postgres://x"}) {
		t.Errorf("env = %v", j.Env)
	}
	if !slices.Contains(j.Given, "env") {
		t.Errorf("Given = %v", j.Given)
	}
	if want := []string{"gaffer.ini:10: [env:nojob] no job default.nojob in this config, section ignored"}; !slices.Equal(c.Warnings, want) {
		t.Errorf("warnings = %q", c.Warnings)
	}
	// An empty [env:…] still replaces the env.
	c = mustParse(t, "[job:web]\ncmd = run\nenv:A = 1\n[env:web]\n")
	if j := c.Jobs[0].Config; j.Env == nil || len(j.Env) != 0 {
		t.Errorf("env = %#v, want empty", j.Env)
	}
	e := one(t, "[job:web]\ncmd = run\n[env:web]\na = 1\n[env:default/web]\nb = 2\n")
	if !errors.Is(e, ErrDuplicate) || e.Section != "env:default/web" {
		t.Errorf("%v", e)
	}
}

func TestPriorityOrder(t *testing.T) {
	c := mustParse(t, `
[job:last1]
cmd = run
[job:p5a]
cmd = run
priority = 5
[job:p1]
cmd = run
priority = 1
[job:last2]
cmd = run
[job:p5b]
cmd = run
priority = 5
[job:p0]
cmd = run
priority = 0
[job:neg]
cmd = run
priority = -1
`)
	want := []string{"default.neg", "default.p0", "default.p1", "default.p5a", "default.p5b", "default.last1", "default.last2"}
	if got := jobNames(c); !slices.Equal(got, want) {
		t.Errorf("order = %v\nwant    %v", got, want)
	}
}

func TestGlobal(t *testing.T) {
	c := mustParse(t, `
[gaffer]
bind = 127.0.0.1:5000, [::1]:5001 localhost
  :5002 unix:/run/gaffer.sock
backlog = 10
daemonize = true
pidfile = /run/gafferd.pid
error_log = -
log_level = DEBUG
require_key = yes
plugins_dir = plugins
broadcast_address = https://node1:5000
lookupd_address2 = http://l2:5010
lookupd_address = http://l1:5010
http_endpoints = main

[ssl]
certfile = x
[auth]
auth_backend = default
[lookup_ssl]
certfile = y
[endpoint:main]
bind = 127.0.0.1:5000
`)
	yes := true
	want := Global{
		Bind:             []string{"127.0.0.1:5000", "[::1]:5001", "localhost:8000", ":5002"},
		Unix:             "/run/gaffer.sock",
		Backlog:          10,
		Daemonize:        true,
		Pidfile:          "/run/gafferd.pid",
		ErrorLog:         "-",
		LogLevel:         "debug",
		RequireKey:       &yes,
		PluginsDir:       "plugins",
		LookupdAddresses: []string{"http://l2:5010", "http://l1:5010"},
		BroadcastAddress: "https://node1:5000",
	}
	if !reflect.DeepEqual(c.Global, want) {
		t.Errorf("got  %+v\nwant %+v", c.Global, want)
	}
	wantWarn := []string{
		"gaffer.ini:15: [gaffer] http_endpoints: unknown key, ignored",
		"gaffer.ini:23: [endpoint:main] unknown section, ignored",
	}
	if !slices.Equal(c.Warnings, wantWarn) {
		t.Errorf("warnings = %q", c.Warnings)
	}

	c = mustParse(t, "[gaffer]\nunix = /run/g.sock\nbind = unix:///run/g.sock\n")
	if c.Global.Unix != "/run/g.sock" || c.Global.Bind != nil {
		t.Errorf("unix: %+v", c.Global)
	}
	if c = mustParse(t, "[gaffer]\n"); !reflect.DeepEqual(c.Global, Global{Backlog: 128, LogLevel: "info"}) {
		t.Errorf("defaults: %+v", c.Global)
	}

	for _, bad := range []struct{ key, value string }{
		{"bind", "::1"},
		{"bind", "[::1"},
		{"bind", "[127.0.0.1]:80"},
		{"bind", "host:http"},
		{"bind", "host:70000"},
		{"bind", "unix:"},
		{"bind", "unix:/a unix:/b"},
		{"unix", ""},
		{"backlog", "0"},
		{"backlog", "many"},
		{"daemonize", "maybe"},
		{"require_key", ""},
		{"log_level", "verbose"},
		{"broadcast_address", "node1:5000"},
		{"lookupd_address1", "127.0.0.1:5010"},
	} {
		e := one(t, "[gaffer]\n"+bad.key+" = "+bad.value+"\n")
		if e.Section != "gaffer" || e.Key != bad.key || e.Line != 2 {
			t.Errorf("%s = %q: %v", bad.key, bad.value, e)
		}
	}
	e := one(t, "[gaffer]\nbind = unix:/a\nunix = /b\n")
	if !errors.Is(e, ErrInvalidValue) || e.Key != "unix" {
		t.Errorf("conflicting unix sockets: %v", e)
	}
}

func TestUnknownSectionHints(t *testing.T) {
	c := mustParse(t, "[Job:web]\ncmd = run\n[ job:api]\ncmd = x\n[Gaffer]\n[default]\n[misc]\n")
	want := []string{
		"gaffer.ini:1: [Job:web] unknown section, ignored (section names are case-sensitive and spaces count: did you mean [job:web]?)",
		"gaffer.ini:3: [ job:api] unknown section, ignored (section names are case-sensitive and spaces count: did you mean [job:api]?)",
		"gaffer.ini:5: [Gaffer] unknown section, ignored (section names are case-sensitive and spaces count: did you mean [gaffer]?)",
		"gaffer.ini:6: [default] unknown section, ignored (section names are case-sensitive and spaces count: did you mean [DEFAULT]?)",
		"gaffer.ini:7: [misc] unknown section, ignored",
	}
	if !slices.Equal(c.Warnings, want) {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}
}

func TestWebhooks(t *testing.T) {
	c := mustParse(t, "[webhooks]\nSpawn = http://a/1 https://b/2\n. = http://c/all\n  http://d/all\nexit =\n")
	want := []Webhook{{"spawn", "http://a/1"}, {"spawn", "https://b/2"}, {".", "http://c/all"}, {".", "http://d/all"}}
	if !slices.Equal(c.Webhooks, want) {
		t.Errorf("webhooks = %+v", c.Webhooks)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "[webhooks] exit: no URL") {
		t.Errorf("warnings = %q", c.Warnings)
	}
	e := one(t, "[webhooks]\nspawn = ftp://x/\n")
	if !errors.Is(e, ErrInvalidValue) || e.Key != "spawn" {
		t.Errorf("%v", e)
	}
}

func TestAllProblemsReported(t *testing.T) {
	ps := problems(t, `
[gaffer]
backlog = x
[job:a]
cmd = run
numprocesses = x
detach = x
[job:b]
cmd = run
bogus = 1
flapping = 1,2
[webhooks]
x = nope
`)
	var got []string
	for _, p := range ps {
		got = append(got, p.Section+" "+p.Key)
	}
	want := []string{"gaffer backlog", "job:a numprocesses", "job:a detach", "job:b bogus", "job:b flapping", "webhooks x"}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %q\nwant %q", got, want)
	}
}

// write creates the files (path -> content) under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"gafferd.ini": `
[gaffer]
include = extra.ini missing.ini
include_dir = conf.d nodir
[job:web]
cmd = web
numprocesses = 1
`,
		"extra.ini":          "[job:web]\nnumprocesses = 2\npriority = 3\n[job:api]\ncmd = api\n",
		"conf.d/b.ini":       "[job:web]\nnumprocesses = 4\n",
		"conf.d/a.ini":       "[job:worker]\ncmd = work\n[gaffer]\ninclude = other.ini\n",
		"conf.d/sub/c.ini":   "[job:web]\nnumprocesses = 3\n",
		"conf.d/notes.txt":   "not ini",
		"conf.d/sub/d.ini.x": "[job:nope]\ncmd = x\n",
	})
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		return out
	}
	wantFiles := []string{"gafferd.ini", "extra.ini", "conf.d/a.ini", "conf.d/b.ini", "conf.d/sub/c.ini"}
	if got := rel(c.Files); !slices.Equal(got, wantFiles) {
		t.Errorf("files = %v\nwant    %v", got, wantFiles)
	}
	// Later files override keys: sub/c.ini is read last.
	if got := jobNames(c); !slices.Equal(got, []string{"default.web", "default.api", "default.worker"}) {
		t.Errorf("jobs = %v", got)
	}
	if n := c.Jobs[0].Config.NumProcesses; n != 3 {
		t.Errorf("numprocesses = %d, want 3 from conf.d/sub/c.ini", n)
	}
	var warns []string
	for _, w := range c.Warnings {
		warns = append(warns, strings.TrimPrefix(w, dir+string(filepath.Separator)))
	}
	wantWarn := []string{
		"gafferd.ini:3: [gaffer] include: missing.ini: no such file, skipped",
		"gafferd.ini:4: [gaffer] include_dir: nodir: no such directory, skipped",
		"conf.d/a.ini:4: [gaffer] include: includes in an included file are not followed",
	}
	if !slices.Equal(warns, wantWarn) {
		t.Errorf("warnings:\n%s", strings.Join(warns, "\n"))
	}
}

func TestIncludeRelativeToWorkingDirectory(t *testing.T) {
	cwd, cfgDir := t.TempDir(), t.TempDir()
	write(t, cwd, map[string]string{"inc.ini": "[job:fromcwd]\ncmd = a\n"})
	write(t, cfgDir, map[string]string{"inc.ini": "[job:fromcfg]\ncmd = b\n", "only.ini": "[job:only]\ncmd = c\n"})
	t.Chdir(cwd)
	c, err := Parse(filepath.Join(cfgDir, "gafferd.ini"), []byte("[gaffer]\ninclude = inc.ini only.ini\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The working directory wins, as in gaffer; the config's directory is the fallback.
	if got := jobNames(c); !slices.Equal(got, []string{"default.fromcwd", "default.only"}) {
		t.Errorf("jobs = %v", got)
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"d/x.ini":  "[job:web]\ncmd = run\nnumprocesses = x\n",
		"file.ini": "[job:api]\ncmd = run\n",
	})
	main := filepath.Join(dir, "main.ini")
	_, err := Parse(main, []byte("[gaffer]\ninclude = d\ninclude_dir = file.ini d\n"))
	var got []string
	for _, e := range splitErrors(err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("not a *Error: %v", e)
		}
		got = append(got, filepath.Base(ce.File)+" "+ce.Key)
	}
	want := []string{"main.ini include", "main.ini include_dir", "x.ini numprocesses"}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %q (%v)", got, err)
	}
}

func TestIncludeReadOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"gafferd.ini": "[gaffer]\ninclude = a.ini gafferd.ini ./a.ini\ninclude_dir = " + dir + "\n",
		"a.ini":       "[job:a]\ncmd = run\n",
	})
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 2 || len(c.Warnings) != 4 {
		t.Errorf("files %v, warnings:\n%s", c.Files, strings.Join(c.Warnings, "\n"))
	}
	for _, w := range c.Warnings {
		if !strings.Contains(w, "is already read, skipped") {
			t.Errorf("warning %q", w)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(dir)
	if err != nil || !reflect.DeepEqual(c, newConfig()) {
		t.Errorf("empty directory: %+v, %v", c, err)
	}
	write(t, dir, map[string]string{MainFile: "[job:web]\ncmd = run\n", "other.ini": "[job:api]\ncmd = run\n"})
	c, err = Load(dir)
	if err != nil || !slices.Equal(jobNames(c), []string{"default.web"}) || c.Files[0] != filepath.Join(dir, MainFile) {
		t.Errorf("directory: %+v, %v", c, err)
	}
	c, err = Load(filepath.Join(dir, "other.ini"))
	if err != nil || !slices.Equal(jobNames(c), []string{"default.api"}) {
		t.Errorf("file: %+v, %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "nope.ini")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	write(t, dir, map[string]string{"bad.ini": "[job:web]\ncmd = run\nstart = maybe\n"})
	_, err = Load(filepath.Join(dir, "bad.ini"))
	var ce *Error
	if !errors.As(err, &ce) || ce.File != filepath.Join(dir, "bad.ini") || ce.Line != 3 || !errors.Is(err, ErrInvalidBool) {
		t.Errorf("bad file: %v", err)
	}
}
