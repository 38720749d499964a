package config

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// memFS serves files from a map of absolute paths, for include tests.
func memFS(files map[string]string) fileSystem {
	m := fstest.MapFS{}
	for p, data := range files {
		m[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: []byte(data)}
	}
	rel := func(p string) string {
		if p = strings.TrimPrefix(path.Clean(p), "/"); p == "" {
			return "."
		}
		return p
	}
	return fileSystem{
		stat:     func(p string) (fs.FileInfo, error) { return m.Stat(rel(p)) },
		readFile: func(p string) ([]byte, error) { return m.ReadFile(rel(p)) },
		readDir:  func(p string) ([]fs.DirEntry, error) { return m.ReadDir(rel(p)) },
		walkDir:  func(string, fs.WalkDirFunc) error { return fs.ErrNotExist },
	}
}

const testConf = "/etc/supervisor/supervisord.conf"

func sparse(src string) (*Config, error) {
	return testHost(memFS(nil)).parseSupervisord(testConf, []byte(src))
}

func smustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := sparse(src)
	if err != nil {
		t.Fatalf("ParseSupervisord: %v", err)
	}
	return c
}

// sproblems parses src, which must fail, and returns every problem.
func sproblems(t *testing.T, src string) []*Error {
	t.Helper()
	c, err := sparse(src)
	if err == nil {
		t.Fatalf("parse succeeded: %+v", c)
	}
	if c != nil {
		t.Error("a config was returned with an error")
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

func job(t *testing.T, c *Config, full string) supervisor.JobConfig {
	t.Helper()
	for _, j := range c.Jobs {
		if j.FullName() == full {
			return j.Config
		}
	}
	t.Fatalf("no job %s in %v", full, jobNames(c))
	return supervisor.JobConfig{}
}

func TestSupervisordErrorMessage(t *testing.T) {
	ps := sproblems(t, "[supervisord]\n[program:web]\ncommand=/bin/web\nstartsecs=x\n")
	if len(ps) != 1 {
		t.Fatalf("got %v", ps)
	}
	want := testConf + `:4: [program:web] startsecs: invalid integer "x"`
	if got := ps[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestSupervisordErrors checks which error each mistake is, and where.
func TestSupervisordErrors(t *testing.T) {
	const sup = "[supervisord]\n"
	tests := []struct {
		name    string
		src     string
		want    error
		line    int
		section string
		key     string
		text    string // in the message
	}{
		{"bad integer", sup + "[program:a]\ncommand=x\nstartretries=3.5\n", ErrInvalidInt, 4, "program:a", "startretries", ""},
		{"negative startsecs", sup + "[program:a]\ncommand=x\nstartsecs=-1\n", ErrInvalidValue, 4, "program:a", "startsecs", "want 0 to"},
		{"bad boolean", sup + "[program:a]\ncommand=x\nautostart=maybe\n", ErrInvalidBool, 4, "program:a", "autostart", ""},
		{"unknown key", sup + "[program:a]\ncommand=x\nautorestrat=true\n", ErrUnknownKey, 4, "program:a", "autorestrat", "did you mean autorestart?"},
		{"unknown key in supervisord", "[supervisord]\nhttp_port=9001\n", ErrUnknownKey, 2, "supervisord", "http_port", ""},
		{"unknown key in group", sup + "[program:a]\ncommand=x\n[group:g]\nprograms=a\nprio=1\n", ErrUnknownKey, 6, "group:g", "prio", "accepts programs, priority"},
		{"unknown key in unix server", sup + "[unix_http_server]\nfile=/s\nmode=0700\n", ErrUnknownKey, 4, "unix_http_server", "mode", ""},
		{"unknown key in supervisorctl", sup + "[supervisorctl]\nserver=x\n", ErrUnknownKey, 3, "supervisorctl", "server", ""},
		{"unknown key in include", sup + "[include]\nfiles=x\nfile=y\n", ErrUnknownKey, 4, "include", "file", ""},
		{"colon in program name", sup + "[program:a:b]\ncommand=x\n", supervisor.ErrBadName, 2, "program:a:b", "", `':'`},
		{"slash in program name", sup + "[program:a/b]\ncommand=x\n", supervisor.ErrBadName, 2, "program:a/b", "", ""},
		{"space in program name", sup + "[program:a b]\ncommand=x\n", supervisor.ErrBadName, 2, "program:a b", "", ""},
		{"bracket in program name", sup + "[program:a[1]\ncommand=x\n", supervisor.ErrBadName, 2, "program:a[1", "", ""},
		{"empty program name", sup + "[program:]\ncommand=x\n", supervisor.ErrBadName, 2, "program:", "", "empty"},
		{"dot in group name", sup + "[program:a]\ncommand=x\n[group:g.1]\nprograms=a\n", supervisor.ErrBadName, 4, "group:g.1", "", "group name \"g.1\" has a '.': supervisord accepts that, gafferd cannot"},
		{"dot in standalone program", sup + "[program:a.b]\ncommand=x\n", supervisor.ErrBadName, 2, "program:a.b", "", "rename it, or list it in the programs of a [group:…] whose name has no '.'"},
		{"dot in listener pool", sup + "[eventlistener:l.1]\ncommand=x\nevents=TICK_5\n", supervisor.ErrBadName, 2, "eventlistener:l.1", "", "rename the pool (e.g. l_1)"},
		{"unknown program in group", sup + "[program:web]\ncommand=x\n[group:g]\nprograms=web,wbe\n", ErrUnknownProgram, 5, "group:g", "programs", "did you mean web?"},
		{"empty entry in group", sup + "[program:web]\ncommand=x\n[group:g]\nprograms=web,\n", ErrUnknownProgram, 5, "group:g", "programs", ""},
		{"listener in group", sup + "[eventlistener:l]\ncommand=x\nevents=TICK_5\n[group:g]\nprograms=l\n", ErrUnknownProgram, 6, "group:g", "programs", "event listener"},
		{"group without programs", sup + "[group:g]\npriority=1\n", ErrMissing, 2, "group:g", "programs", ""},
		{"no supervisord section", "[program:a]\ncommand=x\n", ErrMissing, 0, "", "", "[supervisord]"},
		{"no command", sup + "[program:a]\nautostart=false\n", supervisor.ErrMissingCmd, 2, "program:a", "command", ""},
		{"empty command", sup + "[program:a]\ncommand=\n", supervisor.ErrMissingCmd, 2, "program:a", "", ""},
		{"unterminated quote", sup + "[program:a]\ncommand=/bin/sh -c \"echo a\n", supervisor.ErrUnterminatedQuote, 3, "program:a", "command", "no closing quotation for the \" at byte 11"},
		{"comment cuts a command", sup + "[program:a]\ncommand=/bin/sh -c \"echo a ; echo b\"\n", supervisor.ErrUnterminatedQuote, 3, "program:a", "command", "no closing quotation"},
		{"trailing backslash", sup + "[program:a]\nautostart=false\ncommand=/bin/echo a\\\n", supervisor.ErrUnterminatedQuote, 4, "program:a", "command", "no escaped character after the backslash at byte 11"},
		{"backslash at the end of a double-quoted word", sup + "[program:a]\ncommand=/bin/echo \"a\\\n", supervisor.ErrUnterminatedQuote, 3, "program:a", "command", "no escaped character"},
		{"numprocs without process_num", sup + "[program:a]\ncommand=x\nnumprocs=2\n", ErrInvalidValue, 2, "program:a", "process_name", "%(process_num)"},
		{"numprocs with a process_name lacking process_num", sup + "[program:a]\ncommand=x\nnumprocs=2\nprocess_name=%(program_name)s\n", ErrInvalidValue, 5, "program:a", "process_name", ""},
		{"numprocs too large", sup + "[program:a]\ncommand=x\nnumprocs=10001\nprocess_name=%(process_num)d\n", ErrInvalidValue, 4, "program:a", "numprocs", ""},
		{"negative numprocs", sup + "[program:a]\ncommand=x\nnumprocs=-1\n", ErrInvalidValue, 4, "program:a", "numprocs", ""},
		{"bad process name", sup + "[program:a]\ncommand=x\nprocess_name=%(program_name)s:%(process_num)d\n", supervisor.ErrBadName, 4, "program:a", "process_name", ""},
		{"duplicate process names", sup + "[program:a]\ncommand=x\nprocess_name=p\n[program:b]\ncommand=y\nprocess_name=p\n[group:g]\nprograms=a,b\n", ErrDuplicate, 8, "group:g", "", "two processes named p"},
		{"group and program of one name", sup + "[program:x]\ncommand=x\n[program:y]\ncommand=y\n[group:x]\nprograms=y\n", ErrDuplicate, 2, "program:x", "", "group \"x\""},
		{"listener and program of one name", sup + "[program:x]\ncommand=x\n[eventlistener:x]\ncommand=y\nevents=TICK_5\n", ErrDuplicate, 4, "eventlistener:x", "", ""},
		{"stopasgroup without killasgroup", sup + "[program:a]\ncommand=x\nstopasgroup=true\nkillasgroup=false\n", ErrInvalidValue, 5, "program:a", "killasgroup", ""},
		{"bad autorestart", sup + "[program:a]\ncommand=x\nautorestart=sometimes\n", ErrInvalidValue, 4, "program:a", "autorestart", "unexpected"},
		{"exit code out of range", sup + "[program:a]\ncommand=x\nexitcodes=0,256\n", ErrInvalidValue, 4, "program:a", "exitcodes", ""},
		{"bad exit code list", sup + "[program:a]\ncommand=x\nexitcodes=0,,1\n", ErrInvalidValue, 4, "program:a", "exitcodes", ""},
		{"bad stop signal", sup + "[program:a]\ncommand=x\nstopsignal=TERMINATE\n", ErrInvalidValue, 4, "program:a", "stopsignal", ""},
		{"bad size", sup + "[program:a]\ncommand=x\nstdout_logfile_maxbytes=10XB\n", ErrInvalidValue, 4, "program:a", "stdout_logfile_maxbytes", "50MB"},
		{"negative size", sup + "[program:a]\ncommand=x\nstderr_capture_maxbytes=-1\n", ErrInvalidValue, 4, "program:a", "stderr_capture_maxbytes", ""},
		{"bad umask", sup + "[program:a]\ncommand=x\numask=8\n", ErrInvalidValue, 4, "program:a", "umask", "octal"},
		{"umask too large", sup + "[program:a]\ncommand=x\numask=01777\n", ErrInvalidValue, 4, "program:a", "umask", ""},
		{"bad environment", sup + "[program:a]\ncommand=x\nenvironment=A=1,B\n", ErrInvalidValue, 4, "program:a", "environment", "KEY=value"},
		{"unquoted $ in environment", sup + "[program:a]\ncommand=x\nenvironment=A=x$HOME\n", ErrInvalidValue, 4, "program:a", "environment", ""},
		{"unclosed quote in environment", sup + "[program:a]\ncommand=x\nenvironment=A=\"1\n", ErrInvalidValue, 4, "program:a", "environment", "no closing quotation"},
		{"bad global environment", "[supervisord]\nenvironment=A\n", ErrInvalidValue, 2, "supervisord", "environment", ""},
		{"unknown expansion", sup + "[program:a]\ncommand=x %(progam_name)s\n", ErrInterpolation, 3, "program:a", "command", "available: group_name, here, host_node_name, numprocs, process_num, program_name"},
		{"case of an expansion", sup + "[program:a]\ncommand=x %(Program_Name)s\n", ErrInterpolation, 3, "program:a", "command", "case-sensitive"},
		{"missing variable", sup + "[program:a]\ncommand=x %(ENV_NOPE)s\n", ErrInterpolation, 3, "program:a", "command", "no variable NOPE in gafferd's environment or [supervisord] environment or [program:a] environment"},
		{"process_num in a per-program option", sup + "[program:a]\ncommand=x\npriority=%(process_num)d\n", ErrInterpolation, 4, "program:a", "priority", "only the per-process options"},
		{"program_name outside programs", sup + "[unix_http_server]\nfile=/run/%(program_name)s.sock\n", ErrInterpolation, 3, "unix_http_server", "file", "only program"},
		{"program env not in global options", "[supervisord]\nlogfile=%(ENV_LEVEL)s\n[program:a]\ncommand=x\nenvironment=LEVEL=1\n", ErrInterpolation, 2, "supervisord", "logfile", ""},
		{"bad conversion", sup + "[program:a]\ncommand=x %(program_name)z\n", ErrInterpolation, 3, "program:a", "command", "unsupported format character"},
		{"number conversion of text", sup + "[program:a]\ncommand=x %(program_name)d\n", ErrInterpolation, 3, "program:a", "command", "needs a number"},
		{"lone percent", sup + "[program:a]\ncommand=x 100%\n", ErrInterpolation, 3, "program:a", "command", "%%"},
		{"percent s without a name", sup + "[program:a]\ncommand=printf %s x\n", ErrInterpolation, 3, "program:a", "command", "%(name)s"},
		{"star width", sup + "[program:a]\ncommand=x %(process_num)*d\n", ErrInterpolation, 3, "program:a", "command", ""},
		{"listener without events", sup + "[eventlistener:l]\ncommand=x\n", ErrMissing, 2, "eventlistener:l", "events", ""},
		{"listener with empty events", sup + "[eventlistener:l]\ncommand=x\nevents=\n", ErrMissing, 2, "eventlistener:l", "events", ""},
		{"unknown event", sup + "[eventlistener:l]\ncommand=x\nevents=PROCESS_STATE,TICK_10\n", ErrUnknownEvent, 4, "eventlistener:l", "events", "TICK_10"},
		{"supervisor 2 event name", sup + "[eventlistener:l]\ncommand=x\nevents=PROCESS_STATE_CHANGE_EXITED\n", ErrUnknownEvent, 4, "eventlistener:l", "events", "use PROCESS_STATE_EXITED"},
		{"listener redirect_stderr", sup + "[eventlistener:l]\ncommand=x\nevents=TICK_5\nredirect_stderr=true\n", ErrInvalidValue, 5, "eventlistener:l", "redirect_stderr", "protocol"},
		{"listener stdout capture", sup + "[eventlistener:l]\ncommand=x\nevents=TICK_5\nstdout_capture_maxbytes=0\n", ErrUnsupported, 5, "eventlistener:l", "stdout_capture_maxbytes", ""},
		{"buffer_size 0", sup + "[eventlistener:l]\ncommand=x\nevents=TICK_5\nbuffer_size=0\n", ErrInvalidValue, 5, "eventlistener:l", "buffer_size", ""},
		{"listener key in a program", sup + "[program:a]\ncommand=x\nevents=TICK_5\n", ErrUnknownKey, 4, "program:a", "events", ""},
		{"inet without port", sup + "[inet_http_server]\nusername=u\npassword=p\n", ErrMissing, 2, "inet_http_server", "port", ""},
		{"inet IPv6", sup + "[inet_http_server]\nport=[::1]:9001\n", ErrInvalidValue, 3, "inet_http_server", "port", ""},
		{"inet port 0", sup + "[inet_http_server]\nport=:0\n", ErrInvalidValue, 3, "inet_http_server", "port", ""},
		{"unix without file", sup + "[unix_http_server]\nchmod=0700\n", ErrMissing, 2, "unix_http_server", "file", ""},
		{"bad chmod", sup + "[unix_http_server]\nfile=/s\nchmod=rwx\n", ErrInvalidValue, 4, "unix_http_server", "chmod", ""},
		{"bad chown", sup + "[unix_http_server]\nfile=/s\nchown=user:\n", ErrInvalidValue, 4, "unix_http_server", "chown", ""},
		{"username without password", sup + "[inet_http_server]\nport=9001\nusername=u\n", ErrMissing, 2, "inet_http_server", "password", "together"},
		{"password without username", sup + "[unix_http_server]\nfile=/s\npassword=p\n", ErrMissing, 2, "unix_http_server", "username", ""},
		{"bad SHA password", sup + "[inet_http_server]\nport=9001\nusername=u\npassword={SHA}abc\n", ErrInvalidValue, 5, "inet_http_server", "password", "40 hex"},
		{"empty user", sup + "[program:a]\ncommand=x\nuser=\n", ErrInvalidValue, 4, "program:a", "user", ""},
		{"bad loglevel", "[supervisord]\nloglevel=warning\n", ErrInvalidValue, 2, "supervisord", "loglevel", "warn,"},
		{"empty pidfile", "[supervisord]\npidfile=\n", ErrInvalidValue, 2, "supervisord", "pidfile", "empty"},
		{"bad serverurl", sup + "[supervisorctl]\nserverurl=localhost\n", ErrInvalidValue, 3, "supervisorctl", "serverurl", ""},
		{"rpcinterface without factory", sup + "[rpcinterface:supervisor]\nretries=1\n", ErrMissing, 2, "rpcinterface:supervisor", "supervisor.rpcinterface_factory", ""},
		{"option of the main rpcinterface", sup + "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=" + MainRPCInterfaceFactory + "\nretries=1\n", ErrUnknownKey, 4, "rpcinterface:supervisor", "retries", ""},
		{"include without files", sup + "[include]\n", ErrMissing, 2, "include", "files", ""},
		{"fcgi-program without socket", sup + "[fcgi-program:php]\ncommand=php-cgi\n", ErrMissing, 2, "fcgi-program:php", "socket", "unix:///PATH"},
		{"gaffer section", sup + "[program:a]\ncommand=x\n[job:b]\ncmd=y\n", ErrUnsupported, 4, "job:b", "", "either gafferd's INI or a supervisord.conf"},
		{"text before any section", "command=x\n[supervisord]\n", ErrSyntax, 1, "", "", "before the first"},
		{"line without =", sup + "[program:a]\ncommand=x\nautostart\n", ErrSyntax, 4, "program:a", "", ""},
		{"default section value", "[DEFAULT]\nstartsecs=soon\n" + sup + "[program:a]\ncommand=x\n", ErrInvalidInt, 2, "program:a", "startsecs", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := sproblems(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), ps)
			}
			p := ps[0]
			if !errors.Is(p, tt.want) {
				t.Errorf("error %q is not %v", p, tt.want)
			}
			wantFile := testConf
			if p.File != wantFile || p.Line != tt.line || p.Section != tt.section || p.Key != tt.key {
				t.Errorf("at %s:%d [%s] %s, want %s:%d [%s] %s (%v)", p.File, p.Line, p.Section, p.Key, wantFile, tt.line, tt.section, tt.key, p)
			}
			if !strings.Contains(p.Error(), tt.text) {
				t.Errorf("message %q does not contain %q", p.Error(), tt.text)
			}
		})
	}
}

// TestSupervisordDotsInsideAGroup: a '.' is refused in group names only
// (TestSupervisordErrors); program and process names inside a group keep
// theirs, and their full names read back as the same group and process.
func TestSupervisordDotsInsideAGroup(t *testing.T) {
	c := smustParse(t, "[supervisord]\n[group:g]\nprograms=x.y\n[program:x.y]\ncommand=/bin/x\nnumprocs=2\nprocess_name=%(program_name)s.%(process_num)d\n")
	for _, full := range []string{"g.x.y.0", "g.x.y.1"} {
		j := job(t, c, full)
		if session, name := supervisor.ParseName(full); session != "g" || name != j.Name || j.Program.Group != "g" {
			t.Errorf("%s reads back as session %q, job %q; the job is %q in group %q", full, session, name, j.Name, j.Program.Group)
		}
	}
}

func TestSupervisordExpansionBudget(t *testing.T) {
	defer func(n int) { maxExpanded = n }(maxExpanded)
	maxExpanded = 100_000
	src := "[supervisord]\n[program:a]\ncommand=x %(process_num)1000d\nnumprocs=200\nprocess_name=%(process_num)d\n"
	ps := sproblems(t, src)
	if len(ps) != 1 || !errors.Is(ps[0], ErrInterpolation) || ps[0].Key != "command" || !strings.Contains(ps[0].Error(), "longer than") {
		t.Errorf("got %v", ps)
	}
	maxExpanded = 300_000
	smustParse(t, src)
}

func TestSupervisordReportsEveryProblem(t *testing.T) {
	ps := sproblems(t, `[supervisord]
loglevel=loud
[program:a]
command=x
startsecs=soon
autostart=perhaps
[program:b]
[eventlistener:l]
command=y
events=NOPE
`)
	var got []string
	for _, p := range ps {
		got = append(got, p.Section+" "+p.Key)
	}
	// In file order, whatever order they were found in.
	want := []string{"supervisord loglevel", "program:a startsecs", "program:a autostart", "program:b command", "eventlistener:l events"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSupervisordProcessProblemsReportedOnce(t *testing.T) {
	// numprocs=3 would otherwise report the bad reference three times, and
	// a program in two groups once per group.
	ps := sproblems(t, "[supervisord]\n[program:a]\ncommand=x %(nope)s\nnumprocs=3\nprocess_name=a%(process_num)d\n"+
		"[group:g1]\nprograms=a\n[group:g2]\nprograms=a\n")
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(ps), ps)
	}
}

func TestSupervisordWarnings(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"syslog", "[program:a]\ncommand=x\nstdout_syslog=true\n", "[program:a] stdout_syslog: syslog output is not supported"},
		{"unused factory option", "[rpcinterface:cache]\nsupervisor.rpcinterface_factory=supervisor_cache.rpcinterface:make_cache_rpcinterface\ncache_size=3\n",
			`[rpcinterface:cache] cache_size: option not used by gaffer's cache interface, ignored`},
		{"repeated key", "[program:a]\ncommand=x\ncommand=y\n", ":4: [program:a] command: key repeated (first on line 3); this later value wins"},
		{"repeated section", "[program:a]\ncommand=x\n[program:a]\npriority=1\n", ":4: [program:a] section repeated (first on line 2); the two are merged"},
		{"unknown section", "[unknown]\nx=1\n", "[unknown] unknown section, ignored"},
		{"empty group", "[group:g]\nprograms=\n", "no programs"},
		{"numprocs 0, no command needed", "[program:a]\nnumprocs=0\n", "numprocs = 0: no process"},
		{"custom result handler", "[eventlistener:l]\ncommand=x\nevents=TICK_5\nresult_handler=mymod:handler\n", "mymod:handler is Python code"},
		{"include without match", "[include]\nfiles=conf.d/*.conf\n", "no file matches /etc/supervisor/conf.d/*.conf"},
		{"dropped environment text", "[program:a]\ncommand=x\nenvironment=HOME=$HOME\n", `supervisor reads ["HOME"] as separators and drops them`},
		{"redirected stderr file", "[program:a]\ncommand=x\nredirect_stderr=true\nstderr_logfile=/e.log\n", "this file is not used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := smustParse(t, "[supervisord]\n"+tt.src)
			if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, tt.want) }) {
				t.Errorf("no warning with %q in %q", tt.want, c.Warnings)
			}
		})
	}
}

