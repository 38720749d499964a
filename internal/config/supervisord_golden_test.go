package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/supervisord")

// goldenRoot is where testdata/supervisord appears to the parser, so that
// %(here)s, includes and the expected JSON do not depend on the checkout.
const goldenRoot = "/etc/supervisor"

// dirFS shows the real directory dir at the absolute path root, and nothing else.
func dirFS(root, dir string) fileSystem {
	real := func(p string) (string, bool) {
		rel, ok := strings.CutPrefix(filepath.Clean(p), root)
		if !ok || rel != "" && rel[0] != '/' {
			return "", false
		}
		return filepath.Join(dir, rel), true
	}
	return fileSystem{
		stat: func(p string) (fs.FileInfo, error) {
			if r, ok := real(p); ok {
				return os.Stat(r)
			}
			return nil, fs.ErrNotExist
		},
		readFile: func(p string) ([]byte, error) {
			if r, ok := real(p); ok {
				return os.ReadFile(r)
			}
			return nil, fs.ErrNotExist
		},
		readDir: func(p string) ([]fs.DirEntry, error) {
			if r, ok := real(p); ok {
				return os.ReadDir(r)
			}
			return nil, fs.ErrNotExist
		},
		walkDir: func(string, fs.WalkDirFunc) error { return fs.ErrNotExist },
	}
}

// testHost is a fixed machine: its environment, host name, working
// directory, temp dir and home directories.
func testHost(fsys fileSystem) host {
	return host{
		fs: fsys,
		env: map[string]string{
			"HOME": "/home/op", "PATH": "/usr/local/bin:/usr/bin:/bin", "LOGLEVEL": "debug", "APP_ENV": "production",
		},
		hostname: "node1", wd: "/srv/cwd", tempDir: "/tmp",
		home: func(u string) (string, bool) {
			switch u {
			case "":
				return "/home/op", true
			case "www-data":
				return "/var/www", true
			}
			return "", false
		},
	}
}

// goldenJob shows a job with Start, which JobConfig's JSON leaves out.
type goldenJob struct {
	Session string
	Start   bool
	Source  string
	Config  supervisor.JobConfig
}

type goldenView struct {
	Files       []string     `json:",omitempty"`
	Warnings    []string     `json:",omitempty"`
	Supervisord *Supervisord `json:",omitempty"`
	Jobs        []goldenJob  `json:",omitempty"`
	Errors      []string     `json:",omitempty"`
}

func goldenOf(c *Config, err error) goldenView {
	if err != nil {
		var v goldenView
		for _, e := range splitErrors(err) {
			v.Errors = append(v.Errors, e.Error())
		}
		return v
	}
	v := goldenView{Files: c.Files, Warnings: c.Warnings, Supervisord: c.Supervisord}
	for _, j := range c.Jobs {
		v.Jobs = append(v.Jobs, goldenJob{Session: j.Session, Start: j.Config.Start, Source: j.Source, Config: j.Config})
	}
	return v
}

// TestSupervisordGolden parses every testdata/supervisord/*.conf (files in
// its subdirectories are include targets) and compares the result, or the
// errors, with the .json beside it. go test -run Golden -update rewrites them.
func TestSupervisordGolden(t *testing.T) {
	confs, err := filepath.Glob("testdata/supervisord/*.conf")
	if err != nil || len(confs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	h := testHost(dirFS(goldenRoot, "testdata/supervisord"))
	for _, conf := range confs {
		name := strings.TrimSuffix(filepath.Base(conf), ".conf")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			c, perr := h.parseSupervisord(goldenRoot+"/"+filepath.Base(conf), data)
			if perr == nil && !reflect.DeepEqual(c.Global, newConfig().Global) {
				t.Errorf("Global = %+v, want the defaults", c.Global)
			}
			if perr == nil {
				for _, j := range c.Jobs {
					if err := j.Config.Validate(); err != nil {
						t.Errorf("job %s does not validate: %v", j.FullName(), err)
					}
				}
			}
			got, err := json.MarshalIndent(goldenOf(c, perr), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(conf, ".conf") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the result (go test -run Golden -update rewrites it):\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
