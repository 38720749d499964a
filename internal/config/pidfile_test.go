package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestINIJobPidfile(t *testing.T) {
	c := mustParse(t, "[job:legacy]\ncmd = legacyd --daemon\npidfile = /run/legacyd.pid\n")
	if got := c.Jobs[0].Config.PIDFile; got != "/run/legacyd.pid" {
		t.Fatalf("PIDFile = %q", got)
	}
	for _, bad := range []string{"pidfile = \n", "pidfile = /run/\n"} {
		ps := problems(t, "[job:legacy]\ncmd = legacyd\n"+bad)
		if len(ps) != 1 || !strings.Contains(ps[0].Error(), "pidfile") {
			t.Errorf("%q: problems %v, want one naming pidfile", bad, ps)
		}
	}
	ps := problems(t, "[job:legacy]\ncmd = legacyd\nnumprocesses = 2\npidfile = d.pid\n")
	if len(ps) == 0 || !strings.Contains(ps[0].Error(), "pidfile") {
		t.Errorf("numprocesses 2 with a pidfile: %v", ps)
	}
}

func TestSupervisordProgramPidfile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	c, err := ParseSupervisord(conf, []byte("[supervisord]\ndirectory = "+dir+"\n[program:legacy]\ncommand = legacyd\npidfile = run/%(program_name)s.pid\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Jobs[0].Config.PIDFile, filepath.Join(dir, "run", "legacy.pid"); got != want {
		t.Fatalf("PIDFile = %q, want %q", got, want)
	}
	_, err = ParseSupervisord(conf, []byte("[supervisord]\n[program:legacy]\ncommand = legacyd\npidfile = run/\n"))
	if err == nil || !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "pidfile") {
		t.Fatalf("directory pidfile: %v", err)
	}
}

func FuzzParsePidfileKey(f *testing.F) {
	for _, s := range []string{"/run/x.pid", "", " ", "a/", "x\x00y", "/..", "rel.pid"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parsePIDFile(v)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("error %v is not ErrInvalidValue", err)
			}
			return
		}
		if got == "" || strings.ContainsRune(got, 0) || strings.HasSuffix(got, "/") || got != strings.TrimSpace(got) {
			t.Fatalf("accepted %q as %q", v, got)
		}
	})
}
