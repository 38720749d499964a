package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

const (
	defaultListen    = "127.0.0.1:4222"
	defaultHeartbeat = 500 * time.Millisecond
	expiryBeats      = 3 // a peer silent for 3 heartbeats (1.5 s) is removed
	coalesce         = 100 * time.Millisecond
	requestTimeout   = 10 * time.Second
	pingTimeout      = time.Second
	embeddedPayload  = 4 << 20 // room for a 1 MiB body and a large reply
	maxInflight      = 64      // control requests run at once on one node
	watchQueue       = 4096
)

// Errors of Do, for errors.Is.
var (
	ErrUnknownNode = errors.New("cluster: no such node")
	ErrTimeout     = errors.New("cluster: no answer in time")
	ErrTooLarge    = errors.New("cluster: message too large")
)

// Node is this gafferd's membership in a cluster.
type Node struct {
	opts    Options
	sup     *supervisor.Supervisor
	api     http.Handler
	log     *slog.Logger
	name    string
	started time.Time
	beat    time.Duration

	srv *server.Server // the embedded server, or nil
	nc  *nats.Conn

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{}
	resync chan struct{} // (re)connected: publish full state now

	mu       sync.Mutex
	self     NodeInfo
	rev      uint64
	peers    map[string]*peer
	watchers map[*watcher]struct{}
	paused   bool // heartbeats stopped (tests simulate a hung node)
	closed   bool
}

// peer is another node as this one knows it.
type peer struct {
	info     NodeInfo
	known    bool  // info received
	started  int64 // the peer's Started (UnixNano): a restart changes it
	rev      uint64
	fetching bool
	expire   *time.Timer
	gen      uint64 // bumped at each sign of life; the expiry checks it
}

// heartbeat is the payload of gaffer.reg.hb.<node>.
type heartbeat struct {
	Name    string `json:"name"`
	Origin  string `json:"origin"`
	Started int64  `json:"started"`
	Rev     uint64 `json:"rev"`
}

// announcement is the payload of gaffer.reg.info.<node> and of the reply
// to gaffer.node.<node>.info: a full NodeInfo at a revision.
type announcement struct {
	Started int64    `json:"started"`
	Rev     uint64   `json:"rev"`
	Info    NodeInfo `json:"info"`
}

// Start joins (or, with Embedded, starts and joins) the NATS server,
// checks that no live node has the same name, publishes this node's state,
// and serves gaffer.api.<name> with api. ctx bounds the start only; Close
// stops the node.
func Start(ctx context.Context, sup *supervisor.Supervisor, api http.Handler, opts Options) (*Node, error) {
	if sup == nil || api == nil {
		return nil, errors.New("cluster: Start needs a supervisor and an API handler")
	}
	if opts.Embedded == (opts.URL != "") {
		return nil, errors.New("cluster: give either a server URL to join or Embedded, not both or neither")
	}
	if opts.CredsFile != "" && opts.NKeySeedFile != "" {
		return nil, errors.New("cluster: give a credentials file or an NKey seed file, not both")
	}
	n := &Node{opts: opts, sup: sup, api: api, log: opts.Logger, name: opts.Name, beat: opts.heartbeat,
		started: time.Now().Round(0), peers: map[string]*peer{}, watchers: map[*watcher]struct{}{},
		sem: make(chan struct{}, maxInflight), resync: make(chan struct{}, 1)}
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.beat <= 0 {
		n.beat = defaultHeartbeat
	}
	if n.name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster: no node name given and no host name: %w", err)
		}
		n.name = token(h)
	}
	if err := checkName(n.name); err != nil {
		return nil, err
	}
	n.log = n.log.With("node", n.name)
	url := opts.URL
	if opts.Embedded {
		if err := n.startServer(); err != nil {
			return nil, err
		}
		url = n.srv.ClientURL()
	}
	if err := n.connect(url); err != nil {
		n.shutdownServer()
		return nil, err
	}
	if err := n.checkUnique(ctx); err != nil {
		n.nc.Close()
		n.shutdownServer()
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.subscribe(); err != nil {
		n.cancel()
		n.nc.Close()
		n.shutdownServer()
		return nil, err
	}
	// Subscribe to the engine before reading its state, so that no change
	// falls between the first snapshot and the first event.
	sub := sup.Subscribe(1024, supervisor.DropOldest)
	if err := n.refresh(ctx); err != nil {
		sub.Close()
		n.Close()
		return nil, err
	}
	n.heartbeat()
	n.wg.Add(2)
	go n.events(sub)
	go n.heartbeats()
	n.log.Info("cluster node started", "server", n.nc.ConnectedUrlRedacted(), "origin", opts.Origin)
	return n, nil
}

