package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// noFS has no files, so that an include in fuzz input cannot read or walk
// the machine's disk.
var noFS = fileSystem{
	stat:     func(string) (fs.FileInfo, error) { return nil, fs.ErrNotExist },
	readFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
	walkDir:  func(string, fs.WalkDirFunc) error { return fs.ErrNotExist },
	readDir:  func(string) ([]fs.DirEntry, error) { return nil, fs.ErrNotExist },
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.ini"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"[job:web]\ncmd = run\n",
		"[DEFAULT]\nroot = /srv\n[job:shop:web]\ncmd = %(root)s/run %%\n  --flag\nenv:A = b\nflapping = 2 1 7 5\nbackoff = 1 10\n[env:shop.web]\nx = 1\n",
		"[gaffer]\nbind = [::1]:5000, unix:/x\ninclude = a.ini\ninclude_dir = d\nlookupd_address = http://h:1\n[webhooks]\n. = http://h/\n",
		"[job:a]\ncmd = x\npriority = 2\n[process:a]\ncmd = y\n",
		"[job:a]\ncmd = x\ndepends_on = b (healthy, delay=1), s.c (propagate)\nreadiness = http http://h/\nreadiness_period = 2\nliveness = exec c -q\n[job:b]\ncmd = b\n",
		"k = %(k)s\n[s]\n= x\n[]\n[x] y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := noFS.parse("fuzz.ini", data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			for _, e := range splitErrors(err) {
				var ce *Error
				if !errors.As(e, &ce) || ce.File != "fuzz.ini" {
					t.Fatalf("problem without location: %v", e)
				}
			}
			return
		}
		if !slices.IsSortedFunc(c.Jobs, func(a, b Job) int { return cmpInt(a.Config.Priority, b.Config.Priority) }) {
			t.Fatal("jobs not in priority order")
		}
		seen := map[string]bool{}
		for _, j := range c.Jobs {
			if err := j.Config.Validate(); err != nil {
				t.Fatalf("invalid job accepted: %v", err)
			}
			if seen[j.FullName()] {
				t.Fatalf("duplicate job %s", j.FullName())
			}
			seen[j.FullName()] = true
			if strings.ContainsAny(j.Session, "./:") || j.Session == "" {
				t.Fatalf("bad session %q", j.Session)
			}
		}
	})
}

func FuzzLoadJSONJobs(f *testing.F) {
	for _, s := range []string{
		`{"name": "web", "cmd": "run"}`,
		`{"name": "app.web", "cmd": "run", "args": "a 'b c'", "env": {"A": "1"}, "flapping": {"attempts": 3}, "backoff": {"initial": 1}}`,
		`{"session": "s", "jobs": [{"name": "a", "cmd": "x", "uid": 0}, {"name": "b", "session": "t", "cmd": "y"}]}`,
		`{"jobs": [{"name": "a"}, 3, null]}`,
		`null`,
		`{"name": "a/b.c", "cmd": "x", "graceful_timeout": 1e300}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := LoadJSONJobs("fuzz.json", data)
		if err != nil {
			if jobs != nil {
				t.Fatal("jobs returned with an error")
			}
			return
		}
		for _, j := range jobs {
			if err := j.Config.Validate(); err != nil {
				t.Fatalf("invalid job accepted: %v", err)
			}
			if _, ok := j.Config.Extra["session"]; ok {
				t.Fatal("session kept as an extra key")
			}
		}
	})
}

// fuzzIncludes is the only disk FuzzParseSupervisord sees: a few files an
// [include] in the input can glob.
var fuzzIncludes = map[string]string{
	"/etc/supervisor/conf.d/a.conf": "[program:inc]\ncommand=/bin/inc %(here)s\n[group:g]\nprograms=inc\n",
	"/etc/supervisor/conf.d/b.conf": "[eventlistener:lis]\ncommand=/bin/l\nevents=TICK_5\n[include]\nfiles=*\n",
	"/etc/supervisor/conf.d/c.ini":  "[supervisord]\nenvironment=I=1\n",
}

func FuzzParseSupervisord(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/supervisord/*.conf")
	for _, p := range inputs {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"[supervisord]\n[include]\nfiles=conf.d/*.conf conf.d/[!x]*.ini\n[program:p]\ncommand=p\n",
		"[supervisord]\n[program:w]\ncommand=w %(process_num)03d %(ENV_HOME)s\nprocess_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nenvironment=A=\"1\",B='x, y'\n",
		"[supervisord]\nenvironment=A=%%(host_node_name)s\n[unix_http_server]\nfile=%(here)s/s\n[inet_http_server]\nport=*:9001\n",
		"[supervisord]\n[program:a]\ncommand=a\ndepends_on=b (healthy), g:c\nreadiness=tcp h:1\nliveness_timeout=2\nliveness=notify\n[program:b]\ncommand=b\nnumprocs=2\nprocess_name=b%(process_num)s\n[group:g]\nprograms=c\n[program:c]\ncommand=c\n",
	} {
		f.Add([]byte(s))
	}
	h := testHost(memFS(fuzzIncludes))
	const name = "/etc/supervisor/fuzz.conf"
	f.Fuzz(func(t *testing.T, data []byte) {
		IsSupervisord(data)
		c, err := h.parseSupervisord(name, data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			for _, e := range splitErrors(err) {
				var ce *Error
				if !errors.As(e, &ce) || ce.File == "" {
					t.Fatalf("problem without location: %v", e)
				}
			}
			return
		}
		sd := c.Supervisord
		if sd == nil {
			t.Fatal("no Supervisord")
		}
		inGroups := map[string]bool{}
		for _, g := range sd.Groups {
			for _, p := range g.Processes {
				if inGroups[p] {
					t.Fatalf("process %s listed twice", p)
				}
				inGroups[p] = true
			}
		}
		var order []string
		for _, g := range sd.Groups {
			order = append(order, g.Processes...)
		}
		if len(order) != len(c.Jobs) {
			t.Fatalf("%d jobs, %d processes in groups", len(c.Jobs), len(order))
		}
		for i, j := range c.Jobs {
			if err := j.Config.Validate(); err != nil {
				t.Fatalf("invalid job accepted: %v", err)
			}
			if j.FullName() != order[i] {
				t.Fatalf("job %d is %s, groups say %s", i, j.FullName(), order[i])
			}
			if strings.ContainsAny(j.Session, "./: ") || j.Session == "" {
				t.Fatalf("bad session %q", j.Session)
			}
			if p := j.Config.Program; p == nil || p.Group != j.Session || j.Config.NumProcesses != 1 {
				t.Fatalf("job %s: program %+v, %d processes", j.FullName(), p, j.Config.NumProcesses)
			}
		}
	})
}