func TestSupervisordRepeatedKeyWins(t *testing.T) {
	c := smustParse(t, "[supervisord]\n[program:a]\ncommand=x\ncommand=y\n[program:a]\npriority=3\n")
	j := job(t, c, "a.a")
	if j.Cmd != "y" || j.Priority != 3 {
		t.Errorf("cmd %q priority %d, want y and 3", j.Cmd, j.Priority)
	}
}

func TestSupervisordJob(t *testing.T) {
	c := smustParse(t, `[supervisord]
environment=G=1,BOTH=global
[unix_http_server]
file=/run/s.sock
[program:web]
command=/srv/web --port 80
process_name=web-%(process_num)d
numprocs=2
numprocs_start=1
priority=5
autostart=false
autorestart=true
startsecs=3
startretries=7
exitcodes=0,2
stopsignal=QUIT
stopwaitsecs=30
stopasgroup=true
user=www-data
directory=/srv
umask=027
redirect_stderr=true
stdout_logfile=/var/log/web-%(process_num)d.log
stdout_logfile_maxbytes=1MB
stdout_logfile_backups=2
stdout_events_enabled=true
stdout_capture_maxbytes=64KB
environment=BOTH=program,P="%(process_num)d"
serverurl=http://127.0.0.1:9001
`)
	got := job(t, c, "web.web-2")
	want := supervisor.NewJobConfig("web-2", "/srv/web --port 80")
	want.Env = map[string]string{"SUPERVISOR_ENABLED": "1", "SUPERVISOR_PROCESS_NAME": "web-2", "SUPERVISOR_GROUP_NAME": "web",
		"SUPERVISOR_SERVER_URL": "http://127.0.0.1:9001", "G": "1", "BOTH": "program", "P": "2"}
	want.OSEnv = true
	want.UID = "www-data"
	want.Cwd = "/srv"
	want.Priority = 5
	want.Start = false
	want.GracefulTimeout = 30 * time.Second
	want.RedirectOutput = []string{"stdout", "stdout"}
	want.RedirectInput = true
	want.Umask, want.UmaskSet = 0o27, true
	want.StopSignal = syscall.SIGQUIT
	want.Logs = map[string]supervisor.LogFile{"stdout": {Path: "/var/log/web-2.log", MaxBytes: 1 << 20, Backups: 2, Events: true, CaptureMaxBytes: 64 << 10}}
	want.Program = &supervisor.Program{Group: "web", StartSecs: 3 * time.Second, StartRetries: 7, AutoRestart: supervisor.RestartAlways,
		ExitCodes: []int{0, 2}, StopAsGroup: true, KillAsGroup: true, ServerURL: "http://127.0.0.1:9001"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
		t.Errorf("program %+v\nwant    %+v", *got.Program, *want.Program)
	}
	if names := jobNames(c); !reflect.DeepEqual(names, []string{"web.web-1", "web.web-2"}) {
		t.Errorf("jobs %v", names)
	}
}

