package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// Value is a stats number, or "N/A" when not available (OK false).
type Value = stats.Value

// ProcessStats is one process's usage (gaffer-events.md §7).
type ProcessStats struct {
	Pid      int    `json:"pid"`       // gaffer's pid
	OSPid    int    `json:"os_pid"`    // 0 when the server did not say (ProcessStats)
	CPU      Value  `json:"cpu"`       // percent of one CPU since the server's previous sample
	Mem      Value  `json:"mem"`       // resident size, percent of RAM
	MemInfo1 string `json:"mem_info1"` // resident size, human ("5M")
	MemInfo2 string `json:"mem_info2"` // virtual size, human
	CTime    string `json:"ctime"`     // CPU time "M:SS.hh"
}

// JobStats is a job's usage: sums and extremes over its live processes,
// each "N/A" when there is no process or one value is not available.
type JobStats struct {
	Name   string         `json:"name"`
	CPU    Value          `json:"cpu"`
	Mem    Value          `json:"mem"`
	MaxCPU Value          `json:"max_cpu"`
	MinCPU Value          `json:"min_cpu"`
	MaxMem Value          `json:"max_mem"`
	MinMem Value          `json:"min_mem"`
	Stats  []ProcessStats `json:"stats"`
}

// jobPath is the API path of a full job name, each part escaped.
func jobPath(name string) string {
	s, j := supervisor.ParseName(name)
	return "/jobs/" + url.PathEscape(s) + "/" + url.PathEscape(j)
}

func pidPath(pid int) string { return "/" + strconv.Itoa(pid) }

func sessionOr(s string) string {
	if s == "" {
		return supervisor.DefaultSession
	}
	return s
}

// Ping checks that gafferd answers.
func (c *Client) Ping(ctx context.Context) error {
	var s string
	if err := c.do(ctx, http.MethodGet, "/ping", nil, &s); err != nil {
		return err
	}
	if strings.TrimSpace(s) != "OK" {
		return fmt.Errorf("ping: unexpected answer %q", s)
	}
	return nil
}

// Version is the server's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	err := c.do(ctx, http.MethodGet, "/version", nil, &v)
	return v.Version, err
}

// Sessions lists sessions in creation order.
func (c *Client) Sessions(ctx context.Context) ([]string, error) {
	var v struct {
		Sessions []string `json:"sessions"`
	}
	err := c.do(ctx, http.MethodGet, "/sessions", nil, &v)
	return v.Sessions, err
}

// Jobs lists full job names of one session, or of all for "".
func (c *Client) Jobs(ctx context.Context, session string) ([]string, error) {
	var v struct {
		Jobs []string `json:"jobs"`
	}
	path := "/jobs"
	if session != "" {
		path += "/" + url.PathEscape(session)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &v)
	return v.Jobs, err
}

// JobsInfo describes every job of one session, or of all for "", in one
// request.
func (c *Client) JobsInfo(ctx context.Context, session string) ([]supervisor.JobInfo, error) {
	var v struct {
		Jobs []supervisor.JobInfo `json:"jobs"`
	}
	path := "/jobs"
	if session != "" {
		path += "/" + url.PathEscape(session)
	}
	err := c.do(ctx, http.MethodGet, path+"?info=true", nil, &v)
	return v.Jobs, err
}

// configBody is cfg as JSON plus "start".
func configBody(cfg supervisor.JobConfig, start bool) (map[string]json.RawMessage, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["start"] = json.RawMessage(strconv.FormatBool(start))
	return m, nil
}

// Load adds a job to a session ("" = default) and starts it when start is
// set. A job of that name already loaded is supervisor.ErrConflict.
func (c *Client) Load(ctx context.Context, session string, cfg supervisor.JobConfig, start bool) error {
	body, err := configBody(cfg, start)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(sessionOr(session)), body, nil)
}

// Update replaces the config of the job cfg.Name of a session ("" =
// default): its processes are replaced; start starts a stopped job.
func (c *Client) Update(ctx context.Context, session string, cfg supervisor.JobConfig, start bool) error {
	if cfg.Name == "" {
		return fmt.Errorf("update: %w", supervisor.ErrMissingName)
	}
	body, err := configBody(cfg, start)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, jobPath(sessionOr(session)+"."+cfg.Name), body, nil)
}

// Unload stops a job's processes and removes it.
func (c *Client) Unload(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, jobPath(name), nil, nil)
}

// Info describes a job.
func (c *Client) Info(ctx context.Context, name string) (supervisor.JobInfo, error) {
	var info supervisor.JobInfo
	err := c.do(ctx, http.MethodGet, jobPath(name), nil, &info)
	return info, err
}

