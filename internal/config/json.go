package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gafferhq/gaffer/supervisor"
)

// LoadJSONJobs reads a JSON job file, as "gaffer load FILE" does: one job
// object, or {"jobs": [...]}. A job's "name" may be "session.job" (split with
// supervisor.ParseName); a "session" key, in the job or at the top level of
// the {"jobs": [...]} form, names the session of jobs whose name has none.
// Jobs get the API defaults (os_env false) and keep file order: priority
// only orders gafferd's boot. name is used in messages.
func LoadJSONJobs(name string, data []byte) ([]Job, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("%w: want a job object or {\"jobs\": [...]}: %w", ErrSyntax, err)}
	}
	if top == nil {
		return nil, &Error{File: name, Err: fmt.Errorf("%w: want a job object or {\"jobs\": [...]}, got null", ErrSyntax)}
	}
	rawJobs, many := top["jobs"]
	if !many {
		j, errs := decodeJSONJob(name, "", data, "")
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return []Job{j}, nil
	}

	var errs []error
	session := ""
	for k, v := range top {
		switch k {
		case "jobs":
		case "session":
			if err := json.Unmarshal(v, &session); err != nil || session == "" {
				errs = append(errs, &Error{File: name, Key: "session", Err: fmt.Errorf("%w: want a session name", ErrInvalidValue)})
			}
		default:
			errs = append(errs, &Error{File: name, Key: k, Err: fmt.Errorf("%w next to \"jobs\"; only \"session\" is accepted there", ErrUnknownKey)})
		}
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rawJobs, &list); err != nil || list == nil {
		errs = append(errs, &Error{File: name, Key: "jobs", Err: fmt.Errorf("%w: want an array of job objects", ErrInvalidValue)})
		return nil, errors.Join(errs...)
	}
	jobs := make([]Job, 0, len(list))
	seen := map[string]int{}
	for i, raw := range list {
		where := fmt.Sprintf("jobs[%d]", i)
		j, jerrs := decodeJSONJob(name, where, raw, session)
		if len(jerrs) > 0 {
			errs = append(errs, jerrs...)
			continue
		}
		if first, dup := seen[j.FullName()]; dup {
			errs = append(errs, &Error{File: name, Section: jsonLabel(where, j.Config.Name), Err: fmt.Errorf("%w: job %s is also jobs[%d]", ErrDuplicate, j.FullName(), first)})
			continue
		}
		seen[j.FullName()] = i
		jobs = append(jobs, j)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return jobs, nil
}

// loadJSONConfig reads a JSON job file given to gafferd as its config: its
// jobs, in boot order (ascending priority, ties in file order).
func loadJSONConfig(name string, data []byte) (*Config, error) {
	jobs, err := LoadJSONJobs(name, []byte(strings.TrimPrefix(string(data), "\ufeff")))
	if err != nil {
		return nil, err
	}
	cfg := newConfig()
	cfg.Files = []string{name}
	cfg.Jobs = jobs
	slices.SortStableFunc(cfg.Jobs, func(x, y Job) int { return cmpInt(x.Config.Priority, y.Config.Priority) })
	return cfg, nil
}

// decodeJSONJob decodes one job object; where ("jobs[1]", or "" for a lone
// object) and the job's name locate its errors. defSession applies when
// neither the name nor the job's own "session" key gives one.
func decodeJSONJob(file, where string, raw json.RawMessage, defSession string) (Job, []error) {
	var c supervisor.JobConfig
	fail := func(key string, err error) []error {
		return []error{&Error{File: file, Section: jsonLabel(where, c.Name), Key: key, Err: err}}
	}
	if err := c.UnmarshalJSON(raw); err != nil {
		// c is half-filled in map order; name the job from the input instead.
		var probe struct{ Name any }
		_ = json.Unmarshal(raw, &probe)
		c.Name, _ = probe.Name.(string)
		return Job{}, fail("", err)
	}
	session := ""
	// "session" is ours, not a job key: keep it out of the echoed extras.
	if v, ok := c.Extra["session"]; ok {
		delete(c.Extra, "session")
		if len(c.Extra) == 0 {
			c.Extra = nil
		}
		if err := json.Unmarshal(v, &session); err != nil || session == "" {
			return Job{}, fail("session", fmt.Errorf("%w: want a session name", ErrInvalidValue))
		}
	}
	if strings.ContainsAny(c.Name, "./") {
		s, job := supervisor.ParseName(c.Name)
		if session != "" && session != s {
			return Job{}, fail("name", fmt.Errorf("%w: %q names session %q, but its \"session\" is %q", ErrInvalidValue, c.Name, s, session))
		}
		if s == "" {
			return Job{}, fail("name", fmt.Errorf("%q: empty session: %w", c.Name, supervisor.ErrBadName))
		}
		session, c.Name = s, job
	}
	if session == "" {
		session = defSession
	}
	if session == "" {
		session = supervisor.DefaultSession
	} else if trim(session) != session || strings.ContainsAny(session, "/:.") {
		return Job{}, fail("", fmt.Errorf("session %q: %w", session, supervisor.ErrBadName))
	}
	var errs []error
	for _, err := range splitErrors(c.Validate()) {
		errs = append(errs, fail("", err)...)
	}
	if len(errs) > 0 {
		return Job{}, errs
	}
	src := file
	if where != "" {
		src = fmt.Sprintf("%s [%s]", file, where)
	}
	return Job{Session: session, Config: c, Source: src}, nil
}

// jsonLabel names a job of a JSON file in messages: "jobs[1] web".
func jsonLabel(where, name string) string {
	switch {
	case name == "" && where == "":
		return "job"
	case name == "":
		return where
	case where == "":
		return name
	}
	return where + " " + name
}