func TestSupervisordStartOrder(t *testing.T) {
	c := smustParse(t, `[supervisord]
[program:z]
command=z
priority=1
[program:a]
command=a
priority=1
[group:g]
programs=m2,m1
priority=1
[program:m1]
command=m
priority=9
[program:m2]
command=m
priority=3
[eventlistener:l]
command=l
events=EVENT
[program:late]
command=late
`)
	want := []string{"l.l", "a.a", "g.m2", "g.m1", "z.z", "late.late"}
	if got := jobNames(c); !reflect.DeepEqual(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
	var groups []string
	for _, g := range c.Supervisord.Groups {
		groups = append(groups, g.Name)
	}
	if want := []string{"l", "a", "g", "z", "late"}; !reflect.DeepEqual(groups, want) {
		t.Errorf("groups %v, want %v", groups, want)
	}
	if g := c.Supervisord.Groups[2]; !reflect.DeepEqual(g.Programs, []string{"m2", "m1"}) || g.Priority != 1 {
		t.Errorf("group g = %+v", g)
	}
}

func TestSupervisordServerURL(t *testing.T) {
	tests := []struct{ name, servers, program, want, programURL string }{
		{"none", "", "", "", ""},
		{"unix", "[unix_http_server]\nfile=/run/s.sock\n", "", "unix:///run/s.sock", ""},
		{"inet all interfaces", "[inet_http_server]\nport=*:9001\n", "", "http://localhost:9001", ""},
		{"inet host", "[inet_http_server]\nport=Example.COM:9001\n", "", "http://example.com:9001", ""},
		{"unix wins", "[inet_http_server]\nport=9001\n[unix_http_server]\nfile=s.sock\n", "", "unix:///srv/cwd/s.sock", ""},
		{"AUTO", "[inet_http_server]\nport=9001\n", "serverurl=auto\n", "http://localhost:9001", ""},
		{"explicit", "[inet_http_server]\nport=9001\n", "serverurl=http://h:1\n", "http://h:1", "http://h:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := smustParse(t, "[supervisord]\n"+tt.servers+"[program:a]\ncommand=x\n"+tt.program)
			j := job(t, c, "a.a")
			if got, ok := j.Env["SUPERVISOR_SERVER_URL"]; got != tt.want || ok != (tt.want != "") {
				t.Errorf("SUPERVISOR_SERVER_URL = %q (set %v), want %q", got, ok, tt.want)
			}
			if j.Program.ServerURL != tt.programURL {
				t.Errorf("Program.ServerURL = %q, want %q", j.Program.ServerURL, tt.programURL)
			}
		})
	}
}