func (n *Node) startServer() error {
	listen := n.opts.Listen
	if listen == "" {
		listen = defaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("cluster: listen %q: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("cluster: listen %q: bad port", listen)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "gaffer-" + n.name, Host: host, Port: p,
		NoSigs: true, NoLog: true, MaxPayload: embeddedPayload, NoSystemAccount: true,
	})
	if err != nil {
		return fmt.Errorf("cluster: embedded server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("cluster: embedded server on %s did not start", listen)
	}
	n.srv = srv
	return nil
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

func (n *Node) connect(url string) error {
	o := []nats.Option{
		nats.Name("gafferd " + n.name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				n.log.Warn("cluster: disconnected from the server", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("cluster: reconnected", "server", c.ConnectedUrlRedacted())
			select {
			case n.resync <- struct{}{}:
			default:
			}
		}),
	}
	if n.opts.TLS != nil {
		o = append(o, nats.Secure(n.opts.TLS))
	}
	if n.opts.CredsFile != "" {
		if _, err := os.Stat(n.opts.CredsFile); err != nil {
			return fmt.Errorf("cluster: credentials: %w", err)
		}
		o = append(o, nats.UserCredentials(n.opts.CredsFile))
	}
	if n.opts.NKeySeedFile != "" {
		opt, err := nats.NkeyOptionFromSeed(n.opts.NKeySeedFile)
		if err != nil {
			return fmt.Errorf("cluster: nkey seed %s: %w", n.opts.NKeySeedFile, err)
		}
		o = append(o, opt)
	}
	nc, err := nats.Connect(url, o...)
	if err != nil {
		return fmt.Errorf("cluster: connecting to %s: %w", url, err)
	}
	n.nc = nc
	return nil
}

// checkUnique asks gaffer.node.<name>.ping: a reply means a live node
// already has this name.
func (n *Node) checkUnique(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	m, err := n.nc.RequestWithContext(ctx, "gaffer.node."+n.name+".ping", nil)
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil
	case err != nil:
		return fmt.Errorf("cluster: checking that the name %q is free: %w", n.name, err)
	}
	var hb heartbeat
	json.Unmarshal(m.Data, &hb)
	return fmt.Errorf("cluster: node name %q is already used by the live node at %s", n.name, orUnknown(hb.Origin))
}

func orUnknown(s string) string {
	if s == "" {
		return "(origin unknown)"
	}
	return s
}

func (n *Node) subscribe() error {
	subs := []struct {
		subj string
		cb   nats.MsgHandler
	}{
		{"gaffer.node." + n.name + ".ping", func(m *nats.Msg) { m.Respond(n.heartbeatData()) }},
		{"gaffer.node." + n.name + ".info", func(m *nats.Msg) { m.Respond(n.announcementData()) }},
		{"gaffer.reg.>", n.onRegistry},
		{"gaffer.api." + n.name, n.onControl},
	}
	for _, s := range subs {
		if _, err := n.nc.Subscribe(s.subj, s.cb); err != nil {
			return fmt.Errorf("cluster: subscribing to %s: %w", s.subj, err)
		}
	}
	return n.nc.Flush()
}

// Name is this node's name.
func (n *Node) Name() string { return n.name }

// ClientURL is the NATS URL of the embedded server ("" when joining one).
func (n *Node) ClientURL() string {
	if n.srv == nil {
		return ""
	}
	return n.srv.ClientURL()
}

// Nodes is the current registry, sorted by name, this node included.
func (n *Node) Nodes() []NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.snapshot()
}

