package legacy

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/supervisor"
)

// targetKind says what a route's permission is checked on.
type targetKind int

const (
	targetNone     targetKind = iota // ManageAll routes
	targetSession                    // a group (session)
	targetJob                        // a template (job)
	targetPid                        // the job of a process
	targetDeferred                   // known only from the body: the handler checks
)

// route is one parsed request: the handler, the permission it needs, and
// the path's parts.
type route struct {
	serve  func(*Handler, http.ResponseWriter, *http.Request, route) error
	need   rest.Permission
	target targetKind

	name    string   // template name as the client wrote it ("web", "app:web")
	job     string   // its full job name ("default.web", "app.web")
	session string   // group = session
	pid     int      // gaffer's internal pid (0 = none: not found)
	action  string   // "_start", "_add", …
	arg     string   // what follows the action ("3" in _add/3), "" when none
	hasArg  bool     // an argument segment was given (even empty)
	label   string   // stream label
	pattern []string // /watch parts
}

// Template names (gaffer 0.4.4) and jobs (0.5.2): "group:name" is job
// "group.name", a name without ':' is job "default.name". Groups are
// sessions, so they cannot contain '.', '/' or spaces, nor be empty.

// jobOf returns the full job name of a template name, or ErrNotFound
// wrapped with the name when it cannot name a job.
func jobOf(name string) (full, session string, err error) {
	group, job, grouped := strings.Cut(name, ":")
	if !grouped {
		group, job = supervisor.DefaultSession, name
	}
	if group == "" || job == "" || strings.ContainsAny(group, "./ ") || strings.Contains(job, "/") {
		return "", "", fmt.Errorf("template %q: %w", name, supervisor.ErrNotFound)
	}
	return group + "." + job, group, nil
}

// templateName is the 0.4.4 name of a full job name.
func templateName(full string) string {
	s, j := supervisor.ParseName(full)
	if s == supervisor.DefaultSession {
		return j
	}
	return s + ":" + j
}

func isPid(seg string) bool {
	return seg != "" && strings.TrimLeft(seg, "0123456789") == ""
}

// pidOf reads a digits-only segment; a number too large to be a pid is 0,
// which names no process.
func pidOf(seg string) int {
	n, err := strconv.Atoi(seg)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Actions on a template (POST unless noted) and what they need.
var templateActions = map[string]bool{"_start": false, "_stop": false, "_restart": false,
	"_add": true, "_sub": true, "_signal": true} // true: takes an argument

// parseRoute maps a method and an escaped path to a route, or to the error
// the request gets (404 for unknown paths, 405 for a known path with
// another method, 400/404 with 0.4.4's codes for bad parts).
func parseRoute(method, escaped string) (route, error) {
	raw := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return route{}, errNoRoute
		}
		segs[i] = u
	}
	// Every segment after the first must be non-empty: no trailing slash.
	for _, s := range segs[1:] {
		if s == "" {
			return route{}, errNoRoute
		}
	}
	allow := func(rt route, methods ...string) (route, error) {
		if method == http.MethodOptions {
			return rt, nil
		}
		for _, m := range methods {
			if m == method {
				return rt, nil
			}
		}
		return route{}, methodNotAllowed(methods)
	}
	switch segs[0] {
	case "processes":
		return parseProcesses(method, segs[1:], allow)
	case "status":
		if len(segs) != 2 {
			return route{}, errNoRoute
		}
		rt, err := templateRoute(segs[1])
		if err != nil {
			return route{}, err
		}
		rt.serve, rt.need, rt.target = (*Handler).status, rest.Read, targetJob
		return allow(rt, http.MethodGet)
	case "groups":
		return parseGroups(method, segs[1:], allow)
	case "watch":
		if len(segs) > 4 {
			return route{}, errNoRoute
		}
		parts, err := watchPattern(segs[1:])
		if err != nil {
			return route{}, err
		}
		return allow(route{serve: (*Handler).watch, need: rest.ManageAll, pattern: parts}, http.MethodGet)
	case "stats":
		switch len(segs) {
		case 1:
			return allow(route{serve: (*Handler).allStats, need: rest.ManageAll}, http.MethodGet)
		case 2:
			rt, err := templateRoute(segs[1])
			if err != nil {
				return route{}, err
			}
			rt.serve, rt.need, rt.target = (*Handler).templateStats, rest.Read, targetJob
			return allow(rt, http.MethodGet)
		case 3:
			rt, err := templateRoute(segs[1])
			if err != nil {
				return route{}, err
			}
			if !isPid(segs[2]) {
				return route{}, badValue(fmt.Sprintf("pid %q: want a number", segs[2]))
			}
			rt.pid = pidOf(segs[2])
			rt.serve, rt.need, rt.target = (*Handler).processStats, rest.Read, targetPid
			return allow(rt, http.MethodGet)
		}
		return route{}, errNoRoute
	case "streams":
		if len(segs) != 3 {
			return route{}, errNoRoute
		}
		if !isPid(segs[1]) {
			return route{}, badValue(fmt.Sprintf("pid %q: want a number", segs[1]))
		}
		rt := route{pid: pidOf(segs[1]), label: segs[2], target: targetPid}
		switch method {
		case http.MethodPost:
			rt.serve, rt.need = (*Handler).writeStdin, rest.Write
		default:
			rt.serve, rt.need = (*Handler).stream, rest.Read
		}
		return allow(rt, http.MethodGet, http.MethodPost)
	case "wstreams":
		if len(segs) != 2 {
			return route{}, errNoRoute
		}
		if !isPid(segs[1]) {
			return route{}, badValue(fmt.Sprintf("pid %q: want a number", segs[1]))
		}
		rt := route{serve: (*Handler).wstream, need: rest.Write, target: targetPid, pid: pidOf(segs[1])}
		return allow(rt, http.MethodGet)
	}
	return route{}, errNoRoute
}

