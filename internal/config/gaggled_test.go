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

	"github.com/gafferhq/gaffer/internal/deps"
	"github.com/gafferhq/gaffer/supervisor"
)

// gparse reads src as a gaggled config on the test host, with the
// dependency check Load applies.
func gparse(src string) (*Config, error) {
	return checked(testHost(memFS(nil)).parseGaggled("/etc/gaggled.conf", []byte(src)))
}

// gload reads a file of testdata/gaggled on the test host.
func gload(t *testing.T, name string) *Config {
	t.Helper()
	p := filepath.Join("testdata", "gaggled", name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !IsGaggled(data) || IsSupervisord(data) {
		t.Fatalf("%s is not detected as a gaggled config", name)
	}
	c, err := checked(testHost(osFS).parseGaggled(p, data))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGaggledExample(t *testing.T) {
	c := gload(t, "example.conf")
	if names := jobNames(c); !slices.Equal(names, []string{"default.progx", "default.progy"}) {
		t.Fatalf("jobs = %v", names)
	}
	if g := c.Gaggled; g == nil || g.KillWait != 3*time.Second || g.Tick != 100*time.Millisecond ||
		g.StartWait != 50*time.Millisecond || g.Path != "contrib" || g.EventURL != "tcp://*:3456" {
		t.Errorf("Gaggled = %+v", c.Gaggled)
	}
	x := job(t, c, "default.progx")
	if x.Cmd != "sleep" || !slices.Equal(x.Args, []string{"10s"}) || !x.Start || !x.OSEnv || x.GracefulTimeout != 3*time.Second {
		t.Errorf("progx = %+v", x)
	}
	wantProg := &supervisor.Program{Group: "default", StartSecs: 0, StartRetries: gaggledStartRetries,
		AutoRestart: supervisor.RestartAlways, ExitCodes: []int{0}, GroupPriority: 999}
	if !reflect.DeepEqual(x.Program, wantProg) {
		t.Errorf("progx Program = %+v, want %+v", x.Program, wantProg)
	}
	y := job(t, c, "default.progy")
	if y.Program.AutoRestart != supervisor.RestartNever {
		t.Errorf("respawn false gave %v", y.Program.AutoRestart)
	}
	wantDeps := []supervisor.Dependency{{Job: "progx", Condition: supervisor.Started, Delay: 600 * time.Millisecond, Propagate: true}}
	if !reflect.DeepEqual(y.DependsOn, wantDeps) {
		t.Errorf("progy DependsOn = %+v", y.DependsOn)
	}
	wantEnv := map[string]string{"FOO": "bar", "PATH": "contrib:/usr/local/bin:/usr/bin:/bin",
		"GAGGLED_PROGRAM_NAME": "progy", "GAGGLED_HOST": "node1", "GAGGLED_EVENT_URL": "", "GAGGLED_CONTROL_URL": ""}
	if !reflect.DeepEqual(y.Env, wantEnv) {
		t.Errorf("progy Env = %v\nwant %v", y.Env, wantEnv)
	}
	if e := c.Email; e == nil || e.Host != "mx.example.com" || e.Port != 25 || e.TLS != EmailNoTLS || e.From != "you@example.com" ||
		!slices.Equal(e.To, []string{"you@example.com"}) || e.Helo != "localhost" || !e.Wants(EmailRecovered) {
		t.Errorf("Email = %+v", c.Email)
	}
	var zmq int
	for _, w := range c.Warnings {
		if strings.Contains(w, "ZeroMQ channels are not supported") {
			zmq++
		}
	}
	if zmq != 2 {
		t.Errorf("want a warning for eventurl and controlurl, got %q", c.Warnings)
	}
	if !strings.HasPrefix(c.Warnings[0], "testdata/gaggled/example.conf:2: [gaggled] eventurl: ") {
		t.Errorf("warning not located: %q", c.Warnings[0])
	}
}

func TestGaggledContribExamples(t *testing.T) {
	c := gload(t, "propagate-no-restart.conf")
	if d := job(t, c, "default.progy").DependsOn; len(d) != 1 || d[0].Delay != 600*time.Millisecond || !d[0].Propagate {
		t.Errorf("propagate-no-restart progy deps = %+v", d)
	}
	if c.Email == nil || c.Email.Host != "mx0.example.com" {
		t.Errorf("Email = %+v", c.Email)
	}

	c = gload(t, "propagate-toughlove.conf")
	y, z := job(t, c, "default.progy"), job(t, c, "default.progz")
	// The global env block is under each program's (gaggled's README).
	if y.Env["FOO"] != "bar" || y.Env["AWESOME"] != "no" || z.Env["FOO"] != "what" || z.Env["AWESOME"] != "yes" {
		t.Errorf("env: progy %v, progz %v", y.Env, z.Env)
	}
	if y.Cmd != "neverdie" || y.GracefulTimeout != 3*time.Second || y.Program.AutoRestart != supervisor.RestartNever {
		t.Errorf("progy = %+v", y)
	}

	c = gload(t, "bad-config-dep-on-disabled.conf")
	if x := job(t, c, "default.progx"); x.Start || !slices.Equal(x.Args, []string{"100d"}) {
		t.Errorf("enabled false: %+v", x)
	}
	if d := job(t, c, "default.progy").DependsOn; len(d) != 1 || d[0].Job != "progx" || d[0].Delay != 0 || d[0].Propagate {
		t.Errorf("empty dependency block: %+v", d)
	}
	// It loads (gaggled 0.2.11 accepts it too), but the check flags it,
	// as gaggled's README says it should.
	ps := Check(c)
	if len(ps) == 0 || !errors.Is(ps[0].Err, ErrDisabledDependency) ||
		!strings.HasPrefix(ps[0].String(), "testdata/gaggled/bad-config-dep-on-disabled.conf:1: [progy] depends: ") ||
		!strings.Contains(ps[0].String(), "default.progy starts at boot and depends on default.progx, which does not (enabled false)") {
		t.Errorf("Check = %v", ps)
	}
}

func TestGaggledMapping(t *testing.T) {
	c, err := gparse(`; programs before the global block see the same settings
web {
  command "/opt/my app/run"
  argv "--port 80	-v  x"
  wd /srv/web
  enabled 0
  respawn 1
  env {
    GAGGLED_HOST fake
    A 1
    A 2
  }
}
gaggled {
  killwait 250
  smtpgate {
    mx mail.example.com
    from ops@example.com
    to me@example.com
    helo here
    spfix "[__HOSTNAME__] "
    batch 30000
    auto true
  }
}
`)
	if err != nil {
		t.Fatal(err)
	}
	w := job(t, c, "default.web")
	words, _ := supervisor.SplitCommand(w.Cmd)
	if !slices.Equal(words, []string{"/opt/my app/run"}) || !slices.Equal(w.Args, []string{"--port", "80", "-v", "x"}) {
		t.Errorf("command %q args %q", w.Cmd, w.Args)
	}
	if w.Cwd != "/srv/web" || w.Start || w.Program.AutoRestart != supervisor.RestartAlways || w.GracefulTimeout != 250*time.Millisecond {
		t.Errorf("web = %+v", w)
	}
	if w.Env["GAGGLED_HOST"] != "node1" || w.Env["A"] != "1" {
		t.Errorf("env = %v (GAGGLED_* cannot be overridden; the first A wins)", w.Env)
	}
	if _, ok := w.Env["PATH"]; ok {
		t.Errorf("PATH set without a path setting: %v", w.Env)
	}
	if e := c.Email; e == nil || e.SubjectPrefix != "[node1] " || e.Batch != 30*time.Second {
		t.Errorf("Email = %+v", c.Email)
	}
}

func TestGaggledErrors(t *testing.T) {
	tests := []struct {
		src, want string
		is        error
	}{
		{"p {\n  argv 1\n}\n", "/etc/gaggled.conf:1: [p] command: missing setting: program p has no command", ErrMissing},
		{"killwait 3000\n", "global settings such as killwait go in the gaggled { } block", ErrMissing},
		{"p {\n command a\n}\np {\n command b\n}\n", "/etc/gaggled.conf:4: [p] duplicate: duplicate program name p (also at /etc/gaggled.conf:1)", ErrDuplicate},
		{"p {\n command a\n respawn yes\n}\n", `/etc/gaggled.conf:3: [p] respawn: invalid boolean "yes": want true, false, 1 or 0`, ErrInvalidBool},
		{"gaggled {\n killwait 3s\n}\n", `[gaggled] killwait: invalid integer "3s": want a whole number of milliseconds`, ErrInvalidInt},
		{"gaggled {\n tick -1\n}\n", "[gaggled] tick: invalid value -1: want 0 to 604800000 (milliseconds)", ErrInvalidValue},
		{"p {\n command a\n depends {\n  q {\n   delay 2147483648\n  }\n }\n}\nq {\n command b\n}\n", "[p] depends.q.delay: invalid value 2147483648", ErrInvalidValue},
		{"p {\n command a\n depends {\n  q {\n   propagate maybe\n  }\n }\n}\nq {\n command b\n}\n", `[p] depends.q.propagate: invalid boolean "maybe"`, ErrInvalidBool},
		{"p {\n command a\n depends {\n  q 5\n }\n}\n", "[p] depends.q: invalid value \"5\": a dependency takes a block", ErrInvalidValue},
		{"p {\n command a\n depends {\n  nothere\n }\n}\n", "/etc/gaggled.conf:1: [p] depends: unknown dependency: default.p depends on default.nothere, which is not in this config", deps.ErrUnknown},
		{"a {\n command a\n depends { b }\n}\nb {\n command b\n depends { a }\n}\n", "/etc/gaggled.conf:1: [a] depends: dependency cycle: default.a -> default.b -> default.a", deps.ErrCycle},
		{"a {\n command a\n depends { a }\n}\n", "dependency cycle: default.a -> default.a", deps.ErrCycle},
		{"gaggled {\n smtpgate {\n  mx m\n  auto true\n }\n}\n", "[gaggled.smtpgate] helo: missing: required setting gaggled.smtpgate.helo is not set (smtpgate auto is true)", ErrMissing},
		{"gaggled {\n smtpgate {\n  mx m\n  from nobody\n  to a@b\n  helo h\n }\n}\n", `/etc/gaggled.conf:4: [gaggled.smtpgate] from: invalid value: "nobody" is not an e-mail address`, ErrInvalidValue},
		{"gaggled 1\n", "[gaggled] invalid value: gaggled is the block of global settings", ErrInvalidValue},
		{"a.b {\n command a\n}\n", `program "a.b"`, supervisor.ErrBadName},
		{"p {\n command a\n env {\n  X {\n  }\n }\n}\n", "[p] env.X: invalid value: an environment variable cannot have a block", ErrInvalidValue},
		{"p {\n command a\n", `/etc/gaggled.conf:3: syntax error: block p (line 1) is not closed with "}"`, ErrSyntax},
	}
	for _, tt := range tests {
		_, err := gparse(tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.is) {
			t.Errorf("%q:\nerror = %v\nwant %q (%v)", tt.src, err, tt.want, tt.is)
		}
	}
}

func TestGaggledWarnings(t *testing.T) {
	c, err := gparse("gaggled {\n  killwiat 5\n  smtpgate {\n   mx m\n  }\n}\ngaggled {\n}\np {\n command a\n respwan false\n depends {\n  q { }\n  q { }\n }\n}\nq {\n command b\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/etc/gaggled.conf:7: [gaggled] a second gaggled block, ignored (the first, line 1, counts, as in gaggled)",
		"/etc/gaggled.conf:2: [gaggled] killwiat: unknown key, ignored (as gaggled does) (did you mean killwait?)",
		"/etc/gaggled.conf:3: [gaggled.smtpgate] incomplete (no helo, from, to): no e-mail is sent",
		"/etc/gaggled.conf:11: [p] respwan: unknown key, ignored (as gaggled does) (did you mean respawn?)",
		"/etc/gaggled.conf:14: [p] depends.q: listed twice; the first counts",
	}
	for _, w := range want {
		if !slices.Contains(c.Warnings, w) {
			t.Errorf("missing warning %q in\n%s", w, strings.Join(c.Warnings, "\n"))
		}
	}
	if c.Email != nil {
		t.Error("an incomplete gate configured e-mail")
	}
}

func TestIsGaggled(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"gaggled {\n}\n", true},
		{"; comment\n\nweb {\n command sleep\n}\n", true},
		{"#include \"other.conf\"\nweb\n{\n command sleep\n}\n", true},
		{"web {\n argv 1\n}\n", true},      // opens a block: only INFO does
		{"web {\n command \"x\n}\n", true}, // broken, but gaggled's: its errors are INFO errors
		{"web\n{\n argv 1\n}\n", false},    // no command, no gaggled block: could be anything
		{"web\n{\n command x\n}\n", true},
		{"a = {\n[job:x]\ncmd = y\n", true}, // an INI error either way; read as INFO
		{"\ufeffgaggled {\n}\n", true},
		{"[supervisord]\n[program:x]\ncommand=gaggled {\n", false},
		{"[job:web]\ncmd = sleep\n", false},
		{"; gaggled {\n[job:web]\ncmd = x\n", false},
		{"# gaffer\n[job:web]\ncmd = x\n", false},
		{"# my services {\n[job:web]\ncmd = x\n", false},
		{"#\n[supervisord]\n", false},
		{`{"name": "web", "cmd": "sleep"}`, false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsGaggled([]byte(tt.in)); got != tt.want {
			t.Errorf("IsGaggled(%q) = %v", tt.in, got)
		}
	}
}

func TestLoadDetectsEveryFormat(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"gaggled.conf":     "web {\n command sleep\n argv 1\n}\n",
		"supervisord.conf": "[supervisord]\n[program:web]\ncommand = sleep 1\n",
		"gafferd.ini":      "[job:web]\ncmd = sleep 1\n",
		"jobs.json":        `{"jobs": [{"name": "web", "cmd": "sleep 1", "priority": 2}, {"name": "db", "cmd": "sleep 1", "priority": 1}]}`,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := jobNames(c)
		switch name {
		case "gaggled.conf":
			if c.Gaggled == nil || !slices.Equal(got, []string{"default.web"}) {
				t.Errorf("%s: %v %+v", name, got, c)
			}
		case "supervisord.conf":
			if c.Supervisord == nil || !slices.Equal(got, []string{"web.web"}) {
				t.Errorf("%s: %v", name, got)
			}
		case "gafferd.ini":
			if c.Supervisord != nil || c.Gaggled != nil || !slices.Equal(got, []string{"default.web"}) {
				t.Errorf("%s: %v", name, got)
			}
		case "jobs.json":
			if !slices.Equal(got, []string{"default.db", "default.web"}) || !slices.Equal(c.Files, []string{p}) {
				t.Errorf("%s: jobs %v (want boot order by priority), files %v", name, got, c.Files)
			}
		}
	}
	p := filepath.Join(dir, "bad.json")
	os.WriteFile(p, []byte(`{"name": "web", "cmd": "sleep 1", "depends_on": ["db"]}`), 0o644)
	if _, err := Load(p); !errors.Is(err, deps.ErrUnknown) || !strings.Contains(err.Error(), "[default.web] depends_on: unknown dependency") {
		t.Errorf("JSON config with an unknown dependency: %v", err)
	}
}
