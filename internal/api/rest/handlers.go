package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

const jsonType = "application/json; charset=UTF-8"

// okBody is the answer of every successful change: {"ok": true}.
var okBody = map[string]bool{"ok": true}

// ---- meta ------------------------------------------------------------------

func (a *api) welcome(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"welcome": "gaffer", "version": a.serverVersion})
}

func (a *api) versionInfo(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"name": "gaffer", "version": a.serverVersion})
}

func (a *api) ping(w http.ResponseWriter, _ *http.Request) error {
	writeText(w, http.StatusOK, "OK")
	return nil
}

// ---- listings --------------------------------------------------------------

func (a *api) sessions(w http.ResponseWriter, r *http.Request) error {
	names, err := a.sup.Sessions(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string][]string{"sessions": nonNil(names)})
}

// jobs lists full job names, or with ?info=true every job's info (an
// extension, so a client draws its table in one request).
func (a *api) jobs(w http.ResponseWriter, r *http.Request) error {
	if flag(r, "info") {
		infos, err := a.sup.InfoAll(r.Context(), "")
		if err != nil {
			return err
		}
		return writeInfos(w, `{"jobs":[`, infos)
	}
	names, err := a.sup.Jobs(r.Context(), "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string][]string{"jobs": names})
}

func (a *api) sessionJobs(w http.ResponseWriter, r *http.Request) error {
	s := r.PathValue("s")
	if flag(r, "info") {
		mine, err := a.sup.InfoAll(r.Context(), s)
		if err != nil {
			return err
		}
		head, _ := json.Marshal(s)
		return writeInfos(w, `{"sessionid":`+string(head)+`,"jobs":[`, mine)
	}
	names, err := a.sup.Jobs(r.Context(), s)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Session string   `json:"sessionid"`
		Jobs    []string `json:"jobs"`
	}{s, names})
}

func (a *api) allPids(w http.ResponseWriter, r *http.Request) error {
	pids, err := a.sup.Pids(r.Context(), "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string][]int{"pids": pids})
}

// ---- jobs ------------------------------------------------------------------

// load is POST /jobs/<s>: a job config plus "start" (default true).
func (a *api) load(w http.ResponseWriter, r *http.Request) error {
	var cfg supervisor.JobConfig
	if err := decodeJSON(r, &cfg, false); err != nil {
		return err
	}
	if err := a.sup.Load(r.Context(), r.PathValue("s"), cfg, cfg.Start); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

func (a *api) jobExists(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	if _, err := a.sup.Info(r.Context(), name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *api) jobInfo(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	info, err := a.sup.Info(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}

// update is PUT /jobs/<s>/<j>: replace the config. The body's name may be
// left out but must otherwise be the path's; "start" (default true) starts
// a stopped job, which the reference ignored.
func (a *api) update(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	var cfg supervisor.JobConfig
	if err := decodeJSON(r, &cfg, false); err != nil {
		return err
	}
	session, job := supervisor.ParseName(name)
	switch cfg.Name {
	case "":
		cfg.Name = job
	case job:
	default:
		return badRequest("template name conflict with the path")
	}
	if err := a.sup.Update(r.Context(), session, cfg, cfg.Start); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, okBody)
}

func (a *api) unload(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	if err := a.sup.Unload(r.Context(), name); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// jobStats samples every live process of the job. The core only reports
// the OS pids; /proc is read here, while the loop goes on.
func (a *api) jobStats(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	osPids, order, err := a.sup.OSPids(r.Context(), name)
	if err != nil {
		return err
	}
	all := []stats.ProcessStat{}
	var sampled []stats.Stat
	for _, pid := range order {
		st, err := a.sampler.Sample(osPids[pid])
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the core answered
		}
		if err != nil {
			st = stats.Stat{} // every field "N/A"
		}
		all = append(all, stats.ProcessStat{PID: pid, OSPID: osPids[pid], Stat: st})
		sampled = append(sampled, st)
	}
	return writeJSON(w, http.StatusOK, struct {
		Name string `json:"name"`
		stats.JobStats
		Stats []stats.ProcessStat `json:"stats"`
	}{name, stats.Aggregate(sampled), all})
}

func (a *api) numProcesses(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	info, err := a.sup.Info(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"numprocesses": info.MaxProcesses})
}

// scale is POST numprocesses {"scale": v}; v as supervisor.ParseScale reads it.
func (a *api) scale(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	var body struct {
		Scale any `json:"scale"`
	}
	if err := decodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.Scale == nil {
		return badRequest(`"scale" is required`)
	}
	op, err := supervisor.ParseScale(body.Scale)
	if err != nil {
		return err
	}
	n, err := a.sup.Scale(r.Context(), name, op)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"numprocesses": n})
}

func (a *api) jobPids(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	pids, err := a.sup.Pids(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string][]int{"pids": pids})
}

func (a *api) signalJob(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	sig, err := decodeSignal(r)
	if err != nil {
		return err
	}
	if err := a.sup.SignalJob(r.Context(), name, sig); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, okBody)
}

// state is "1" when the job has a live process, committed ones included.
func (a *api) state(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	info, err := a.sup.Info(r.Context(), name)
	if err != nil {
		return err
	}
	if info.Active {
		writeText(w, http.StatusOK, "1")
	} else {
		writeText(w, http.StatusOK, "0")
	}
	return nil
}

