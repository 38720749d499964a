package legacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// procStat is one process's stats in 0.4.4's shape (gaffer-events.md §7):
// the 0.5.2 fields plus username, nice, cmdline and children. pid is the
// OS pid, as in 0.4.4; id is gaffer's internal pid.
type procStat struct {
	ID       int         `json:"id,omitempty"`
	Name     string      `json:"name,omitempty"`
	PID      int         `json:"pid"`
	CPU      stats.Value `json:"cpu"`
	Mem      stats.Value `json:"mem"`
	MemInfo1 string      `json:"mem_info1"`
	MemInfo2 string      `json:"mem_info2"`
	CTime    string      `json:"ctime"`
	Username string      `json:"username"`
	Nice     any         `json:"nice"`
	Cmdline  string      `json:"cmdline"`
	Children []procStat  `json:"children"`
}

// templateStats is a template's stats: aggregates and one entry per live
// process.
type templateStats struct {
	Name string `json:"name"`
	stats.JobStats
	Stats []procStat `json:"stats"`
}

func orNA(s string) string {
	if s == "" {
		return stats.NA
	}
	return s
}

// sampler samples processes for one request. Children are sampled with a
// sampler of their own that lives as long as the request, so the shared
// Sampler keeps no history of short-lived grandchildren.
type sampler struct {
	h        *Handler
	children *stats.Sampler
}

// sample reads one OS process; ok is false when it is gone.
func (s *sampler) sample(sm *stats.Sampler, osPid int, withChildren bool) (procStat, bool) {
	st, err := sm.Sample(osPid)
	if errors.Is(err, os.ErrNotExist) {
		return procStat{}, false
	}
	if err != nil {
		st = stats.Stat{}
	}
	ps := procStat{PID: osPid, CPU: st.CPU, Mem: st.Mem, MemInfo1: orNA(st.MemInfo1), MemInfo2: orNA(st.MemInfo2),
		CTime: orNA(st.CTime), Username: stats.NA, Nice: stats.NA, Cmdline: stats.NA, Children: []procStat{}}
	s.extras(&ps)
	if withChildren {
		for _, c := range childPids(osPid) {
			if s.children == nil {
				s.children = stats.NewSampler()
			}
			if cs, ok := s.sample(s.children, c, false); ok {
				ps.Children = append(ps.Children, cs)
			}
		}
	}
	return ps, true
}

// extras fills the fields 0.4.4 had beyond 0.5.2; "N/A" when /proc refuses.
func (s *sampler) extras(ps *procStat) {
	if s.h.proc == nil {
		return
	}
	p, err := s.h.proc.Proc(ps.PID)
	if err != nil {
		return
	}
	if st, err := p.Stat(); err == nil {
		ps.Nice = st.Nice
		ps.Cmdline = st.Comm
	}
	if args, err := p.CmdLine(); err == nil && len(args) > 0 && args[0] != "" {
		ps.Cmdline = filepath.Base(args[0])
	}
	if st, err := p.NewStatus(); err == nil {
		uid := strconv.FormatUint(st.UIDs[0], 10)
		ps.Username = uid
		if u, err := user.LookupId(uid); err == nil {
			ps.Username = u.Username
		}
	}
}

