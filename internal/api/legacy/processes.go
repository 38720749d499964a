package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/supervisor"
)

// ---- /processes --------------------------------------------------------------

// list is GET /processes: template names, or with running=true|1 the pids
// of every live process.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, _ route) error {
	if running := strings.ToLower(r.URL.Query().Get("running")); running == "true" || running == "1" {
		pids, err := h.sup.Pids(r.Context(), "")
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, pids)
	}
	jobs, err := h.sup.Jobs(r.Context(), "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, templateNames(jobs))
}

// templateNames are the 0.4.4 names of full job names, [] for none.
func templateNames(jobs []string) []string {
	names := make([]string, 0, len(jobs))
	for _, j := range jobs {
		names = append(names, templateName(j))
	}
	return names
}

// readObject reads the body as one JSON object: invalid_json otherwise.
func readObject(r *http.Request) ([]byte, map[string]json.RawMessage, error) {
	b, err := io.ReadAll(r.Body)
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		return nil, nil, errTooLarge
	}
	if err != nil {
		return nil, nil, invalidJSON("reading body: " + err.Error())
	}
	var obj map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&obj); err != nil {
		return nil, nil, invalidJSON("body: " + err.Error())
	}
	if obj == nil {
		return nil, nil, invalidJSON("body: want a JSON object")
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, nil, invalidJSON("body: data after the JSON object")
	}
	return b, obj, nil
}

// decodeTemplate reads a template body into a job config named job.
func decodeTemplate(body []byte, obj map[string]json.RawMessage, job string) (supervisor.JobConfig, error) {
	if _, ok := obj["cmd"]; !ok {
		return supervisor.JobConfig{}, invalidProcessInfo(`"cmd" is required`)
	}
	var cfg supervisor.JobConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		return cfg, invalidProcessInfo(err.Error())
	}
	cfg.Name = job
	if err := cfg.Validate(); err != nil {
		return cfg, invalidProcessInfo(err.Error())
	}
	return cfg, nil
}