// setState takes a raw digit, not JSON: 0 stop, 1 start, 2 reload.
func (a *api) setState(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	switch string(bytes.TrimSpace(body)) {
	case "0":
		err = a.sup.StopJob(r.Context(), name)
	case "1":
		err = a.sup.StartJob(r.Context(), name)
	case "2":
		err = a.sup.Reload(r.Context(), name)
	default:
		return badRequest("state must be 0 (stop), 1 (start) or 2 (reload)")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, okBody)
}

// commit spawns a one-off process: {"graceful_timeout": seconds, "env": {}}.
func (a *api) commit(w http.ResponseWriter, r *http.Request) error {
	name, err := jobName(r)
	if err != nil {
		return err
	}
	var body struct {
		GracefulTimeout *json.Number      `json:"graceful_timeout"`
		Env             map[string]string `json:"env"`
	}
	if err := decodeJSON(r, &body, true); err != nil {
		return err
	}
	var graceful time.Duration
	if body.GracefulTimeout != nil {
		f, err := body.GracefulTimeout.Float64()
		if err != nil || f < 0 || f > math.MaxInt32 {
			return badRequest(fmt.Sprintf("graceful_timeout %s: want seconds >= 0", body.GracefulTimeout))
		}
		graceful = time.Duration(math.Trunc(f)) * time.Second // gaffer's int()
	}
	pid, err := a.sup.Commit(r.Context(), name, graceful, body.Env)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"pid": pid})
}

// ---- processes -------------------------------------------------------------

func (a *api) processExists(w http.ResponseWriter, r *http.Request) error {
	pid, err := pidOf(r)
	if err != nil {
		return err
	}
	if _, err := a.sup.Process(r.Context(), pid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *api) process(w http.ResponseWriter, r *http.Request) error {
	pid, err := pidOf(r)
	if err != nil {
		return err
	}
	info, err := a.sup.Process(r.Context(), pid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}

// stopProcess is DELETE /<pid>: asynchronous, and a supervised process is
// replaced since its job's target is unchanged.
func (a *api) stopProcess(w http.ResponseWriter, r *http.Request) error {
	pid, err := pidOf(r)
	if err != nil {
		return err
	}
	if err := a.sup.StopProcess(r.Context(), pid); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, okBody)
}

func (a *api) signalProcess(w http.ResponseWriter, r *http.Request) error {
	pid, err := pidOf(r)
	if err != nil {
		return err
	}
	sig, err := decodeSignal(r)
	if err != nil {
		return err
	}
	if err := a.sup.SignalProcess(r.Context(), pid, sig); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, okBody)
}

func (a *api) processStats(w http.ResponseWriter, r *http.Request) error {
	pid, err := pidOf(r)
	if err != nil {
		return err
	}
	info, err := a.sup.Process(r.Context(), pid)
	if err != nil {
		return err
	}
	st, err := a.sampler.Sample(info.OSPid)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process %d: %w", pid, supervisor.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]stats.Stat{"stats": st})
}

// ---- helpers ---------------------------------------------------------------

// jobName is the full name of the path's job. Sessions cannot contain '.'
// or '/', so such a path names no job (and must not be re-split).
func jobName(r *http.Request) (string, error) {
	s, j := r.PathValue("s"), r.PathValue("j")
	if strings.ContainsAny(s, "./") {
		return "", fmt.Errorf("session %q: %w", s, supervisor.ErrNotFound)
	}
	return s + "." + j, nil
}

// pidOf reads the {pid} segment, known to be digits; one too large for an
// int names no process.
func pidOf(r *http.Request) (int, error) {
	pid, err := strconv.Atoi(r.PathValue("pid"))
	if err != nil {
		return 0, fmt.Errorf("process %s: %w", r.PathValue("pid"), supervisor.ErrNotFound)
	}
	return pid, nil
}

func flag(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

// readBody reads the whole (size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, badRequest("reading body: " + err.Error())
	}
	return b, nil
}

// decodeJSON reads exactly one JSON value into v, numbers as json.Number so
// that 1.5 is not silently an integer. An empty body is {} when emptyOK.
func decodeJSON(r *http.Request, v any, emptyOK bool) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if emptyOK {
			return nil
		}
		return badRequest("empty body: want a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return badRequest("invalid JSON: " + err.Error())
	}
	if _, err := d.Token(); err != io.EOF {
		return badRequest("invalid JSON: data after the value")
	}
	return nil
}

// decodeSignal reads {"signal": 15 | "15" | "TERM" | "SIGTERM"}.
func decodeSignal(r *http.Request) (syscall.Signal, error) {
	var body struct {
		Signal any `json:"signal"`
	}
	if err := decodeJSON(r, &body, false); err != nil {
		return 0, err
	}
	if body.Signal == nil {
		return 0, badRequest(`"signal" is required`)
	}
	return supervisor.ParseSignal(body.Signal)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err // nothing written yet: the caller answers 500
	}
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// writeInfos writes a list of job infos after head, built with AppendJSON:
// encoding/json would re-scan each info's JSON, and listing everything is
// the call dashboards and CLIs make most.
func writeInfos(w http.ResponseWriter, head string, infos []supervisor.JobInfo) error {
	b := make([]byte, 0, 64+256*len(infos))
	b = append(b, head...)
	for i, info := range infos {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = info.AppendJSON(b); err != nil {
			return err
		}
	}
	b = append(b, "]}"...)
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return nil
}

func writeText(w http.ResponseWriter, status int, s string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(s)))
	w.WriteHeader(status)
	io.WriteString(w, s)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