func TestSupervisordEnvironmentOrder(t *testing.T) {
	c := smustParse(t, `[supervisord]
environment=A=global,B=global,SUPERVISOR_ENABLED=0
[program:p]
command=x %(ENV_B)s %(ENV_C)s %(ENV_APP_ENV)s
environment=B=program,C=%(ENV_A)s
`)
	j := job(t, c, "p.p")
	want := map[string]string{"SUPERVISOR_ENABLED": "0", "SUPERVISOR_PROCESS_NAME": "p", "SUPERVISOR_GROUP_NAME": "p",
		"A": "global", "B": "program", "C": "global"}
	if !reflect.DeepEqual(j.Env, want) {
		t.Errorf("env %v, want %v", j.Env, want)
	}
	if j.Cmd != "x program global production" {
		t.Errorf("cmd %q", j.Cmd)
	}
}

func TestSupervisordPaths(t *testing.T) {
	c := smustParse(t, `[supervisord]
directory=run
logfile=~/sv.log
pidfile=sv.pid
childlogdir=logs
[unix_http_server]
file=~www-data/sv.sock
[program:a]
command=x
directory=~unknown/a
stdout_logfile=a.log
stderr_logfile=%(here)s/a.err
`)
	sd := c.Supervisord
	for _, p := range [][2]string{
		{sd.Directory, "/srv/cwd/run"}, {sd.Logfile, "/home/op/sv.log"}, {sd.Pidfile, "/srv/cwd/sv.pid"},
		{sd.Childlogdir, "/srv/cwd/run/logs"}, {sd.Unix.File, "/var/www/sv.sock"},
	} {
		if p[0] != p[1] {
			t.Errorf("got %s, want %s", p[0], p[1])
		}
	}
	j := job(t, c, "a.a")
	if j.Cwd != "/srv/cwd/run/~unknown/a" || j.Logs["stdout"].Path != "/srv/cwd/run/a.log" || j.Logs["stderr"].Path != "/etc/supervisor/a.err" {
		t.Errorf("cwd %s logs %+v", j.Cwd, j.Logs)
	}
}