// childPids lists the children of a process's main thread (Linux
// /proc/<pid>/task/<pid>/children); none when the kernel does not say.
func childPids(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// collect samples every live process of a job.
func (s *sampler) collect(r *http.Request, full string) (templateStats, error) {
	osPids, order, err := s.h.sup.OSPids(r.Context(), full)
	if err != nil {
		return templateStats{}, err
	}
	ts := templateStats{Name: templateName(full), Stats: []procStat{}}
	var all []stats.Stat
	for _, pid := range order {
		ps, ok := s.sample(s.h.sampler, osPids[pid], true)
		if !ok {
			continue // exited since the core answered
		}
		ps.ID = pid
		ts.Stats = append(ts.Stats, ps)
		all = append(all, stats.Stat{CPU: ps.CPU, Mem: ps.Mem})
	}
	ts.JobStats = stats.Aggregate(all)
	return ts, nil
}

// allStats is GET /stats: a JSON array of every template's stats, sent
// in chunks, one template at a time.
func (h *Handler) allStats(w http.ResponseWriter, r *http.Request, _ route) error {
	jobs, err := h.sup.Jobs(r.Context(), "")
	if err != nil {
		return err
	}
	s := &sampler{h: h}
	out := startStream(w, jsonType)
	if out.write([]byte("[\r\n")) != nil {
		return nil
	}
	sep := ""
	for _, j := range jobs {
		ts, err := s.collect(r, j)
		if errors.Is(err, supervisor.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil // the answer has begun: end it short
		}
		b, _ := json.Marshal(ts)
		if out.write(append([]byte(sep), b...)) != nil {
			return nil
		}
		sep = ",\r\n"
	}
	out.write([]byte("\r\n]"))
	return nil
}

// templateStats is GET /stats/<name>[?feed=normal|longpoll|eventsource].
// normal answers once; the streamed feeds sample the template's live
// processes every StatsInterval while the request is open and send one
// "stat" message per process (longpoll: the first, then the answer ends).
func (h *Handler) templateStats(w http.ResponseWriter, r *http.Request, rt route) error {
	s := &sampler{h: h}
	feed, hb, err := h.feedAndHeartbeat(r, "normal", "normal", "longpoll", "eventsource")
	if err != nil {
		return err
	}
	ts, err := s.collect(r, rt.job)
	if err != nil {
		return err
	}
	if feed == "normal" {
		return writeJSON(w, http.StatusOK, ts)
	}
	return h.streamStats(w, r, feed, hb, func() ([]procStat, bool) {
		ts, err := s.collect(r, rt.job)
		for i := range ts.Stats {
			ts.Stats[i].Name = ts.Name
		}
		return ts.Stats, err == nil
	})
}

// processStats is GET /stats/<name>/<pid>[?feed=…]: one process of the
// template.
func (h *Handler) processStats(w http.ResponseWriter, r *http.Request, rt route) error {
	s := &sampler{h: h}
	feed, hb, err := h.feedAndHeartbeat(r, "normal", "normal", "longpoll", "eventsource")
	if err != nil {
		return err
	}
	info, err := h.sup.Process(r.Context(), rt.pid)
	if err != nil {
		return err
	}
	if info.Name != rt.job {
		return fmt.Errorf("process %d of %q: %w", rt.pid, rt.name, supervisor.ErrNotFound)
	}
	one := func() (procStat, bool) {
		ps, ok := s.sample(h.sampler, info.OSPid, true)
		ps.ID, ps.Name = rt.pid, templateName(info.Name)
		return ps, ok
	}
	ps, ok := one()
	if !ok {
		return fmt.Errorf("process %d: %w", rt.pid, supervisor.ErrNotFound)
	}
	if feed == "normal" {
		return writeJSON(w, http.StatusOK, ps)
	}
	return h.streamStats(w, r, feed, hb, func() ([]procStat, bool) {
		if _, err := h.sup.Process(r.Context(), rt.pid); err != nil {
			return nil, false
		}
		ps, ok := one()
		return []procStat{ps}, ok
	})
}

// streamStats sends what next samples every StatsInterval until the client
// leaves or next reports that its subject is gone.
func (h *Handler) streamStats(w http.ResponseWriter, r *http.Request, feed string, hb time.Duration, next func() ([]procStat, bool)) error {
	ctype := jsonType
	if feed == "eventsource" {
		ctype = "text/event-stream"
	}
	out := startStream(w, ctype)
	tick, stopTick := ticker(h.interval)
	defer stopTick()
	beat, stopBeat := ticker(hb)
	defer stopBeat()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-h.sup.Done():
			return nil
		case <-beat:
			if out.write([]byte("\n")) != nil {
				return nil
			}
		case <-tick:
			all, ok := next()
			if !ok {
				return nil
			}
			for _, ps := range all {
				b, _ := json.Marshal(ps)
				if feed == "longpoll" {
					out.write(append(b, "\r\n"...))
					return nil
				}
				if out.write(sseEvent("stat", b)) != nil {
					return nil
				}
			}
		}
	}
}
