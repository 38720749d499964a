package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

func TestLoadJSONJobs(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // session.job
	}{
		{"one job", `{"name": "web", "cmd": "run"}`, []string{"default.web"}},
		{"one job with session.job", `{"name": "app.web", "cmd": "run"}`, []string{"app.web"}},
		{"one job with session/job", `{"name": "app/web", "cmd": "run"}`, []string{"app.web"}},
		{"one job with a session key", `{"name": "web", "session": "app", "cmd": "run"}`, []string{"app.web"}},
		{"session key agrees with the name", `{"name": "app.web", "session": "app", "cmd": "run"}`, []string{"app.web"}},
		{"jobs", `{"jobs": [{"name": "app.web", "cmd": "a"}, {"name": "worker", "cmd": "b"}]}`, []string{"app.web", "default.worker"}},
		{"jobs with a top-level session", `{"session": "shop", "jobs": [
			{"name": "web", "cmd": "a"}, {"name": "other.api", "cmd": "b"}, {"name": "x", "session": "own", "cmd": "c"}]}`,
			[]string{"shop.web", "other.api", "own.x"}},
		{"jobs keep file order, not priority", `{"jobs": [{"name": "b", "cmd": "a", "priority": 9}, {"name": "a", "cmd": "b", "priority": 1}]}`,
			[]string{"default.b", "default.a"}},
		{"no jobs", `{"jobs": []}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := LoadJSONJobs("jobs.json", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range jobs {
				got = append(got, j.FullName())
				if _, ok := j.Config.Extra["session"]; ok {
					t.Errorf("%s: session kept as an extra key", j.FullName())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("jobs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadJSONJobsDefaultsAndEcho(t *testing.T) {
	jobs, err := LoadJSONJobs("job.json", []byte(`{"name": "app.web", "cmd": "run", "args": "-v 'a b'", "numprocesses": 2, "graceful_timeout": 2.7, "color": "blue"}`))
	if err != nil {
		t.Fatal(err)
	}
	c := jobs[0].Config
	want := supervisor.NewJobConfig("web", "run")
	want.Args = []string{"-v", "a b"}
	want.NumProcesses = 2
	want.GracefulTimeout = 2e9
	want.Given = []string{"args", "cmd", "graceful_timeout", "name", "numprocesses"}
	want.Extra = map[string]json.RawMessage{"color": json.RawMessage(`"blue"`)}
	if c.OSEnv {
		t.Error("os_env must default to false for JSON jobs (API default)")
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if jobs[0].Source != "job.json" {
		t.Errorf("Source = %q", jobs[0].Source)
	}
}

func TestLoadJSONJobsErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		is      error
		section string
		key     string
		count   int
	}{
		{"not JSON", `{"name":`, ErrSyntax, "", "", 1},
		{"null", `null`, ErrSyntax, "", "", 1},
		{"array", `[{"name": "web", "cmd": "run"}]`, ErrSyntax, "", "", 1},
		{"missing cmd", `{"name": "web"}`, supervisor.ErrMissingCmd, "web", "", 1},
		{"missing name", `{"cmd": "run"}`, supervisor.ErrMissingName, "job", "", 1},
		{"wrong type", `{"name": "web", "cmd": "run", "numprocesses": "2", "priority": "x"}`, nil, "web", "", 1},
		{"empty session in name", `{"name": ".web", "cmd": "run"}`, supervisor.ErrBadName, ".web", "name", 1},
		{"bad session key", `{"name": "web", "session": "a:b", "cmd": "run"}`, supervisor.ErrBadName, "web", "", 1},
		{"empty session key", `{"name": "web", "session": "", "cmd": "run"}`, ErrInvalidValue, "web", "session", 1},
		{"session key not a string", `{"name": "web", "session": 3, "cmd": "run"}`, ErrInvalidValue, "web", "session", 1},
		{"session conflicts with name", `{"name": "a.web", "session": "b", "cmd": "run"}`, ErrInvalidValue, "a.web", "name", 1},
		{"jobs not an array", `{"jobs": {"name": "web"}}`, ErrInvalidValue, "", "jobs", 1},
		{"unknown key next to jobs", `{"jobs": [], "version": 1}`, ErrUnknownKey, "", "version", 1},
		{"errors name the index", `{"jobs": [{"name": "ok", "cmd": "a"}, {"name": "app.web", "numprocesses": -1}]}`,
			supervisor.ErrMissingCmd, "jobs[1] web", "", 2},
		{"duplicate", `{"jobs": [{"name": "web", "cmd": "a"}, {"name": "default.web", "cmd": "b"}]}`,
			ErrDuplicate, "jobs[1] web", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := LoadJSONJobs("jobs.json", []byte(tt.data))
			if err == nil {
				t.Fatalf("no error: %+v", jobs)
			}
			ps := splitErrors(err)
			if len(ps) != tt.count {
				t.Errorf("%d problems, want %d: %v", len(ps), tt.count, err)
			}
			var e *Error
			if !errors.As(ps[0], &e) {
				t.Fatalf("not a *Error: %v", ps[0])
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if e.File != "jobs.json" || e.Section != tt.section || e.Key != tt.key {
				t.Errorf("at %q [%s] %s, want jobs.json [%s] %s (%v)", e.File, e.Section, e.Key, tt.section, tt.key, e)
			}
		})
	}
	_, err := LoadJSONJobs("jobs.json", []byte(`{"name":`))
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("the JSON error is not kept: %v", err)
	}
}