func TestSupervisordDefaultSection(t *testing.T) {
	// configparser's [DEFAULT] applies to every section that reads the key.
	c := smustParse(t, "[DEFAULT]\nautostart=false\nunrelated=1\n[supervisord]\n[program:a]\ncommand=x\n[program:b]\ncommand=y\nautostart=true\n")
	if job(t, c, "a.a").Start || !job(t, c, "b.b").Start {
		t.Error("[DEFAULT] autostart not applied, or not overridden")
	}
}

func TestSupervisordInclude(t *testing.T) {
	fsys := memFS(map[string]string{
		"/etc/supervisor/supervisord.conf": "[supervisord]\n[include]\nfiles = conf.d/*.conf /opt/extra/%(host_node_name)s.ini\n",
		"/etc/supervisor/conf.d/b.conf":    "[program:b]\ncommand=%(here)s/b\n",
		"/etc/supervisor/conf.d/a.conf":    "[program:a]\ncommand=%(here)s/a\n[include]\nfiles=*.ini\n",
		"/etc/supervisor/conf.d/.x.conf":   "[program:hidden]\ncommand=x\n",
		"/etc/supervisor/conf.d/c.txt":     "[program:c]\ncommand=x\n",
		"/opt/extra/node1.ini":             "[program:n]\ncommand=%(here)s/n\n",
	})
	data, _ := fsys.readFile(testConf)
	c, err := testHost(fsys).parseSupervisord(testConf, data)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{testConf, "/etc/supervisor/conf.d/a.conf", "/etc/supervisor/conf.d/b.conf", "/opt/extra/node1.ini"}
	if !reflect.DeepEqual(c.Files, wantFiles) {
		t.Errorf("files %v, want %v", c.Files, wantFiles)
	}
	if got := jobNames(c); !reflect.DeepEqual(got, []string{"a.a", "b.b", "n.n"}) {
		t.Errorf("jobs %v", got)
	}
	if j := job(t, c, "n.n"); j.Cmd != "/opt/extra/n" {
		t.Errorf("here in an included file: %q", j.Cmd)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool {
		return strings.Contains(w, "conf.d/a.conf:4: [include] files: includes in an included file are not followed")
	}) {
		t.Errorf("warnings %q", c.Warnings)
	}
}