// templateRoute fills a route's name, job and session from a name segment.
func templateRoute(name string) (route, error) {
	full, session, err := jobOf(name)
	if err != nil {
		return route{}, err
	}
	return route{name: name, job: full, session: session}, nil
}

type allowFunc func(route, ...string) (route, error)

func parseProcesses(method string, segs []string, allow allowFunc) (route, error) {
	if len(segs) == 0 {
		switch method {
		case http.MethodPost:
			return route{serve: (*Handler).create, need: rest.Manage, target: targetDeferred}, nil
		default:
			return allow(route{serve: (*Handler).list, need: rest.ManageAll}, http.MethodGet, http.MethodPost)
		}
	}
	var rt route
	pid := isPid(segs[0])
	if pid {
		rt = route{pid: pidOf(segs[0]), target: targetPid}
	} else {
		var err error
		if rt, err = templateRoute(segs[0]); err != nil {
			return route{}, err
		}
		rt.target = targetJob
	}
	if len(segs) == 1 {
		if pid {
			switch method {
			case http.MethodDelete:
				rt.serve, rt.need = (*Handler).stopPid, rest.Manage
			default:
				rt.serve, rt.need = (*Handler).pidInfo, rest.Read
			}
			return allow(rt, http.MethodGet, http.MethodHead, http.MethodDelete)
		}
		switch method {
		case http.MethodPut:
			rt.serve, rt.need = (*Handler).update, rest.Manage
		case http.MethodDelete:
			rt.serve, rt.need = (*Handler).remove, rest.Manage
		default:
			rt.serve, rt.need = (*Handler).info, rest.Read
		}
		return allow(rt, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete)
	}
	rt.action = segs[1]
	if !strings.HasPrefix(rt.action, "_") {
		return route{}, errNoRoute
	}
	if len(segs) > 2 {
		rt.arg, rt.hasArg = strings.Join(segs[2:], "/"), true
	}
	if pid {
		switch rt.action {
		case "_stop":
			if rt.hasArg {
				return route{}, errResourceNotFound
			}
		case "_signal":
		default:
			return route{}, errResourceNotFound
		}
		rt.serve, rt.need = (*Handler).pidAction, rest.Manage
		return allow(rt, http.MethodPost)
	}
	if rt.action == "_pids" {
		if rt.hasArg {
			return route{}, errResourceNotFound
		}
		rt.serve, rt.need = (*Handler).pids, rest.Read
		return allow(rt, http.MethodGet)
	}
	takesArg, known := templateActions[rt.action]
	if !known || (rt.hasArg && !takesArg) {
		return route{}, errResourceNotFound
	}
	rt.serve, rt.need = (*Handler).templateAction, rest.Manage
	return allow(rt, http.MethodPost)
}

func parseGroups(method string, segs []string, allow allowFunc) (route, error) {
	switch len(segs) {
	case 0:
		return allow(route{serve: (*Handler).groups, need: rest.ManageAll}, http.MethodGet)
	case 1, 2:
		g := segs[0]
		if strings.ContainsAny(g, "./ ") {
			return route{}, fmt.Errorf("group %q: %w", g, supervisor.ErrNotFound)
		}
		rt := route{session: g, target: targetSession, need: rest.Manage}
		if len(segs) == 1 {
			switch method {
			case http.MethodDelete:
				rt.serve = (*Handler).removeGroup
			default:
				rt.serve = (*Handler).group
			}
			return allow(rt, http.MethodGet, http.MethodDelete)
		}
		rt.action = segs[1]
		switch rt.action {
		case "_start", "_stop", "_restart":
		default:
			if !strings.HasPrefix(rt.action, "_") {
				return route{}, errNoRoute
			}
			return route{}, errResourceNotFound
		}
		rt.serve = (*Handler).groupAction
		return allow(rt, http.MethodPost)
	}
	return route{}, errNoRoute
}

// Events a /watch pattern may name (gaffer-events.md §9).
var (
	managerEvents = []string{"start", "stop", "create", "update", "delete"}
	processEvents = []string{"start", "stop", "spawn", "reap", "exit", "stop_pid"}
)

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// watchPattern validates the parts of /watch/<p1>/<p2>/<p3>: one part must
// be a manager event (start, stop, create, update, delete); three parts
// must be proc/<name>/<event> with a process event (start, stop, spawn,
// reap, exit, stop_pid); two parts are free (proc/<name>). Event words are
// matched without regard to case and lowered; names keep their case.
// The reference checked the first of three parts against the process
// events, which refused proc/<name>/<event>; that form is accepted here.
func watchPattern(parts []string) ([]string, error) {
	out := append([]string(nil), parts...)
	switch len(out) {
	case 1:
		out[0] = strings.ToLower(out[0])
		if !oneOf(out[0], managerEvents) {
			return nil, badEventType(fmt.Sprintf("event %q: want one of %s", parts[0], strings.Join(managerEvents, ", ")))
		}
	case 3:
		out[2] = strings.ToLower(out[2])
		if out[0] != "proc" || !oneOf(out[2], processEvents) {
			return nil, badEventType(fmt.Sprintf("pattern %q: want proc/<name>/<event> with event one of %s",
				strings.Join(parts, "/"), strings.Join(processEvents, ", ")))
		}
	}
	return out, nil
}