func (n *Node) snapshot() []NodeInfo {
	out := []NodeInfo{n.self}
	for _, p := range n.peers {
		if p.known {
			out = append(out, p.info)
		}
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close leaves the cluster: it says goodbye (other nodes drop this one at
// once), stops serving, and shuts the embedded server down. Nodes that
// joined through this node's embedded server lose their connection.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for w := range n.watchers {
		w.stop()
	}
	for _, p := range n.peers {
		p.expire.Stop()
	}
	n.mu.Unlock()
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.nc != nil {
		b, _ := json.Marshal(heartbeat{Name: n.name, Origin: n.opts.Origin, Started: n.started.UnixNano()})
		n.nc.Publish("gaffer.reg.bye."+n.name, b)
		n.nc.Flush()
		n.nc.Close()
	}
	n.shutdownServer()
	return nil
}

// ---- this node's state ---------------------------------------------------

// refresh reads the engine's state and publishes it as a new revision.
func (n *Node) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	infos, err := n.sup.InfoAll(ctx, "")
	if err != nil {
		return fmt.Errorf("cluster: reading the jobs: %w", err)
	}
	sessions, err := n.sup.Sessions(ctx)
	if err != nil {
		return fmt.Errorf("cluster: reading the sessions: %w", err)
	}
	self := NodeInfo{Name: n.name, Origin: n.opts.Origin, Version: n.opts.Version, Started: n.started,
		Sessions: sessions, Jobs: make([]JobEntry, 0, len(infos))}
	if self.Sessions == nil {
		self.Sessions = []string{}
	}
	for _, i := range infos {
		self.Jobs = append(self.Jobs, jobEntry(i))
	}
	n.mu.Lock()
	n.rev++
	kind := EventUpdate
	if n.rev == 1 {
		kind = EventAdd
	}
	n.self = self
	n.notify(RegistryEvent{Kind: kind, Node: self})
	n.mu.Unlock()
	return n.nc.Publish("gaffer.reg.info."+n.name, n.announcementData())
}

func jobEntry(i supervisor.JobInfo) JobEntry {
	e := JobEntry{Name: i.Name, Running: i.Running, Target: i.MaxProcesses, Pids: i.Processes}
	if e.Pids == nil {
		e.Pids = []int{}
	}
	switch {
	case i.Waiting != "":
		e.State = "waiting"
	case i.Stopped:
		e.State = "stopped"
	case i.Running > 0:
		e.State = "running"
	default:
		e.State = "idle"
	}
	return e
}

func (n *Node) announcementData() []byte {
	n.mu.Lock()
	a := announcement{Started: n.started.UnixNano(), Rev: n.rev, Info: n.self}
	n.mu.Unlock()
	b, _ := json.Marshal(a)
	return b
}

func (n *Node) heartbeatData() []byte {
	n.mu.Lock()
	hb := heartbeat{Name: n.name, Origin: n.opts.Origin, Started: n.started.UnixNano(), Rev: n.rev}
	n.mu.Unlock()
	b, _ := json.Marshal(hb)
	return b
}

func (n *Node) heartbeat() {
	n.mu.Lock()
	paused := n.paused
	n.mu.Unlock()
	if !paused {
		n.nc.Publish("gaffer.reg.hb."+n.name, n.heartbeatData())
	}
}

// heartbeats says "alive, at revision r" every heartbeat period, and
// republishes the full state after each reconnection.
func (n *Node) heartbeats() {
	defer n.wg.Done()
	t := time.NewTicker(n.beat)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.heartbeat()
		case <-n.resync:
			if err := n.refresh(n.ctx); err != nil && n.ctx.Err() == nil {
				n.log.Warn("cluster: publishing the state after reconnecting", "err", err)
			}
			n.heartbeat()
		}
	}
}

