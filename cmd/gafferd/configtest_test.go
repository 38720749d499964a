package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// configTest runs gafferd -t on a file holding data and returns its exit
// status, stdout and stderr.
func configTest(t *testing.T, name, data string) (code int, stdout, stderr string, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	cmd := exec.Command(gafferdBin, "-t", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return exitCode(err), out.String(), errb.String(), path
}

func TestConfigTestAcceptsEveryFormat(t *testing.T) {
	for name, data := range map[string]string{
		"gafferd.ini": "[job:db]\ncmd = sleep 10\nreadiness = tcp 127.0.0.1:5432\n[job:web]\ncmd = sleep 10\ndepends_on = db (healthy, delay=1), migrate (completed)\n" +
			"[job:migrate]\ncmd = sleep 1\nliveness = exec sleep 0\nliveness_period = 5\n",
		"supervisord.conf": "[supervisord]\n[program:db]\ncommand = sleep 10\n[program:web]\ncommand = sleep 10\ndepends_on = db (propagate)\nreadiness = http http://127.0.0.1:8080/\n",
		"gaggled.conf":     "gaggled {\n  killwait 3000\n}\nprogx {\n  command sleep\n  argv 10s\n}\nprogy {\n  command sleep\n  depends {\n    progx {\n      delay 600\n      propagate true\n    }\n  }\n}\n",
		"jobs.json":        `{"jobs": [{"name": "db", "cmd": "sleep 10"}, {"name": "web", "cmd": "sleep 10", "depends_on": ["db:healthy"]}]}`,
	} {
		code, stdout, stderr, path := configTest(t, name, data)
		if code != 0 || !strings.Contains(stdout, path+": config OK") {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", name, code, stdout, stderr)
		}
	}
}

// TestConfigTestRefuses covers every configuration gaggled's spec
// rejects (missing setting, duplicate program, command not found,
// unknown dependency, cycle, dependency of an enabled program on a
// disabled one, incomplete auto SMTP gate, syntax error) and their
// counterparts in the other formats: each is one line naming the file,
// line, section, key and jobs, and the exit status is 1.
func TestConfigTestRefuses(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             []string // lines (after the file name) that must be in stderr
	}{
		{"gaggled missing command", "g.conf", "p {\n  argv 1\n}\n",
			[]string{":1: [p] command: missing setting: program p has no command"}},
		{"gaggled duplicate program", "g.conf", "p {\n command sleep\n}\np {\n command sleep\n}\n",
			[]string{":4: [p] duplicate: duplicate program name p (also at "}},
		{"gaggled command not found", "g.conf", "p {\n command no-such-command-anywhere\n}\nq {\n command no-such-command-either\n enabled false\n}\n",
			[]string{":1: [p] command: executable file not found in PATH: default.p: command \"no-such-command-anywhere\" cannot be run (PATH="}},
		{"gaggled unknown dependency", "g.conf", "p {\n command sleep\n depends {\n  nothere\n }\n}\n",
			[]string{":1: [p] depends: unknown dependency: default.p depends on default.nothere, which is not in this config"}},
		{"gaggled cycle", "g.conf", "a {\n command sleep\n depends { b }\n}\nb {\n command sleep\n depends { c }\n}\nc {\n command sleep\n depends { a }\n}\n",
			[]string{":1: [a] depends: dependency cycle: default.a -> default.b -> default.c -> default.a"}},
		{"gaggled self dependency", "g.conf", "a {\n command sleep\n depends { a }\n}\n",
			[]string{":1: [a] depends: dependency cycle: default.a -> default.a"}},
		{"gaggled dependency on a disabled program", "g.conf", "progy {\n\tcommand sleep\n\tdepends {\n\t\tprogx\n\t}\n}\nprogx {\n\tcommand sleep\n\tenabled false\n}\n",
			[]string{":1: [progy] depends: depends on a job that does not start at boot: default.progy starts at boot and depends on default.progx, which does not (enabled false)"}},
		{"gaggled smtpgate auto incomplete", "g.conf", "gaggled {\n smtpgate {\n  auto true\n  mx localhost\n }\n}\n",
			[]string{":2: [gaggled.smtpgate] helo: missing: required setting gaggled.smtpgate.helo is not set", "[gaggled.smtpgate] from: missing", "[gaggled.smtpgate] to: missing"}},
		{"gaggled syntax error", "g.conf", "p {\n command \"sleep\n}\n",
			[]string{":2: syntax error: no closing quote"}},
		{"INI graph and commands", "gafferd.ini", "[job:a]\ncmd = sleep 1\ndepends_on = b\n[job:b]\ncmd = sleep 1\ndepends_on = a, c\n[job:c]\ncmd = no-such-command-anywhere\nstart = false\n[job:d]\ncmd = sleep 1\ndepends_on = c, e\n",
			[]string{":1: [job:a] depends_on: dependency cycle: default.a -> default.b -> default.a",
				":10: [job:d] depends_on: unknown dependency: default.d depends on default.e, which is not in this config",
				":4: [job:b] depends_on: depends on a job that does not start at boot: default.b starts at boot and depends on default.c, which does not (start = false)"}},
		{"INI bad depends_on", "gafferd.ini", "[job:a]\ncmd = sleep 1\ndepends_on = b (healthy\n",
			[]string{":3: [job:a] depends_on: invalid value \"b (healthy\": no closing parenthesis after b"}},
		{"INI bad probe", "gafferd.ini", "[job:a]\ncmd = sleep 1\nliveness = notify\n",
			[]string{":3: [job:a] liveness: invalid value \"notify\": notify (READY=1 on $NOTIFY_SOCKET) can only be a readiness probe"}},
		{"supervisord unknown program", "supervisord.conf", "[supervisord]\n[program:web]\ncommand = sleep 1\ndepends_on = dbb\n[program:db]\ncommand = sleep 1\n",
			[]string{":4: [program:web] depends_on: unknown program \"dbb\": no such program or eventlistener in this config (did you mean db?)"}},
		{"supervisord cycle and disabled", "supervisord.conf", "[supervisord]\n[program:a]\ncommand = sleep 1\ndepends_on = b\n[program:b]\ncommand = sleep 1\ndepends_on = a\n[program:c]\ncommand=sleep 1\ndepends_on = d\n[program:d]\ncommand = sleep 1\nautostart = false\n",
			[]string{":2: [program:a] depends_on: dependency cycle: a.a -> b.b -> a.a",
				":8: [program:c] depends_on: depends on a job that does not start at boot: c.c starts at boot and depends on d.d, which does not (autostart = false)"}},
		{"JSON cycle", "jobs.json", `{"jobs": [{"name": "a", "cmd": "sleep 1", "depends_on": ["b"]}, {"name": "b", "cmd": "sleep 1", "depends_on": ["a"]}]}`,
			[]string{": [jobs[0]] depends_on: dependency cycle: default.a -> default.b -> default.a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr, path := configTest(t, tt.file, tt.data)
			if code != 1 {
				t.Errorf("exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			for _, want := range tt.want {
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, path+want) || strings.HasPrefix(l, path) && strings.Contains(l, want) && !strings.HasPrefix(want, ":") {
						found = true
					}
				}
				if !found {
					t.Errorf("no line %q in stderr:\n%s", path+want, stderr)
				}
			}
			if strings.Contains(stdout, "config OK") {
				t.Errorf("stdout says OK: %s", stdout)
			}
		})
	}
}

// TestStartRefusesCyclesLikeConfigTest: without -t, gafferd refuses a
// dependency cycle or an unknown dependency before it starts anything,
// with the lines -t prints.
func TestStartRefusesCyclesLikeConfigTest(t *testing.T) {
	_, _, testOut, path := configTest(t, "g.conf", "a {\n command sleep\n argv 60\n depends { b }\n}\nb {\n command sleep\n argv 60\n depends { a }\n}\nc {\n command sleep\n depends { z }\n}\n")
	out, err := exec.Command(gafferdBin, "-c", path, "--bind", "unix:"+filepath.Join(t.TempDir(), "s")).CombinedOutput()
	if exitCode(err) != 1 {
		t.Fatalf("gafferd started with a cycle: %v\n%s", err, out)
	}
	for _, want := range []string{
		path + ":1: [a] depends: dependency cycle: default.a -> default.b -> default.a",
		path + ":11: [c] depends: unknown dependency: default.c depends on default.z, which is not in this config",
	} {
		if !strings.Contains(string(out), want) || !strings.Contains(testOut, want) {
			t.Errorf("%q missing from startup output:\n%s\nor from -t:\n%s", want, out, testOut)
		}
	}
}