func TestSupervisordIncludeErrorsKeepTheirFile(t *testing.T) {
	fsys := memFS(map[string]string{"/etc/supervisor/conf.d/a.conf": "[program:a]\ncommand=x\nstartsecs=never\n"})
	_, err := testHost(fsys).parseSupervisord(testConf, []byte("[supervisord]\n[include]\nfiles=conf.d/*.conf\n"))
	var e *Error
	if !errors.As(err, &e) || e.File != "/etc/supervisor/conf.d/a.conf" || e.Line != 3 || !errors.Is(err, ErrInvalidInt) {
		t.Errorf("got %v", err)
	}
}

func TestLoadDetectsSupervisord(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"supervisord.conf": "[supervisord]\n[program:a]\ncommand=/bin/a\n",
		"programs.conf":    "; only programs: still supervisor's, and [supervisord] is then missing\n[program:a]\ncommand=/bin/a\n",
		"gaffer.ini":       "[job:a]\ncmd = /bin/a\n[include]\nfiles = x\n",
	})
	c, err := Load(filepath.Join(dir, "supervisord.conf"))
	if err != nil || c.Supervisord == nil || len(c.Jobs) != 1 || c.Jobs[0].Config.Program == nil {
		t.Errorf("supervisord.conf: %+v, %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "programs.conf")); !errors.Is(err, ErrMissing) {
		t.Errorf("programs.conf: %v, want ErrMissing", err)
	}
	c, err = Load(filepath.Join(dir, "gaffer.ini"))
	if err != nil || c.Supervisord != nil || len(c.Jobs) != 1 || c.Jobs[0].Config.Program != nil {
		t.Errorf("gaffer.ini: %+v, %v", c, err)
	}
	c, err = LoadSupervisord(filepath.Join(dir, "supervisord.conf"))
	if err != nil || c.Supervisord == nil {
		t.Errorf("LoadSupervisord: %v", err)
	}
}