// setPaused stops or resumes heartbeats (and state announcements), as a
// hung node would.
func (n *Node) setPaused(p bool) {
	n.mu.Lock()
	n.paused = p
	n.mu.Unlock()
}

// events forwards every engine event to gaffer.evt.… and republishes this
// node's state at most once per 100 ms while events keep coming.
func (n *Node) events(sub *supervisor.Sub) {
	defer n.wg.Done()
	defer sub.Close()
	var flush <-chan time.Time
	for {
		select {
		case <-n.ctx.Done():
			return
		case e, ok := <-sub.C():
			if !ok {
				n.log.Warn("cluster: event subscription closed", "err", sub.Err())
				return
			}
			n.publishEvent(e)
			if flush == nil {
				flush = time.After(coalesce)
			}
		case <-flush:
			flush = nil
			n.mu.Lock()
			paused := n.paused
			n.mu.Unlock()
			if paused {
				continue
			}
			if err := n.refresh(n.ctx); err != nil && n.ctx.Err() == nil {
				n.log.Warn("cluster: publishing the state", "err", err)
			}
		}
	}
}

// EventSubject is the subject an engine event of node is published on:
// gaffer.evt.<node>.<session>.<job>.<event>, each part made a valid
// subject token by token (events of no job use "_" for session and job).
// Events addressed by job or process ("job.…", "proc.…" types) are the
// same events under other names and are not republished.
func EventSubject(node string, e events.Event) string {
	session, job := "", ""
	if e.Name != "" {
		session, job = supervisor.ParseName(e.Name)
	}
	return "gaffer.evt." + token(node) + "." + token(session) + "." + token(job) + "." + token(e.Type)
}

func (n *Node) publishEvent(e events.Event) {
	if strings.HasPrefix(e.Type, "job.") || strings.HasPrefix(e.Type, "proc.") {
		return
	}
	m := e.Message()
	m["node"] = n.name
	m["time"] = e.Time
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	n.nc.Publish(EventSubject(n.name, e), b)
}

// ---- the registry of other nodes ------------------------------------------

func (n *Node) onRegistry(m *nats.Msg) {
	rest, ok := strings.CutPrefix(m.Subject, "gaffer.reg.")
	if !ok {
		return
	}
	kind, name, _ := strings.Cut(rest, ".")
	switch kind {
	case "hb":
		var hb heartbeat
		if json.Unmarshal(m.Data, &hb) != nil || hb.Name != name {
			return
		}
		n.onHeartbeat(hb)
	case "info":
		var a announcement
		if json.Unmarshal(m.Data, &a) != nil || a.Info.Name != name {
			return
		}
		n.onAnnouncement(a)
	case "bye":
		var hb heartbeat
		if json.Unmarshal(m.Data, &hb) != nil || hb.Name != name {
			return
		}
		n.mu.Lock()
		if p := n.peers[name]; p != nil && p.started == hb.Started {
			n.remove(name, p)
		}
		n.mu.Unlock()
	}
}

func (n *Node) onHeartbeat(hb heartbeat) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if hb.Name == n.name {
		if hb.Started != n.started.UnixNano() {
			n.log.Error("cluster: another node uses this node's name", "origin", hb.Origin)
		}
		return
	}
	p := n.alive(hb.Name)
	if p.known && p.started == hb.Started && p.rev >= hb.Rev || p.fetching {
		return
	}
	// New node, restarted node, or a missed update: ask for the full state.
	p.fetching = true
	n.wg.Add(1)
	go n.fetch(hb.Name)
}

// alive returns the peer name, created if new, and restarts its expiry.
func (n *Node) alive(name string) *peer {
	p := n.peers[name]
	if p == nil {
		p = &peer{}
		n.peers[name] = p
	}
	p.gen++
	gen := p.gen
	if p.expire != nil {
		p.expire.Stop()
	}
	p.expire = time.AfterFunc(expiryBeats*n.beat, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.peers[name] == p && p.gen == gen {
			n.log.Warn("cluster: node stopped answering; removed", "peer", name)
			n.remove(name, p)
		}
	})
	return p
}

