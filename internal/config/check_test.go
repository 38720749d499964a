package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/deps"
	"github.com/gafferhq/gaffer/internal/proc"
)

func problemStrings(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestCheckCommands(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "notexec"), []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "local"), []byte("#!/bin/sh\n"), 0o755)
	ini := filepath.Join(dir, "gafferd.ini")
	os.WriteFile(ini, []byte(`[job:found]
cmd = tool --flag
env:PATH = `+bin+`
os_env = false

[job:missing]
cmd = no-such-tool-here

[job:notexec]
cmd = `+filepath.Join(bin, "notexec")+`

[job:relative]
cmd = ./local
cwd = `+dir+`

[job:disabled]
cmd = no-such-tool-either
start = false

[job:shell]
cmd = no-such-tool | cat
shell = true
`), 0o644)
	c, err := Load(ini)
	if err != nil {
		t.Fatal(err)
	}
	ps := Check(c)
	got := problemStrings(ps)
	if len(ps) != 2 {
		t.Fatalf("want 2 problems, got:\n%s", strings.Join(got, "\n"))
	}
	if !errors.Is(ps[0].Err, proc.ErrNotFound) || !strings.HasPrefix(got[0], ini+":6: [job:missing] cmd: executable file not found in PATH: default.missing: command \"no-such-tool-here\" cannot be run (PATH=") {
		t.Errorf("problem 1 = %s", got[0])
	}
	if !errors.Is(ps[1].Err, os.ErrPermission) || !strings.HasPrefix(got[1], ini+":9: [job:notexec] cmd: permission denied: default.notexec") ||
		!slices.Equal(ps[1].Jobs, []string{"default.notexec"}) {
		t.Errorf("problem 2 = %s", got[1])
	}

	// A supervisord program runs with its environment's PATH over gafferd's.
	conf := filepath.Join(dir, "supervisord.conf")
	os.WriteFile(conf, []byte("[supervisord]\n[program:a]\ncommand = tool\nenvironment = PATH=\""+bin+"\"\n[program:b]\ncommand = tool\n"), 0o644)
	c, err = Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	if ps := problemStrings(Check(c)); len(ps) != 1 || !strings.HasPrefix(ps[0], conf+":5: [program:b] command: executable file not found in PATH: b.b: command \"tool\"") {
		t.Errorf("supervisord problems = %q", ps)
	}
	// A gaggled path setting prefixes the children's PATH.
	gconf := filepath.Join(dir, "gaggled.conf")
	os.WriteFile(gconf, []byte("gaggled {\n  path "+bin+"\n}\nt {\n  command tool\n}\nu {\n  command nothere\n}\n"), 0o644)
	c, err = Load(gconf)
	if err != nil {
		t.Fatal(err)
	}
	if ps := problemStrings(Check(c)); len(ps) != 1 || !strings.HasPrefix(ps[0], gconf+":7: [u] command: executable file not found in PATH: default.u: command \"nothere\" cannot be run (PATH="+bin+":") {
		t.Errorf("gaggled problems = %q", ps)
	}
}

func TestCheckDependencies(t *testing.T) {
	c, err := LoadUnchecked(writeTemp(t, "gafferd.ini", `[job:web]
cmd = sh
depends_on = db, cache, shop.cart

[job:db]
cmd = sh
start = false

[job:shop:cart]
cmd = sh
depends_on = default.web

[job:lone]
cmd = sh
depends_on = nothere
`))
	if err != nil {
		t.Fatal(err)
	}
	ps := Check(c)
	var unknown, cycle, disabled []Problem
	for _, p := range ps {
		switch {
		case errors.Is(p.Err, deps.ErrUnknown):
			unknown = append(unknown, p)
		case errors.Is(p.Err, deps.ErrCycle):
			cycle = append(cycle, p)
		case errors.Is(p.Err, ErrDisabledDependency):
			disabled = append(disabled, p)
		default:
			t.Errorf("unexpected problem %s", p)
		}
	}
	if len(unknown) != 2 || !slices.Equal(unknown[0].Jobs, []string{"default.web", "default.cache"}) || unknown[1].Section != "job:lone" {
		t.Errorf("unknown = %v", problemStrings(unknown))
	}
	if len(cycle) != 1 || !strings.Contains(cycle[0].String(), "[job:web] depends_on: dependency cycle: default.web -> shop.cart -> default.web") ||
		!slices.Equal(cycle[0].Jobs, []string{"default.web", "shop.cart"}) {
		t.Errorf("cycle = %v", problemStrings(cycle))
	}
	if len(disabled) != 1 || !strings.Contains(disabled[0].String(), ":1: [job:web] depends_on: depends on a job that does not start at boot: default.web starts at boot and depends on default.db, which does not (start = false)") {
		t.Errorf("disabled = %v", problemStrings(disabled))
	}
	// Load refuses the same graph, with the same lines.
	_, err = Load(c.Files[0])
	for _, p := range append(unknown, cycle...) {
		if err == nil || !strings.Contains(err.Error(), p.String()) {
			t.Errorf("Load error %v lacks %q", err, p)
		}
	}
	if err != nil && strings.Contains(err.Error(), "does not start at boot") {
		t.Errorf("Load refuses a dependency on a disabled job: %v", err)
	}
}

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