// create is POST /processes: {"name", "cmd", ...settings, "start"?}.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, _ route) error {
	body, obj, err := readObject(r)
	if err != nil {
		return err
	}
	var name string
	if raw, ok := obj["name"]; !ok || json.Unmarshal(raw, &name) != nil || name == "" {
		return invalidProcessInfo(`"name" is required (a string)`)
	}
	if isPid(name) {
		return invalidProcessInfo(fmt.Sprintf("name %q: a numeric name would be read as a pid", name))
	}
	full, session, err := jobOf(name)
	if err != nil {
		return invalidProcessInfo(fmt.Sprintf("name %q: want <name> or <group>:<name>; a group has no '.', '/' or space", name))
	}
	if err := h.checkTarget(r, session); err != nil {
		return err
	}
	_, job := supervisor.ParseName(full)
	cfg, err := decodeTemplate(body, obj, job)
	if err != nil {
		return err
	}
	if err := h.sup.Load(r.Context(), session, cfg, cfg.Start); err != nil {
		if errors.Is(err, supervisor.ErrConflict) {
			return legacyError(http.StatusConflict, "conflict", fmt.Sprintf("template %q already exists", name))
		}
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// checkTarget authorizes a route whose target is only known from its body.
func (h *Handler) checkTarget(r *http.Request, session string) error {
	return h.check(r, route{need: rest.Manage, target: targetSession, session: session})
}

// templateInfo is 0.4.4's get_process_info: {"name", "cmd", ...settings}
// with the settings as they were given.
func (h *Handler) templateInfo(r *http.Request, full string) (map[string]json.RawMessage, error) {
	info, err := h.sup.Info(r.Context(), full)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(info.Config)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["name"], _ = json.Marshal(templateName(info.Name))
	return m, nil
}

// info is HEAD/GET /processes/<name>.
func (h *Handler) info(w http.ResponseWriter, r *http.Request, rt route) error {
	m, err := h.templateInfo(r, rt.job)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return writeJSON(w, http.StatusOK, m)
}

// pidInfo is HEAD/GET /processes/<pid>: whether it lives, and the template
// info of its template.
func (h *Handler) pidInfo(w http.ResponseWriter, r *http.Request, rt route) error {
	p, err := h.sup.Process(r.Context(), rt.pid)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	m, err := h.templateInfo(r, p.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

// update is PUT /processes/<name>: new settings; the old processes get
// SIGTERM and are replaced from the new ones. A "name" in the body is
// ignored, as 0.4.4 did.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, rt route) error {
	body, obj, err := readObject(r)
	if err != nil {
		return err
	}
	session, job := supervisor.ParseName(rt.job)
	cfg, err := decodeTemplate(body, obj, job)
	if err != nil {
		return err
	}
	if err := h.sup.Update(r.Context(), session, cfg, cfg.Start); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// remove is DELETE /processes/<name>: stop its processes and remove it.
func (h *Handler) remove(w http.ResponseWriter, r *http.Request, rt route) error {
	if err := h.sup.Unload(r.Context(), rt.job); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// stopPid is DELETE /processes/<pid>. A supervised process is replaced, as
// its template still wants the same number.
func (h *Handler) stopPid(w http.ResponseWriter, r *http.Request, rt route) error {
	if err := h.sup.StopProcess(r.Context(), rt.pid); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// signum reads the integer of _signal/<signum>.
func signum(rt route) (syscall.Signal, error) {
	if !rt.hasArg {
		return 0, legacyError(http.StatusBadRequest, "no_signal_number", "want _signal/<signum>")
	}
	if !isPid(rt.arg) { // digits only, as 0.4.4's int()
		return 0, badValue(fmt.Sprintf("signal %q: want an integer", rt.arg))
	}
	n, err := strconv.Atoi(rt.arg)
	if err != nil {
		return 0, badValue(fmt.Sprintf("signal %q: want an integer", rt.arg))
	}
	return supervisor.ParseSignal(n)
}

// pidAction is POST /processes/<pid>/_stop and _signal/<signum>.
func (h *Handler) pidAction(w http.ResponseWriter, r *http.Request, rt route) error {
	var err error
	switch rt.action {
	case "_stop":
		err = h.sup.StopProcess(r.Context(), rt.pid)
	case "_signal":
		var sig syscall.Signal
		if sig, err = signum(rt); err == nil {
			err = h.sup.SignalProcess(r.Context(), rt.pid, sig)
		}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// pids is GET /processes/<name>/_pids: the supervised processes' pids.
func (h *Handler) pids(w http.ResponseWriter, r *http.Request, rt route) error {
	pids, err := h.sup.Pids(r.Context(), rt.job)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		OK   bool  `json:"ok"`
		Pids []int `json:"pids"`
	}{true, pids})
}

// count reads the n of _add/<n> and _sub/<n> (1 when absent).
func count(rt route) (int, error) {
	if !rt.hasArg {
		return 1, nil
	}
	if !isPid(rt.arg) || len(rt.arg) > 7 {
		return 0, badValue(fmt.Sprintf("number %q: want an integer from 0 to 1000000", rt.arg))
	}
	n, _ := strconv.Atoi(rt.arg)
	if n > 1_000_000 {
		return 0, badValue(fmt.Sprintf("number %q: want an integer from 0 to 1000000", rt.arg))
	}
	return n, nil
}

// templateAction is POST /processes/<name>/_start, _stop, _restart,
// _add[/<n>], _sub[/<n>], _signal/<signum>.
func (h *Handler) templateAction(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	var err error
	switch rt.action {
	case "_start":
		err = h.sup.StartJob(ctx, rt.job)
	case "_stop":
		err = h.sup.StopJob(ctx, rt.job)
	case "_restart":
		err = h.sup.Reload(ctx, rt.job)
	case "_signal":
		var sig syscall.Signal
		if sig, err = signum(rt); err == nil {
			err = h.sup.SignalJob(ctx, rt.job, sig)
		}
	case "_add", "_sub":
		n, err := count(rt)
		if err != nil {
			return err
		}
		op := supervisor.ScaleOp{Op: '+', N: n}
		if rt.action == "_sub" {
			op.Op = '-'
		}
		np, err := h.sup.Scale(ctx, rt.job, op)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, struct {
			OK           bool `json:"ok"`
			NumProcesses int  `json:"numprocesses"`
		}{true, np})
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// status is GET /status/<name>.
func (h *Handler) status(w http.ResponseWriter, r *http.Request, rt route) error {
	info, err := h.sup.Info(r.Context(), rt.job)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Active       bool `json:"active"`
		Running      int  `json:"running"`
		MaxProcesses int  `json:"max_processes"`
	}{info.Active, info.Running, info.MaxProcesses})
}

// ---- /groups -------------------------------------------------------------------

// groups is GET /groups: every session, "default" (templates named without
// a group) included.
func (h *Handler) groups(w http.ResponseWriter, r *http.Request, _ route) error {
	s, err := h.sup.Sessions(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (h *Handler) groupJobs(r *http.Request, g string) ([]string, error) {
	jobs, err := h.sup.Jobs(r.Context(), g)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", g, supervisor.ErrNotFound)
	}
	return jobs, nil
}

// group is GET /groups/<g>: the template names of the group.
func (h *Handler) group(w http.ResponseWriter, r *http.Request, rt route) error {
	jobs, err := h.groupJobs(r, rt.session)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, templateNames(jobs))
}

// forEach applies op to every template of a group. A template removed
// meanwhile is skipped; any other error stops and is answered.
func (h *Handler) forEach(r *http.Request, g string, op func(full string) error) error {
	jobs, err := h.groupJobs(r, g)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := op(j); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
			return err
		}
	}
	return nil
}

// groupAction is POST /groups/<g>/_start, _stop, _restart.
func (h *Handler) groupAction(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	op := map[string]func(string) error{
		"_start":   func(j string) error { return h.sup.StartJob(ctx, j) },
		"_stop":    func(j string) error { return h.sup.StopJob(ctx, j) },
		"_restart": func(j string) error { return h.sup.Reload(ctx, j) },
	}[rt.action]
	if err := h.forEach(r, rt.session, op); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// removeGroup is DELETE /groups/<g>: unload every template of the group,
// which removes the group.
func (h *Handler) removeGroup(w http.ResponseWriter, r *http.Request, rt route) error {
	if err := h.forEach(r, rt.session, func(j string) error { return h.sup.Unload(r.Context(), j) }); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}