func (n *Node) remove(name string, p *peer) {
	p.expire.Stop()
	delete(n.peers, name)
	if p.known {
		n.notify(RegistryEvent{Kind: EventRemove, Node: p.info})
	}
}

func (n *Node) fetch(name string) {
	defer n.wg.Done()
	ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
	defer cancel()
	m, err := n.nc.RequestWithContext(ctx, "gaffer.node."+name+".info", nil)
	var a announcement
	if err == nil {
		err = json.Unmarshal(m.Data, &a)
	}
	n.mu.Lock()
	if p := n.peers[name]; p != nil {
		p.fetching = false
	}
	n.mu.Unlock()
	if err != nil {
		if n.ctx.Err() == nil {
			n.log.Debug("cluster: fetching a node's state", "peer", name, "err", err)
		}
		return
	}
	n.onAnnouncement(a)
}

func (n *Node) onAnnouncement(a announcement) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || a.Info.Name == n.name || a.Rev == 0 {
		return
	}
	p := n.alive(a.Info.Name)
	if p.known && p.started == a.Started && p.rev >= a.Rev {
		return
	}
	kind := EventUpdate
	if !p.known || p.started != a.Started {
		kind = EventAdd
	}
	p.known, p.started, p.rev, p.info = true, a.Started, a.Rev, a.Info
	n.notify(RegistryEvent{Kind: kind, Node: a.Info})
}

// ---- Watch ----------------------------------------------------------------

// watcher is one Watch: a queue the registry appends to (never blocking)
// and a goroutine moving it to the caller's channel.
type watcher struct {
	mu     sync.Mutex
	q      []RegistryEvent
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once
	failed bool
}

func (w *watcher) stop() { w.once.Do(func() { close(w.done) }) }

// Watch returns the registry's changes: an "add" for each node known now
// (this one included), then every add, update and remove. The channel is
// closed when ctx ends or the node closes, and also when the reader falls
// more than 4096 events behind (Watch again to get a fresh view).
func (n *Node) Watch(ctx context.Context) <-chan RegistryEvent {
	w := &watcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
	out := make(chan RegistryEvent)
	n.mu.Lock()
	for _, i := range n.snapshot() {
		w.q = append(w.q, RegistryEvent{Kind: EventAdd, Node: i})
	}
	w.wake <- struct{}{}
	if n.closed {
		w.stop()
	} else {
		n.watchers[w] = struct{}{}
	}
	n.mu.Unlock()
	go func() {
		defer close(out)
		defer func() {
			n.mu.Lock()
			delete(n.watchers, w)
			n.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.done:
				return
			case <-w.wake:
			}
			for {
				w.mu.Lock()
				if len(w.q) == 0 {
					w.mu.Unlock()
					break
				}
				e := w.q[0]
				w.q = w.q[1:]
				w.mu.Unlock()
				select {
				case out <- e:
				case <-ctx.Done():
					return
				case <-w.done:
					return
				}
			}
		}
	}()
	return out
}

