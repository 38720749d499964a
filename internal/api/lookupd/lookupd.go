package lookupd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/internal/cluster"
	"github.com/gafferhq/gaffer/supervisor"
)

// Version is the gaffer_lookupd version the API reports (GET /, /version):
// the release whose protocol this package speaks.
const Version = "0.5.2"

// ProtocolVersion is the node protocol version reported for every node
// ("version" in node objects), the value gaffer 0.5's gafferd sends in its
// IDENTIFY message. The node's gafferd version is in GET /cluster/nodes.
const ProtocolVersion = "0.1"

// Registry is the cluster view the handler answers from; *cluster.Node
// implements it.
type Registry interface {
	// Nodes is every node currently in the cluster, this one included.
	Nodes() []cluster.NodeInfo
	// Watch streams registry changes until ctx ends; the channel is
	// closed then.
	Watch(ctx context.Context) <-chan cluster.RegistryEvent
}

// Options configure a Handler.
type Options struct {
	// OriginPatterns are the extra browser origins (host patterns, as in
	// github.com/coder/websocket AcceptOptions) allowed to open the registry
	// stream; a page of the same host is always allowed.
	OriginPatterns []string
	// WriteTimeout bounds the sending of one event to a listener; a
	// listener slower than that is disconnected (default 10 s).
	WriteTimeout time.Duration
	// Logger receives listener errors; slog.Default() when nil.
	Logger *slog.Logger
}

// Handler serves the lookupd API. Immutable after New.
type Handler struct {
	reg  Registry
	opts Options
	mux  *http.ServeMux
}

// New returns the lookupd API over reg.
func New(reg Registry, opts Options) *Handler {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{reg: reg, opts: opts, mux: http.NewServeMux()}
	// The routes, as gaffer-lookupd's HTTP API names them.
	routes := []struct {
		pattern string
		fn      http.HandlerFunc
	}{
		{"GET /{$}", h.welcome},
		{"GET /version", h.version},
		{"GET /ping", h.ping},
		{"GET /nodes", h.nodes},
		{"GET /sessions", h.sessions},
		{"GET /sessions/{node}", h.sessions},
		{"GET /jobs", h.jobs},
		{"GET /findJob", h.findJob},
		{"GET /findSession", h.findSession},
		{"GET /lookup/websocket", h.watch},
		{"GET /lookup", h.watch}, // raw websocket too: SockJS's framing is not spoken
	}
	for _, r := range routes {
		h.mux.HandleFunc(r.pattern, r.fn)
	}
	return h
}

// ServeHTTP answers one request, with gafferd's CORS headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header(), r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		probe := r.Clone(r.Context())
		probe.Method = http.MethodGet
		if _, p := h.mux.Handler(probe); p != "" {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed")
			return
		}
		writeError(w, http.StatusNotFound, "not_found")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// setCORS writes gafferd's CORS headers.
func setCORS(hd http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = "*"
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	hd.Set("Access-Control-Max-Age", "86400")
	hd.Set("Access-Control-Allow-Headers", "X-Requested-With, X-HTTP-Method-Override, Content-Type, Accept, Authorization")
	hd.Set("Access-Control-Allow-Credentials", "true")
	hd.Add("Vary", "Origin")
}

// ---- JSON shapes (gaffer-lookupd §6) ---------------------------------------

// NodeRef identifies a node: {"name", "origin", "version"}.
type NodeRef struct {
	Name    string `json:"name"`
	Origin  string `json:"origin"`
	Version string `json:"version"`
}

// Source is one node holding a job, with the job's pids on that node.
type Source struct {
	Name     string  `json:"name"`
	Pids     []int   `json:"pids"`
	NodeInfo NodeRef `json:"node_info"`
}

// Job is a job and every node holding it.
type Job struct {
	Name    string   `json:"name"`
	Sources []Source `json:"sources"`
}

// Session is one session's jobs: full job name → sources.
type Session struct {
	SessionID string              `json:"sessionid"`
	Jobs      map[string][]Source `json:"jobs"`
}

// NodesAnswer is GET /nodes.
type NodesAnswer struct {
	Nodes []NodeRef `json:"nodes"`
}

// JobsAnswer is GET /jobs and GET /findSession.
type JobsAnswer struct {
	NbJobs int   `json:"nb_jobs"`
	Jobs   []Job `json:"jobs"`
}

// SessionsAnswer is GET /sessions[/NODE].
type SessionsAnswer struct {
	NbSessions int       `json:"nb_sessions"`
	Sessions   []Session `json:"sessions"`
}

// SourcesAnswer is GET /findJob.
type SourcesAnswer struct {
	Sources []Source `json:"sources"`
}

func refOf(n cluster.NodeInfo) NodeRef {
	return NodeRef{Name: n.Name, Origin: n.Origin, Version: ProtocolVersion}
}

