package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
)

// The lookup commands ask one or more lookupd servers (gafferd --lookupd,
// or gaffer 0.5's gaffer_lookupd) which nodes run which jobs, and print as
// gaffer 0.5.2's "gaffer lookup*" commands did. Answers of several servers
// are merged; a node is known by its origin (its API URL).

// defaultLookupd is where gaffer_lookupd listens by default.
const defaultLookupd = "http://127.0.0.1:5010"

// lookupNode is a node object of the lookupd API.
type lookupNode struct {
	Name    string `json:"name"`
	Origin  string `json:"origin"`
	Version string `json:"version"`
}

// lookupSource is one node holding a job.
type lookupSource struct {
	Name     string     `json:"name"`
	Pids     []int      `json:"pids"`
	NodeInfo lookupNode `json:"node_info"`
}

// lookupJob is a job and its sources.
type lookupJob struct {
	Name    string         `json:"name"`
	Sources []lookupSource `json:"sources"`
}

// lookupEvent is one message of the registry stream.
type lookupEvent struct {
	Event   string     `json:"event"`
	Name    string     `json:"name"`
	Origin  string     `json:"origin"`
	Version string     `json:"version"`
	Node    lookupNode `json:"node"`
	JobName string     `json:"job_name"`
	Pid     int        `json:"pid"`
}

// lookupClient is the set of servers of one command.
type lookupClient struct {
	urls []string // normalized base URLs, without a trailing slash
	hc   *http.Client
}