func TestIsSupervisord(t *testing.T) {
	tests := map[string]bool{
		"[supervisord]\n":                        true,
		"[program:x]\ncommand=y\n":               true,
		"[eventlistener:x]\n":                    true,
		"[group:g]\n":                            true,
		"[unix_http_server]\n":                   true,
		"[inet_http_server]\n":                   true,
		"[fcgi-program:x]\n":                     true,
		"[rpcinterface:supervisor]\n":            true,
		"; [supervisord]\n[gaffer]\n":            false,
		"[gaffer]\nbind = 127.0.0.1:5000\n":      false,
		"[job:web]\ncmd = x\n  [program:y]\n":    false, // a continuation line, not a header
		"[Supervisord]\n":                        false, // section names are case-sensitive
		"[supervisorctl]\nserverurl=unix:///x\n": false,
		"[job:web]\ncmd = x\n[program:y] ; c\n":  true,
		"[program:x]\ncommand=y\n[job:z]\ncmd=z": true,
	}
	for src, want := range tests {
		if got := IsSupervisord([]byte(src)); got != want {
			t.Errorf("IsSupervisord(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestSupervisordInlineComments(t *testing.T) {
	d := newDocumentDialect(supervisordDialect)
	if errs := d.read("x.conf", []byte("[s] ; c\na = 1 ;c\nb = x;y#z\nc = u # v ; w\nd = ;all\ne = t\n  ; skipped\n\n  u ;c\nf = #\tx\ng=a\t;b\n")); len(errs) > 0 {
		t.Fatal(errs)
	}
	got := map[string]string{}
	for k, e := range d.byName["s"].keys {
		got[k] = e.value
	}
	want := map[string]string{"a": "1", "b": "x;y#z", "c": "u", "d": "", "e": "t\n\nu", "f": "", "g": "a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// configparser's rounds: the first round finds ';' at 4 (no space
	// before it) and '#' at 1 (none either); the second finds ';' at 8.
	if got := inlineCommentStart("a#b;c;d# ;e"); got != 9 {
		t.Errorf("inlineCommentStart = %d, want 9", got)
	}
}

func TestPyFormat(t *testing.T) {
	vars := map[string]any{"n": 7, "neg": -7, "big": 255, "s": "abc", "q": "it's", "u": "é", "a(b)": "nested"}
	lookup := func(k string) (any, bool) { v, ok := vars[k]; return v, ok }
	// Expected values are Python 3's.
	tests := map[string]string{
		"plain":                       "plain",
		"100%%":                       "100%",
		"%(n)d":                       "7",
		"%(n)02d":                     "07",
		"%(n)03d-%(n)s":               "007-7",
		"%(neg).3d|%(neg)+05d|%(n) d": "-007|-0007| 7",
		"%(neg)-5d|%(neg)05.3d":       "-7   |-0007",
		"%(n)+d %(n)i %(n)u %(n)ld":   "+7 7 7 7",
		"%(big)#o|%(big)X|%(big)#06x": "0o377|FF|0x00ff",
		"%(s)5.2s|%(s)-5s|%(s)05s":    "   ab|abc  |  abc",
		"%(big)e|%(big)g|%(big)#.3g":  "2.550000e+02|255|255.",
		"%(n)5.1f":                    "  7.0",
		"%(big)c%(s).0s":              "ÿ",
		"%(q)r|%(u)r|%(u)a|%(n)r":     `"it's"|'é'|'\xe9'|7`,
		"%(a(b))s":                    "nested",
		"%(s)s%%(s)s":                 "abc%(s)s",
		"x%(n)dy%(s)sz":               "x7yabcz",
		"%(u)3s|":                     "  é|",
		"%(n)#x%(n)#X%(n)#o%(n)#d":    "0x70X70o77",
		"%(big)-#8x|":                 "0xff    |",
		"%(neg)x":                     "-7",
		"%(n)010.4d":                  "0000000007",
		"%(s)-010s|":                  "abc       |",
		"%(n)hd":                      "7",
		"%(n)%":                       "",
	}
	for in, want := range tests {
		got, err := pyFormat(in, lookup, 1<<20)
		if in == "%(n)%" {
			if err == nil {
				t.Errorf("%q: no error", in)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("pyFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"%", "%s", "%(n", "%(n)", "%(n)*d", "%(n).*d", "%(n)z", "%(s)d", "%(s)x", "%(s)f", "%(s)c", "%(nope)s", "%(n)99999d"} {
		if got, err := pyFormat(bad, lookup, 1<<20); err == nil {
			t.Errorf("pyFormat(%q) = %q, want an error", bad, got)
		}
	}
}

func TestEnvPairs(t *testing.T) {
	// Expected values are supervisor's datatypes.dict_of_key_value_pairs.
	tests := map[string]map[string]string{
		``:                                {},
		`A=1,B="x y"`:                     {"A": "1", "B": "x y"},
		`A=1;B=2`:                         {"A": "1", "B": "2"},
		`PATH=/usr/bin:/bin,X=a.b+c-d(e)`: {"PATH": "/usr/bin:/bin", "X": "a.b+c-d(e)"},
		`K='a,b', L="c"`:                  {"K": "a,b", "L": "c"},
		`"A"=1`:                           {`"A"`: "1"},
		`A=""`:                            {"A": ""},
		`A="x#y" # the rest is a comment`: {"A": "x#y"},
		"A=1,\nB=2":                       {"A": "1", "B": "2"},
		`A='it"s'`:                        {"A": `it"s`},
		`A="a"b`:                          {"A": "a"}, // a quoted token ends at its quote; b is dropped as a separator
		`A=$HOME`:                         {"A": "$"}, // $ alone is a token; HOME is dropped
		`A=x$y`:                           nil,
		`A=1 B=2`:                         nil,
		`K='a,b',L=`:                      nil,
		`A=héllo`:                         nil,
		`A="open`:                         nil,
		"A=foo#x\nB=1":                    nil, // non-POSIX shlex joins foo and B across the comment
		`A=1,B=2,`:                        {"A": "1", "B": "2"},
		`LANG=en_US.UTF-8,LC_ALL=C`:       {"LANG": "en_US.UTF-8", "LC_ALL": "C"},
		`URL="http://h/?a=1&b=2",DEBUG=1`: {"URL": "http://h/?a=1&b=2", "DEBUG": "1"},
		`A='x', B="y" ,C=z`:               {"A": "x", "B": "y", "C": "z"},
		`A==`:                             {"A": "="},
		`A=1,,B=2`:                        nil,
		`A='1'"2"`:                        {"A": "1"},
	}
	for in, want := range tests {
		got, _, err := envPairs(in)
		if want == nil {
			if err == nil {
				t.Errorf("envPairs(%q) = %v, want an error", in, got)
			} else if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("envPairs(%q): %v is not ErrInvalidValue", in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("envPairs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestSupervisordValues(t *testing.T) {
	sizes := map[string]int64{"0": 0, "1024": 1024, "1kb": 1024, "50MB": 50 << 20, "2GB": 2 << 30, "50 MB": 50 << 20, "1_0KB": 10 << 10, "+5": 5}
	for in, want := range sizes {
		if got, err := byteSize(in); err != nil || got != want {
			t.Errorf("byteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "1.5MB", "10M", "1TB", "-1", "x", "9999999999GB", "1__0"} {
		if got, err := byteSize(bad); err == nil {
			t.Errorf("byteSize(%q) = %d, want an error", bad, got)
		}
	}
	octals := map[string]int{"022": 0o22, "0o22": 0o22, "7": 7, "0777": 0o777, "000": 0}
	for in, want := range octals {
		if got, err := octal(in, 0o777); err != nil || got != want {
			t.Errorf("octal(%q) = %o, %v; want %o", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "8", "0x1", "-1", "+1", "01000", "0o", "1_"} {
		if got, err := octal(bad, 0o777); err == nil {
			t.Errorf("octal(%q) = %o, want an error", bad, got)
		}
	}
	addrs := map[string]string{"9001": ":9001", ":9001": ":9001", "*:9001": ":9001", "127.0.0.1:9001": "127.0.0.1:9001", "Host:1": "host:1"}
	for in, want := range addrs {
		if got, err := inetAddress(in); err != nil || got != want {
			t.Errorf("inetAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "host", "host:", ":0", ":65536", "[::1]:80", "h:80:1"} {
		if got, err := inetAddress(bad); err == nil {
			t.Errorf("inetAddress(%q) = %q, want an error", bad, got)
		}
	}
	ints := map[string]int64{"7": 7, "-3": -3, "+3": 3, "1_000": 1000, " 5 ": 5}
	for in, want := range ints {
		if got, err := pyInt(in); err != nil || got != want {
			t.Errorf("pyInt(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-", "1.0", "_1", "1_", "1__0", "--1", "0x10", "99999999999999999999"} {
		if got, err := pyInt(bad); err == nil {
			t.Errorf("pyInt(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFnmatch(t *testing.T) {
	// Expected values are Python's fnmatch.fnmatchcase.
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"*.conf", "a.conf", true}, {"*.conf", "a.conf.bak", false}, {"*", "", true}, {"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false}, {"?.ini", "a.ini", true}, {"?.ini", "ab.ini", false},
		{"[a-c]x", "bx", true}, {"[a-c]x", "dx", false}, {"[!a-c]x", "dx", true}, {"[!a-c]x", "ax", false},
		{"[^a]", "^", true}, {"[^a]", "b", false}, {"[]]", "]", true}, {"[!]]", "a", true}, {"[!]]", "]", false},
		{"[a-]", "-", true}, {"[z-a]", "m", false}, {"[c-ab]", "b", true}, {"[c-ab]", "a", false},
		{"[", "[", true}, {"a[b", "a[b", true}, {"[!]", "[!]", true}, {`\*`, `\x`, true}, {"*.CONF", "a.conf", false},
		{"a*", "abc", true}, {"*a", "bca", true}, {"**x", "yx", true},
	}
	for _, tt := range tests {
		if got := fnmatch(tt.pat, tt.name); got != tt.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}

func TestPyGlob(t *testing.T) {
	fsys := memFS(map[string]string{
		"/c/conf.d/b.conf": "", "/c/conf.d/a.conf": "", "/c/conf.d/.h.conf": "", "/c/conf.d/x.ini": "",
		"/c/other.d/z.conf": "", "/c/.hid.d/y.conf": "", "/c/plain": "",
	})
	tests := map[string][]string{
		"/c/conf.d/*.conf": {"/c/conf.d/a.conf", "/c/conf.d/b.conf"},
		"/c/conf.d/.*":     {"/c/conf.d/.h.conf"},
		"/c/*.d/*.conf":    {"/c/conf.d/a.conf", "/c/conf.d/b.conf", "/c/other.d/z.conf"},
		"/c/.*.d/*.conf":   {"/c/.hid.d/y.conf"},
		"/c/plain":         {"/c/plain"},
		"/c/missing":       nil,
		"/c/conf.d/[ab]*":  {"/c/conf.d/a.conf", "/c/conf.d/b.conf"},
		"/c/*/x.ini":       {"/c/conf.d/x.ini"},
		"/c/plain/*":       nil,
		"/nowhere/*.conf":  nil,
	}
	for pat, want := range tests {
		if got := fsys.pyGlob(pat); !reflect.DeepEqual(got, want) {
			t.Errorf("pyGlob(%q) = %q, want %q", pat, got, want)
		}
	}
}

// TestCommandSplitting checks that gaffer's splitting of command (the
// core's supervisor.SplitCommand) gives what supervisor's shlex.split gives
// for the forms supervisor configs use (shlex_test.go holds it to
// python3's shlex on many more).
func TestCommandSplitting(t *testing.T) {
	tests := map[string][]string{
		`/bin/echo a b`:                   {"/bin/echo", "a", "b"},
		`/bin/sh -c "echo hello; exit 1"`: {"/bin/sh", "-c", "echo hello; exit 1"},
		`/bin/sh -c 'echo $HOME'`:         {"/bin/sh", "-c", "echo $HOME"},
		`python -c "print('x y')"`:        {"python", "-c", "print('x y')"},
		`a\ b c`:                          {"a b", "c"},
		`"a\"b" 'c\'d`:                    {`a"b`, `c\d`},
		`echo '' ""`:                      {"echo", "", ""},
		`echo a"b c"d`:                    {"echo", "ab cd"},
		`echo #not-a-comment`:             {"echo", "#not-a-comment"},
		"gunicorn -w 4\n  -b :8000":       {"gunicorn", "-w", "4", "-b", ":8000"},
		`echo "\\" "\x"`:                  {"echo", `\`, `\x`},
		`cmd --opt="a b" --x='c "d"'`:     {"cmd", "--opt=a b", `--x=c "d"`},
	}
	for in, want := range tests {
		got, err := supervisor.SplitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q (shlex.split)", in, got, err, want)
		}
	}
}

// TestSupervisordDoesNotTouchTheDisk parses a config naming real paths with
// a file system that has nothing: only includes read files.
func TestSupervisordDoesNotTouchTheDisk(t *testing.T) {
	c, err := testHost(noFS).parseSupervisord("supervisord.conf", []byte("[supervisord]\nchildlogdir=/nonexistent\n[program:a]\ncommand=/nonexistent/a\ndirectory=/nonexistent\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Supervisord.Childlogdir; got != "/nonexistent" {
		t.Errorf("childlogdir %q", got)
	}
	if _, err := os.Stat("/nonexistent"); err == nil {
		t.Skip("this machine has /nonexistent")
	}
}

func TestSupervisordRPCInterfaces(t *testing.T) {
	c := smustParse(t, "[supervisord]\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n"+
		"[rpcinterface:twiddler]\nsupervisor.rpcinterface_factory=supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface\n"+
		"[rpcinterface:cache]\nsupervisor.rpcinterface_factory = supervisor_cache.rpcinterface:make_cache_rpcinterface\n")
	want := map[string]string{"supervisor": MainRPCInterfaceFactory, "twiddler": TwiddlerRPCInterfaceFactory, "cache": CacheRPCInterfaceFactory}
	if !maps.Equal(c.Supervisord.RPCInterfaces, want) {
		t.Errorf("RPCInterfaces = %v, want %v", c.Supervisord.RPCInterfaces, want)
	}
	ps := sproblems(t, "[supervisord]\n[rpcinterface:mine]\nsupervisor.rpcinterface_factory=my_ext.rpc:make\n")
	if len(ps) != 1 || !errors.Is(ps[0], ErrUnsupported) || ps[0].Section != "rpcinterface:mine" ||
		!strings.Contains(ps[0].Error(), "my_ext.rpc:make is a Python extension") {
		t.Errorf("unknown factory: got %v", ps)
	}
}
