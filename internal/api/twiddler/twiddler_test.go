package twiddler

import (
	"errors"
	"strings"
	"testing"
)

func TestProgramJobs(t *testing.T) {
	jobs, err := ProgramJobs("/srv", "grp", 5, "web", map[string]any{
		"command": "/bin/sleep 60", "numprocs": 2, "process_name": "%(program_name)s_%(process_num)d",
		"autostart": false, "directory": "%(here)s/run", "environment": "G=%(group_name)s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("got %d jobs, want 2", len(jobs))
	}
	for i, j := range jobs {
		p := j.Config.Program
		if j.Session != "grp" || p == nil || p.Group != "grp" {
			t.Errorf("job %d: session %q, program %+v: want group grp", i, j.Session, p)
		}
		if want := []string{"web_0", "web_1"}[i]; j.Config.Name != want {
			t.Errorf("job %d named %q, want %q", i, j.Config.Name, want)
		}
		if j.Config.Cwd != "/srv/run" || j.Config.Env["G"] != "grp" {
			t.Errorf("job %d: dir %q, env %v", i, j.Config.Cwd, j.Config.Env)
		}
	}
}

func TestProgramJobsBadOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  map[string]any
		group string
		want  string
	}{
		{"no command", map[string]any{"autostart": true}, "g", "command"},
		{"unknown option", map[string]any{"command": "x", "colour": "red"}, "g", "colour"},
		{"bad int", map[string]any{"command": "x", "startsecs": "soon"}, "g", "startsecs"},
		{"section injection", map[string]any{"command": "x\n[program:evil]\ncommand=y"}, "g", "span lines"},
		{"key injection", map[string]any{"command": "x", "a]\n[x": "1"}, "g", "option name"},
		{"array value", map[string]any{"command": []any{"x"}}, "g", "cannot be an option value"},
		{"bad group", map[string]any{"command": "x"}, "a:b", "not a valid name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ProgramJobs("/srv", tt.group, 999, "p", tt.opts)
			if !errors.Is(err, errBadOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a bad options error naming %q", err, tt.want)
			}
		})
	}
}

// FuzzProgramJobs checks that no option can add a section or a job beyond
// the program's own, and that nothing panics.
func FuzzProgramJobs(f *testing.F) {
	f.Add("g", "p", "command", "/bin/true", "numprocs", "1")
	f.Add("g", "p", "command", "x\n[program:y]", "a", "b")
	f.Add("g", "p", "process_name", "%(program_name)s", "command", "%(ENV_HOME)s")
	f.Add("g]", "p", "command", "x", "[program:z]", "y")
	f.Fuzz(func(t *testing.T, group, program, k1, v1, k2, v2 string) {
		jobs, err := ProgramJobs("/srv", group, 1, program, map[string]any{k1: v1, k2: v2})
		if err != nil {
			return
		}
		for _, j := range jobs {
			if j.Session != group || j.Config.Program == nil || j.Config.Program.Group != group {
				t.Fatalf("job %s in session %q, want only group %q", j.Config.Name, j.Session, group)
			}
		}
	})
}