// lookupdURL normalizes a -L address: http(s)://host[:port][/prefix], or
// host:port for http.
func lookupdURL(addr string) (string, error) {
	raw := strings.TrimSpace(addr)
	if raw == "" {
		return "", fmt.Errorf("lookupd address %q: empty", addr)
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("lookupd address %q: %v", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("lookupd address %q: scheme must be http or https", addr)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("lookupd address %q: no host", addr)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("lookupd address %q: want scheme://host:port[/path] only", addr)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// addLookupCommands registers the lookup commands on root.
func (a *app) addLookupCommands(root *cobra.Command) {
	var addrs []string
	servers := func() (*lookupClient, error) {
		if len(addrs) == 0 {
			addrs = []string{defaultLookupd}
		}
		l := &lookupClient{hc: &http.Client{Timeout: 30 * time.Second}}
		for _, addr := range addrs {
			u, err := lookupdURL(addr)
			if err != nil {
				return nil, usageError{err}
			}
			if !slices.Contains(l.urls, u) {
				l.urls = append(l.urls, u)
			}
		}
		return l, nil
	}
	var noColor bool
	cmds := []*cobra.Command{
		{
			Use:   "lookup [--no-color]",
			Short: "Print the lookupd registry's changes as they happen",
			Args:  nargs(0, 0),
			RunE: func(cmd *cobra.Command, _ []string) error {
				l, err := servers()
				if err != nil {
					return err
				}
				return l.watch(cmd.Context(), a.out)
			},
		},
		{
			Use:   "lookup:nodes",
			Short: "List the nodes registered in lookupd",
			Args:  nargs(0, 0),
			RunE: func(cmd *cobra.Command, _ []string) error {
				l, err := servers()
				if err != nil {
					return err
				}
				return l.printNodes(cmd.Context(), a.out)
			},
		},
		{
			Use:   "lookup:jobs",
			Short: "List every job and the nodes running it",
			Args:  nargs(0, 0),
			RunE: func(cmd *cobra.Command, _ []string) error {
				l, err := servers()
				if err != nil {
					return err
				}
				jobs, err := l.jobs(cmd.Context(), "/jobs")
				if err != nil {
					return err
				}
				printJobs(a.out, jobs)
				return nil
			},
		},
		{
			Use:   "lookup:job SESSION.JOB",
			Short: "Show the nodes running a job, with its pids on each",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				l, err := servers()
				if err != nil {
					return err
				}
				return l.printJob(cmd.Context(), a.out, args[0])
			},
		},
		{
			Use:   "lookup:session SESSION",
			Short: "List a session's jobs and the nodes running them",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				l, err := servers()
				if err != nil {
					return err
				}
				jobs, err := l.jobs(cmd.Context(), "/findSession?sessionid="+url.QueryEscape(args[0]))
				if err != nil {
					return err
				}
				printJobs(a.out, jobs)
				return nil
			},
		},
		{
			Use:   "lookup:sessions [NODE]",
			Short: "List sessions, their jobs and nodes (of one node name, when given)",
			Args:  nargs(0, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				l, err := servers()
				if err != nil {
					return err
				}
				path := "/sessions"
				if len(args) == 1 {
					path += "/" + url.PathEscape(args[0])
				}
				return l.printSessions(cmd.Context(), a.out, path)
			},
		},
	}
	root.AddGroup(&cobra.Group{ID: "lookup", Title: "Find nodes and jobs in lookupd:"})
	for _, c := range cmds {
		c.GroupID = "lookup"
		c.Flags().StringArrayVarP(&addrs, "lookupd-address", "L", nil,
			"lookupd URL (repeatable; answers are merged; default "+defaultLookupd+")")
		root.AddCommand(c)
	}
	// Lines are never colored; the flag is accepted for gaffer 0.5's scripts.
	cmds[0].Flags().BoolVar(&noColor, "no-color", false, "print without color (the output has none)")
}

// get decodes the JSON answer of path on server base.
func (l *lookupClient) get(ctx context.Context, base, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := l.hc.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach lookupd at %s: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("lookupd at %s: GET %s: %s: %s", base, path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("lookupd at %s: GET %s: decoding the answer: %v", base, path, err)
	}
	return nil
}

// nodes is every server's nodes, one per origin, in the servers' order.
func (l *lookupClient) nodes(ctx context.Context) ([]lookupNode, error) {
	var out []lookupNode
	seen := map[string]bool{}
	for _, base := range l.urls {
		var ans struct {
			Nodes []lookupNode `json:"nodes"`
		}
		if err := l.get(ctx, base, "/nodes", &ans); err != nil {
			return nil, err
		}
		for _, n := range ans.Nodes {
			if n.Origin == "" || seen[n.Origin] { // unidentified, or known
				continue
			}
			seen[n.Origin] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// mergeSources adds srcs to into, skipping origins already there.
func mergeSources(into, srcs []lookupSource) []lookupSource {
	for _, s := range srcs {
		if !slices.ContainsFunc(into, func(x lookupSource) bool { return x.NodeInfo.Origin == s.NodeInfo.Origin }) {
			into = append(into, s)
		}
	}
	return into
}

// jobs is the merged {"jobs": [...]} answer of path (/jobs,
// /findSession?...), jobs in first-seen order.
func (l *lookupClient) jobs(ctx context.Context, path string) ([]lookupJob, error) {
	var out []lookupJob
	for _, base := range l.urls {
		var ans struct {
			Jobs []lookupJob `json:"jobs"`
		}
		if err := l.get(ctx, base, path, &ans); err != nil {
			return nil, err
		}
		for _, j := range ans.Jobs {
			i := slices.IndexFunc(out, func(x lookupJob) bool { return x.Name == j.Name })
			if i < 0 {
				out = append(out, lookupJob{Name: j.Name})
				i = len(out) - 1
			}
			out[i].Sources = mergeSources(out[i].Sources, j.Sources)
		}
	}
	return out, nil
}

func (l *lookupClient) printNodes(ctx context.Context, w io.Writer) error {
	nodes, err := l.nodes(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d node(s) found\n\n", len(nodes))
	for _, n := range nodes {
		fmt.Fprintf(w, "%s - %s (protocol: %s)\n", n.Origin, n.Name, n.Version)
	}
	return nil
}

func printSourceLines(w io.Writer, srcs []lookupSource) {
	for _, s := range srcs {
		fmt.Fprintf(w, "%s - name: %s, protocol: %s\n", s.NodeInfo.Origin, s.Name, s.NodeInfo.Version)
	}
}

// printJobs prints a job list as gaffer 0.5 did: a count, then a block per
// job, each followed by a blank line.
func printJobs(w io.Writer, jobs []lookupJob) {
	fmt.Fprintf(w, "%d job(s) found\n\n", len(jobs))
	for _, j := range jobs {
		fmt.Fprintf(w, "=== %s\n", j.Name)
		printSourceLines(w, j.Sources)
		fmt.Fprintln(w)
	}
}

func (l *lookupClient) printJob(ctx context.Context, w io.Writer, name string) error {
	var srcs []lookupSource
	for _, base := range l.urls {
		var ans struct {
			Sources []lookupSource `json:"sources"`
		}
		if err := l.get(ctx, base, "/findJob?name="+url.QueryEscape(name), &ans); err != nil {
			return err
		}
		srcs = mergeSources(srcs, ans.Sources)
	}
	if len(srcs) == 0 {
		fmt.Fprintln(w, "no job found")
		return nil
	}
	for _, s := range srcs {
		pids := make([]string, len(s.Pids))
		for k, p := range s.Pids {
			pids[k] = fmt.Sprint(p)
		}
		fmt.Fprintf(w, "=== %s (Protocol: %s)\nOrigin: %s\nPids: %s\n\n",
			s.Name, s.NodeInfo.Version, s.NodeInfo.Origin, strings.Join(pids, ","))
	}
	return nil
}

func (l *lookupClient) printSessions(ctx context.Context, w io.Writer, path string) error {
	type session struct {
		id   string
		jobs []lookupJob
	}
	var sessions []session
	for _, base := range l.urls {
		var ans struct {
			Sessions []struct {
				SessionID string                    `json:"sessionid"`
				Jobs      map[string][]lookupSource `json:"jobs"`
			} `json:"sessions"`
		}
		if err := l.get(ctx, base, path, &ans); err != nil {
			return err
		}
		for _, s := range ans.Sessions {
			i := slices.IndexFunc(sessions, func(x session) bool { return x.id == s.SessionID })
			if i < 0 {
				sessions = append(sessions, session{id: s.SessionID})
				i = len(sessions) - 1
			}
			names := make([]string, 0, len(s.Jobs))
			for n := range s.Jobs {
				names = append(names, n)
			}
			slices.Sort(names) // a JSON object has no order
			for _, n := range names {
				jobs := sessions[i].jobs
				k := slices.IndexFunc(jobs, func(x lookupJob) bool { return x.Name == n })
				if k < 0 {
					jobs = append(jobs, lookupJob{Name: n})
					k = len(jobs) - 1
				}
				jobs[k].Sources = mergeSources(jobs[k].Sources, s.Jobs[n])
				sessions[i].jobs = jobs
			}
		}
	}
	fmt.Fprintf(w, "%d session(s) found\n\n", len(sessions))
	for _, s := range sessions {
		fmt.Fprintf(w, "*** session: %s\n\n", s.id)
		for _, j := range s.jobs {
			fmt.Fprintf(w, "=== job: %s\n", j.Name)
			printSourceLines(w, j.Sources)
			fmt.Fprintln(w)
		}
	}
	return nil
}

// eventLine is the text of one registry event, as gaffer 0.5 prints it.
func eventLine(e lookupEvent) string {
	switch e.Event {
	case "add_node":
		return "add node"
	case "identify":
		return fmt.Sprintf("%s: %s", e.Name, e.Origin)
	case "remove_node":
		return fmt.Sprintf("%s: node %s", e.Name, e.Origin)
	case "add_job":
		return fmt.Sprintf("load %s in %s", e.JobName, e.Node.Origin)
	case "remove_job":
		return fmt.Sprintf("unload %s in %s", e.JobName, e.Node.Origin)
	case "add_process":
		return fmt.Sprintf("%s: process id %d spanwned on %s", e.JobName, e.Pid, e.Node.Origin) // sic, as 0.5
	case "remove_process":
		return fmt.Sprintf("%s: process %d exited on %s", e.JobName, e.Pid, e.Node.Origin)
	}
	return ""
}

// watch prints every server's registry events until ctx ends or a server
// closes its stream.
func (l *lookupClient) watch(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for _, base := range l.urls {
		u := "ws" + strings.TrimPrefix(base, "http") + "/lookup/websocket"
		c, _, err := websocket.Dial(ctx, u, nil)
		if err != nil {
			return fmt.Errorf("cannot open the registry stream of lookupd at %s: %v", base, err)
		}
		conns = append(conns, c)
	}
	var mu sync.Mutex // one line at a time
	errs := make(chan error, len(conns))
	for i, c := range conns {
		go func() {
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					if ctx.Err() != nil {
						errs <- nil
					} else {
						errs <- fmt.Errorf("registry stream of lookupd at %s: %v", l.urls[i], err)
					}
					return
				}
				var e lookupEvent
				if err := json.Unmarshal(data, &e); err != nil {
					continue // not an event: nothing to print
				}
				text := eventLine(e)
				if text == "" {
					continue
				}
				mu.Lock()
				fmt.Fprintf(w, "%s %s | %s\n", time.Now().Format(time.TimeOnly), e.Event, text)
				mu.Unlock()
			}
		}()
	}
	err := <-errs // the first stream to end ends the command
	cancel()
	for range len(conns) - 1 {
		<-errs
	}
	return err
}