// sortedNodes is the registry in join order (then by name), the nearest
// thing to lookupd's connection order.
func (h *Handler) sortedNodes() []cluster.NodeInfo {
	nodes := slices.Clone(h.reg.Nodes())
	slices.SortStableFunc(nodes, func(a, b cluster.NodeInfo) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return nodes
}

// allJobs is every job of the nodes keep accepts, by name, each with its
// sources in node order.
func (h *Handler) allJobs(keep func(node cluster.NodeInfo, job string) bool) []Job {
	byName := map[string]*Job{}
	var names []string
	for _, n := range h.sortedNodes() {
		for _, j := range n.Jobs {
			if keep != nil && !keep(n, j.Name) {
				continue
			}
			job := byName[j.Name]
			if job == nil {
				job = &Job{Name: j.Name}
				byName[j.Name] = job
				names = append(names, j.Name)
			}
			pids := slices.Clone(j.Pids)
			if pids == nil {
				pids = []int{}
			}
			slices.Sort(pids)
			job.Sources = append(job.Sources, Source{Name: n.Name, Pids: pids, NodeInfo: refOf(n)})
		}
	}
	slices.Sort(names)
	jobs := make([]Job, 0, len(names))
	for _, name := range names {
		jobs = append(jobs, *byName[name])
	}
	return jobs
}

// sessionOf is the session of a full job name, split as gafferd splits it.
func sessionOf(job string) string {
	s, _ := supervisor.ParseName(job)
	return s
}

// ---- handlers --------------------------------------------------------------

func (h *Handler) welcome(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"welcome": "gaffer-lookupd", "version": Version})
}

func (h *Handler) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": Version})
}

func (h *Handler) ping(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
}

func (h *Handler) nodes(w http.ResponseWriter, _ *http.Request) {
	out := NodesAnswer{Nodes: []NodeRef{}}
	for _, n := range h.sortedNodes() {
		out.Nodes = append(out.Nodes, refOf(n))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) sessions(w http.ResponseWriter, r *http.Request) {
	node := r.PathValue("node")
	jobs := h.allJobs(func(n cluster.NodeInfo, _ string) bool { return node == "" || n.Name == node })
	out := SessionsAnswer{Sessions: []Session{}}
	index := map[string]int{}
	for _, j := range jobs {
		sid := sessionOf(j.Name)
		i, ok := index[sid]
		if !ok {
			i = len(out.Sessions)
			index[sid] = i
			out.Sessions = append(out.Sessions, Session{SessionID: sid, Jobs: map[string][]Source{}})
		}
		out.Sessions[i].Jobs[j.Name] = j.Sources
	}
	slices.SortFunc(out.Sessions, func(a, b Session) int { return cmp.Compare(a.SessionID, b.SessionID) })
	out.NbSessions = len(out.Sessions)
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) jobs(w http.ResponseWriter, _ *http.Request) {
	jobs := h.allJobs(nil)
	writeJSON(w, http.StatusOK, JobsAnswer{NbJobs: len(jobs), Jobs: jobs})
}

func (h *Handler) findJob(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		writeError(w, http.StatusBadRequest, "findJob: missing query parameter name (want ?name=SESSION.JOB)")
		return
	}
	// A name without a session is in session "default", as in gafferd.
	s, j := supervisor.ParseName(name)
	full := s + "." + j
	out := SourcesAnswer{Sources: []Source{}}
	for _, job := range h.allJobs(func(_ cluster.NodeInfo, n string) bool { return n == full || n == name }) {
		out.Sources = append(out.Sources, job.Sources...)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) findSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sid := q.Get("sessionid")
	if sid == "" {
		sid = q.Get("name")
	}
	if sid == "" {
		writeError(w, http.StatusBadRequest, "findSession: missing query parameter sessionid (want ?sessionid=SESSION)")
		return
	}
	jobs := h.allJobs(func(_ cluster.NodeInfo, n string) bool { return sessionOf(n) == sid })
	writeJSON(w, http.StatusOK, JobsAnswer{NbJobs: len(jobs), Jobs: jobs})
}

// ---- answers ---------------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil { // only our own types are written: a bug
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// writeError answers gafferd's error shape {"error": status, "reason"}.
func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]any{"error": status, "reason": reason})
}

// DefaultPort is gaffer_lookupd's port.
const DefaultPort = "5010"

// Listen opens the lookupd API's TCP listener. addr is host:port, :port or
// a bare port; without a host it is 127.0.0.1. The API has no
// authentication (as gaffer_lookupd), so a non-loopback host is refused
// unless allowRemote.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	hostport, err := ListenAddr(addr, allowRemote)
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", hostport)
}

// ListenAddr is the host:port Listen listens on for addr.
func ListenAddr(addr string, allowRemote bool) (string, error) {
	hostport := strings.TrimSpace(addr)
	if hostport != "" && strings.Trim(hostport, "0123456789") == "" {
		hostport = ":" + hostport // a bare port
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("lookupd address %q: want host:port, :port or a port: %v", addr, err)
	}
	if port == "" {
		port = DefaultPort
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return "", fmt.Errorf("lookupd address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !allowRemote && !isLoopback(host) {
		return "", fmt.Errorf("lookupd address %q: the lookupd API has no authentication; "+
			"listen on a loopback address or pass --insecure-remote", addr)
	}
	return net.JoinHostPort(host, port), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