// notify queues e for every watcher. Called with n.mu held.
func (n *Node) notify(e RegistryEvent) {
	for w := range n.watchers {
		w.mu.Lock()
		if len(w.q) >= watchQueue {
			w.failed = true
			w.stop()
		} else {
			w.q = append(w.q, e)
		}
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// ---- control: HTTP over request/reply --------------------------------------

// Do runs r on node's API through gaffer.api.<node> and returns its
// response. The request's method, path, query, headers (X-Api-Key
// included) and body (at most MaxBody bytes) are sent; the other node
// answers with the same authorization as its own listeners. Streaming
// endpoints (websockets, watch streams) are not carried. The call waits
// at most 10 s, less if ctx ends sooner.
func (n *Node) Do(ctx context.Context, node string, r *http.Request) (*http.Response, error) {
	if err := checkName(node); err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cluster: reading the request body: %w", err)
		}
		if len(body) > MaxBody {
			return nil, fmt.Errorf("%w: request body larger than %d bytes", ErrTooLarge, MaxBody)
		}
	}
	uri := r.URL.RequestURI()
	data, err := encodeFrame(requestHead{Method: r.Method, URI: uri, Header: r.Header, From: n.name}, body)
	if err != nil {
		return nil, err
	}
	if mp := n.nc.MaxPayload(); mp > 0 && int64(len(data)) > mp {
		return nil, fmt.Errorf("%w: request of %d bytes exceeds the server's max_payload %d", ErrTooLarge, len(data), mp)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	m, err := n.nc.RequestWithContext(ctx, "gaffer.api."+node, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, node)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: node %q, %s %s", ErrTimeout, node, r.Method, r.URL.Path)
	case err != nil:
		return nil, fmt.Errorf("cluster: %s %s on node %q: %w", r.Method, r.URL.Path, node, err)
	}
	h, rb, err := decodeResponse(m.Data)
	if err != nil {
		return nil, fmt.Errorf("cluster: answer of node %q: %w", node, err)
	}
	if h.Error != "" {
		return nil, fmt.Errorf("cluster: node %q: %s", node, h.Error)
	}
	if h.Header == nil {
		h.Header = http.Header{}
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", h.Status, http.StatusText(h.Status)), StatusCode: h.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h.Header, Body: io.NopCloser(bytes.NewReader(rb)),
		ContentLength: int64(len(rb)), Request: r}, nil
}

func (n *Node) onControl(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	select {
	case n.sem <- struct{}{}:
	default:
		n.reply(m, responseHead{Error: "too many cluster requests at once; try again"}, nil)
		return
	}
	n.mu.Lock()
	if n.closed { // Close is waiting for the running requests: start no more
		n.mu.Unlock()
		<-n.sem
		return
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		defer func() { <-n.sem }()
		n.serveControl(m)
	}()
}

func (n *Node) reply(m *nats.Msg, h responseHead, body []byte) {
	data, err := encodeFrame(h, body)
	if err == nil {
		if mp := n.nc.MaxPayload(); mp > 0 && int64(len(data)) > mp {
			data, err = encodeFrame(responseHead{Error: fmt.Sprintf("answer of %d bytes exceeds the server's max_payload %d", len(data), mp)}, nil)
		}
	}
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil && n.ctx.Err() == nil {
		n.log.Warn("cluster: answering a request", "err", err)
	}
}

func (n *Node) serveControl(m *nats.Msg) {
	h, body, err := decodeRequest(m.Data)
	if err != nil {
		n.reply(m, responseHead{Error: err.Error()}, nil)
		return
	}
	if strings.HasPrefix(h.URI, "/cluster/") {
		// A node answers for itself only: no request bounces further.
		n.reply(m, responseHead{Error: "a cluster request cannot be forwarded again (" + h.URI + ")"}, nil)
		return
	}
	if h.Header.Get("Upgrade") != "" {
		n.reply(m, responseHead{Error: "websockets cannot be carried through the cluster"}, nil)
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, h.Method, h.URI, bytes.NewReader(body))
	if err != nil {
		n.reply(m, responseHead{Error: "bad request: " + err.Error()}, nil)
		return
	}
	r.RequestURI = h.URI
	r.Header = h.Header
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Del("Authorization") // keys only: passwords stay on the caller's node
	r.Host = n.name
	r.RemoteAddr = "nats:" + token(h.From)
	rec := &recorder{header: http.Header{}, limit: int(n.nc.MaxPayload())}
	n.api.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n.reply(m, responseHead{Status: rec.status, Header: rec.header}, rec.body.Bytes())
}

// recorder is the ResponseWriter control requests are served with.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.limit > 0 && w.body.Len()+len(b) > w.limit {
		return 0, errors.New("cluster: answer larger than the server's max_payload")
	}
	return w.body.Write(b)
}