// Stats samples the usage of a job's live processes.
func (c *Client) Stats(ctx context.Context, name string) (JobStats, error) {
	var st JobStats
	err := c.do(ctx, http.MethodGet, jobPath(name)+"/stats", nil, &st)
	return st, err
}

// NumProcesses is the job's target number of processes.
func (c *Client) NumProcesses(ctx context.Context, name string) (int, error) {
	var v struct {
		N int `json:"numprocesses"`
	}
	err := c.do(ctx, http.MethodGet, jobPath(name)+"/numprocesses", nil, &v)
	return v.N, err
}

// Scale changes the job's target and returns the new one. value is gaffer's:
// "+N" adds, "-N" subtracts, "=N" sets, and N alone ADDS (as gaffer does).
// Anything else is supervisor.ErrBadScale.
func (c *Client) Scale(ctx context.Context, name, value string) (int, error) {
	var v struct {
		N int `json:"numprocesses"`
	}
	err := c.do(ctx, http.MethodPost, jobPath(name)+"/numprocesses", map[string]string{"scale": value}, &v)
	return v.N, err
}

// Pids lists the supervised processes of a job or, for "", every live
// process including committed ones.
func (c *Client) Pids(ctx context.Context, name string) ([]int, error) {
	var v struct {
		Pids []int `json:"pids"`
	}
	path := "/pids"
	if name != "" {
		path = jobPath(name) + "/pids"
	}
	err := c.do(ctx, http.MethodGet, path, nil, &v)
	return v.Pids, err
}

// State reports whether the job has a live process (committed ones count).
func (c *Client) State(ctx context.Context, name string) (bool, error) {
	var s string
	if err := c.do(ctx, http.MethodGet, jobPath(name)+"/state", nil, &s); err != nil {
		return false, err
	}
	return strings.TrimSpace(s) == "1", nil
}

// Start starts a job with its configured number of processes.
func (c *Client) Start(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, jobPath(name)+"/state", "1", nil)
}

// Stop stops every process of a job and keeps it stopped.
func (c *Client) Stop(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, jobPath(name)+"/state", "0", nil)
}

// Reload replaces every process of a job with fresh ones.
func (c *Client) Reload(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, jobPath(name)+"/state", "2", nil)
}

// SignalJob sends a signal ("HUP", "SIGHUP", "1") to every live process of
// a job.
func (c *Client) SignalJob(ctx context.Context, name, signal string) error {
	return c.do(ctx, http.MethodPost, jobPath(name)+"/signal", map[string]string{"signal": signal}, nil)
}

// SignalProcess sends a signal ("HUP", "SIGHUP", "1") to one process.
func (c *Client) SignalProcess(ctx context.Context, pid int, signal string) error {
	return c.do(ctx, http.MethodPost, pidPath(pid)+"/signal", map[string]string{"signal": signal}, nil)
}

// Commit starts a one-off process of a job, never restarted, with env added
// to its environment, and returns its pid. graceful is its SIGTERM→SIGKILL
// delay in whole seconds; 0 uses the job's.
func (c *Client) Commit(ctx context.Context, name string, graceful time.Duration, env map[string]string) (int, error) {
	body := map[string]any{}
	if s := int64(graceful / time.Second); s > 0 {
		body["graceful_timeout"] = s
	}
	if len(env) > 0 {
		body["env"] = env
	}
	var v struct {
		Pid int `json:"pid"`
	}
	err := c.do(ctx, http.MethodPost, jobPath(name)+"/commit", body, &v)
	return v.Pid, err
}

// Process describes one live process.
func (c *Client) Process(ctx context.Context, pid int) (supervisor.ProcessInfo, error) {
	var info supervisor.ProcessInfo
	err := c.do(ctx, http.MethodGet, pidPath(pid), nil, &info)
	return info, err
}

// ProcessStats samples one process's usage.
func (c *Client) ProcessStats(ctx context.Context, pid int) (ProcessStats, error) {
	var v struct {
		Stats ProcessStats `json:"stats"`
	}
	err := c.do(ctx, http.MethodGet, pidPath(pid)+"/stats", nil, &v)
	v.Stats.Pid = pid
	return v.Stats, err
}

// StopProcess stops one process; a supervised one is replaced by a new
// process (its job's target is unchanged), a committed one is not.
func (c *Client) StopProcess(ctx context.Context, pid int) error {
	return c.do(ctx, http.MethodDelete, pidPath(pid), nil, nil)
}
