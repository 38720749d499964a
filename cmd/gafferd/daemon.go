package main

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/internal/api/legacy"
	"github.com/gafferhq/gaffer/internal/api/lookupd"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/api/supervisorrpc"
	"github.com/gafferhq/gaffer/internal/api/web"
	"github.com/gafferhq/gaffer/internal/api/ws"
	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/cluster"
	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/eventlistener"
	"github.com/gafferhq/gaffer/internal/logs"
	"github.com/gafferhq/gaffer/internal/metrics"
	"github.com/gafferhq/gaffer/internal/notify"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// daemon is one running gafferd: the engine, its listeners, and what the
// supervisor-compatible interface needs (groups, state, main log).
type daemon struct {
	o       *options
	logger  *slog.Logger
	mainLog *logs.Writer
	sup     *supervisor.Supervisor
	cancel  context.CancelFunc
	state   atomic.Int32 // supervisord's state: 1 RUNNING, 0 RESTARTING, -1 SHUTDOWN
	restart atomic.Bool

	identifier string
	evMu       sync.Mutex                            // serializes setPools
	ev         atomic.Pointer[eventlistener.Manager] // supervisor event listener pools; nil until a config has one
	evCtx      context.Context
	hooks      *notify.Webhooks // [webhooks]; set in serve before any event
	mail       *notify.Mailer   // [email]; set in serve before any event

	mu      sync.Mutex     // guards cfg, pending and loaded
	cfg     *config.Config // the config running now
	pending *config.Config // the last one read by reloadConfig (supervisorctl reread)
	loaded  map[string]bool
}

func jobSpecs(jobs []config.Job) []supervisor.JobSpec {
	specs := make([]supervisor.JobSpec, 0, len(jobs))
	for _, j := range jobs {
		specs = append(specs, supervisor.JobSpec{Session: j.Session, Config: j.Config})
	}
	return specs
}

// groupSpecs is jobSpecs with each supervisor program's group priority set
// from cfg's groups, so that the engine stops groups in supervisord's order
// at shutdown (event listener pools, priority -1 by default, last).
func groupSpecs(cfg *config.Config, jobs []config.Job) []supervisor.JobSpec {
	specs := jobSpecs(jobs)
	if cfg.Supervisord == nil {
		return specs
	}
	prio := map[string]int{}
	for _, g := range cfg.Supervisord.Groups {
		prio[g.Name] = g.Priority
	}
	for i, js := range specs {
		if p := js.Config.Program; p != nil {
			if gp, ok := prio[js.Session]; ok {
				np := *p
				np.GroupPriority = gp
				specs[i].Config.Program = &np
			}
		}
	}
	return specs
}

func serve(o *options, cfg *config.Config, logger *slog.Logger, mainLog *logs.Writer, console io.Writer) error {
	pidfile := cfg.Global.Pidfile
	if pidfile == "" && cfg.Supervisord != nil {
		pidfile = cfg.Supervisord.Pidfile
	}
	if pidfile != "" {
		if err := writePidfile(pidfile); err != nil {
			return err
		}
		defer removePidfile(pidfile)
	}
	sec, err := newSecurity(o, cfg) // stores and certificates: fail before listening
	if err != nil {
		return err
	}
	clusterOpts, inCluster, err := cluster.FromConfig(cfg.Cluster, o.clusterURL, o.clusterEmbedded) // [cluster], --cluster
	if err != nil {
		return err
	}
	if !inCluster || !clusterOpts.Embedded {
		cluster.QuietServerSampler() // no embedded NATS server: no once-a-second wake-up either
	}
	if o.lookupd != "" && !inCluster {
		return errors.New("--lookupd needs clustering ([cluster], --cluster or --cluster-embedded)")
	}
	if _, err := lookupd.ListenAddr(o.lookupd, o.insecure); o.lookupd != "" && err != nil {
		return err // before anything starts
	}
	var restCluster rest.Cluster // nil: /cluster answers 404
	clusterRef := &cluster.Ref{} // the node, once started below
	if inCluster {
		restCluster = clusterRef
	}
	metricsLn, err := listenMetrics(cfg.Global.MetricsBind, o.insecure) // [gaffer] metrics_bind
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close()
	}
	listeners, err := listenAll(cfg, o.insecure || sec.az.RequireKey)
	if err != nil {
		return err
	}
	d := &daemon{o: o, logger: logger, mainLog: mainLog, cfg: cfg, loaded: map[string]bool{}}
	d.state.Store(1)
	identifier := "supervisor"
	if sc := cfg.Supervisord; sc != nil {
		identifier = sc.Identifier
		if !sc.Nocleanup && sc.Childlogdir != "" {
			if removed, err := logs.CleanAutoDir(sc.Childlogdir, identifier); err != nil {
				logger.Warn("cleaning AUTO child logs", "dir", sc.Childlogdir, "err", err)
			} else if len(removed) > 0 {
				logger.Info("removed old AUTO child logs", "count", len(removed))
			}
		}
	}
	// The sd_notify socket (jobs with a notify readiness probe) lives beside
	// the API's unix socket, in its private directory; else in TMPDIR.
	notifySock := ""
	for _, l := range listeners {
		if a, ok := l.Addr().(*net.UnixAddr); ok && a.Name != "" {
			notifySock = a.Name + ".notify"
			break
		}
	}
	met := metrics.New() // the engine's Observer, so created before it
	d.sup = supervisor.New(supervisor.Options{ReapAll: true, Logger: logger, Identifier: identifier, NotifySocket: notifySock, Observer: met})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.cancel = cancel
	runErr := make(chan error, 1)
	go func() { runErr <- d.sup.Run(ctx) }()
	// Listener pools outlive the engine's shutdown, so listeners hear about
	// the processes that stop.
	evCtx, evCancel := context.WithCancel(context.Background())
	defer evCancel()
	d.identifier, d.evCtx = identifier, evCtx
	d.setPools(cfg)
	if ev := d.ev.Load(); ev != nil && cfg.Supervisord != nil {
		for _, g := range cfg.Supervisord.Groups {
			ev.GroupAdded(g.Name)
		}
		ev.SupervisorState(true)
	}

	// Webhooks read the engine's events through a bounded queue that drops
	// its oldest entries: a slow receiver never holds the engine up.
	d.hooks = notify.NewWebhooks(notify.WebhookOptions{Version: Version, Logger: logger})
	if err := d.hooks.Set(cfg.Webhooks); err != nil {
		logger.Error("webhooks", "err", err)
	}
	hooksSub := d.sup.Subscribe(notify.DefaultWebhookQueue, supervisor.DropOldest)
	hooksCtx, hooksAbort := context.WithCancel(context.Background())
	defer hooksAbort()
	hooksDone := make(chan struct{})
	go func() { defer close(hooksDone); d.hooks.Run(hooksCtx, hooksSub) }()

	// E-mail notifications: the same kind of queue, for the events they need.
	d.mail = notify.NewMailer(notify.MailerOptions{Logger: logger})
	if err := d.mail.Set(cfg.Email); err != nil {
		logger.Error("email", "err", err)
	}
	mailSub := d.sup.Subscribe(notify.DefaultMailQueue, supervisor.DropOldest, notify.MailPatterns...)
	mailCtx, mailAbort := context.WithCancel(context.Background())
	defer mailAbort()
	mailDone := make(chan struct{})
	go func() { defer close(mailDone); d.mail.Run(mailCtx, mailSub) }()

	if o.verbose || o.veryVerbose {
		go printConsole(d.sup, console, o.veryVerbose)
	}

	rpc := xmlrpc.NewServer()
	rpc.Logger = logger
	rpc.Authorize = supervisorrpc.AuthorizeWith()
	supervisorrpc.Register(rpc, &supervisorrpc.Daemon{
		Sup: d.sup, Version: Version, Identification: identifier,
		State:    func() int { return int(d.state.Load()) },
		MainLog:  func() *logs.Writer { return d.mainLog },
		Shutdown: func() { d.stop(false) },
		Restart:  func() { d.stop(true) },
		Reread:   d.reread, AddGroup: d.addGroup, RemoveGroup: d.removeGroup,
		GroupPriority: d.groupPriority,
		Configs: func() []supervisor.JobSpec {
			d.mu.Lock()
			defer d.mu.Unlock()
			src := d.pending
			if src == nil {
				src = d.cfg
			}
			return jobSpecs(src.Jobs)
		},
		RemoteComm: func(typ, data string) {
			if ev := d.ev.Load(); ev != nil {
				ev.RemoteCommunication(typ, data)
			}
		},
	})
	d.registerInterfaces(rpc, cfg) // [rpcinterface:twiddler], [rpcinterface:cache]
	plug, err := findPlugins(pluginsDir(o, cfg))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /_plugin/{name}/{rest...}", plug.site())
	mux.Handle("/RPC2", sec.rpc2(rpc))
	mux.Handle("GET /logtail/", logtail(d.sup))
	mux.Handle("GET /mainlogtail", mainlogtail(func() *logs.Writer { return d.mainLog }))
	sampler := stats.NewSampler() // shared: both APIs measure CPU from the same baselines
	met.Watch(d.sup, sampler)
	restAPI := rest.New(d.sup, rest.Options{Sampler: sampler, Version: Version, Authorize: sec.authorize(), Auth: sec.az, Metrics: met.Handler(), Cluster: restCluster})
	legacyAPI := legacy.New(d.sup, legacy.Options{Sampler: sampler, Authorize: sec.authorize()})
	liveAPI := ws.New(d.sup, ws.Options{Sampler: sampler, Authorize: sec.authorize(), OriginPatterns: sec.origins})
	var liveKeyed http.Handler // nil unless keys are required
	if sec.az.RequireKey {
		// Browsers cannot set headers on a websocket: on TCP the channel's
		// first message is "AUTH:<key>" (the unix socket is trusted).
		liveKeyed = ws.New(d.sup, ws.Options{Sampler: sampler, KeyAuth: rest.KeyAuthWith(sec.az), OriginPatterns: sec.origins})
	}
	dashboard := web.New(web.Options{Version: Version})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dashboard.Match(r) { // /ui/…, and GET / from browsers (Accept prefers HTML)
			dashboard.ServeHTTP(w, r)
			return
		}
		if liveAPI.Match(r.URL.Path) { // /channel/websocket, /<pid>/channel[/<stream>]
			sec.live(r, liveAPI, liveKeyed).ServeHTTP(w, r)
			return
		}
		if legacyAPI.Match(r.URL.Path) { // gaffer 0.4.4's /processes, /watch, /streams, …
			legacyAPI.ServeHTTP(w, r)
			return
		}
		restAPI.ServeHTTP(w, r)
	}))

	if inCluster { // before loading: a name already in use stops gafferd with nothing started
		clusterOpts.Origin, clusterOpts.Version, clusterOpts.Logger = clusterOrigin(cfg, listeners, sec.tls != nil), Version, logger
		node, err := cluster.Start(ctx, d.sup, sec.az.Middleware(mux), clusterOpts) // other nodes: keys as on TCP
		if err != nil {
			return err
		}
		defer node.Close() // after the engine's last events
		clusterRef.Set(node)
		if o.lookupd != "" { // gaffer_lookupd's API over the registry, on its own listener
			ln, err := lookupd.Listen(o.lookupd, o.insecure)
			if err != nil {
				return err
			}
			lsrv := &http.Server{Handler: lookupd.New(node, lookupd.Options{Logger: logger}), ReadHeaderTimeout: 10 * time.Second}
			go lsrv.Serve(ln)
			defer lsrv.Close()
			logger.Info("lookupd API listening", "addr", ln.Addr().String())
		}
	}
	if err := d.sup.LoadAll(ctx, groupSpecs(cfg, cfg.Jobs)); err != nil {
		logger.Error("loading jobs", "err", err)
	}
	d.markLoaded(cfg.Jobs)
	plug.start(ctx, d, sec, unixSocket(listeners))
	defer plug.stop(sec) // revoke their keys once their processes are gone
	// Serve once the config's jobs are loaded: a client connecting earlier
	// waits in the listen backlog rather than seeing an empty daemon.
	var wg sync.WaitGroup
	var servers []*http.Server
	for _, l := range listeners {
		// One server per listener: each may require its own credentials.
		srv := &http.Server{Handler: withBasicAuth(l.auth, sec.wrap(l, met.Instrument(mux))), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		sec.server(srv, l)
		servers = append(servers, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(sec.listener(l)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("serve", "addr", l.Addr(), "err", err)
			}
		}()
		logger.Info("listening", "addr", l.Addr().Network()+":"+l.Addr().String())
	}
	if metricsLn != nil {
		servers = append(servers, serveMetrics(metricsLn, met, logger, &wg))
	}
	logger.Info("gafferd started", "pid", os.Getpid(), "jobs", len(cfg.Jobs), "config", strings.Join(cfg.Files, ","))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(sigs)
loop:
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				d.reload(ctx)
			case syscall.SIGUSR2:
				if d.mainLog != nil {
					if err := d.mainLog.Reopen(); err != nil {
						logger.Error("reopening the log", "err", err)
					}
				}
			default:
				logger.Info("shutting down: stopping every process", "signal", sig)
				d.stop(false)
			}
		case <-ctx.Done():
			break loop
		case err := <-runErr:
			return err
		}
	}
	// Keep answering the API while processes stop; the engine refuses new
	// work during shutdown.
	<-d.sup.Done()
	// The engine has published its last events: give webhooks 2 s to
	// deliver what is queued, then abort.
	hooksSub.Close()
	mailSub.Close() // the mailer sends what is queued at once: 5 s for it
	mailDeadline := time.After(5 * time.Second)
	select {
	case <-hooksDone:
	case <-time.After(2 * time.Second):
		hooksAbort()
		<-hooksDone
	}
	select {
	case <-mailDone:
	case <-mailDeadline:
		mailAbort()
		<-mailDone
	}
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	for _, srv := range servers {
		srv.Shutdown(shutdownCtx)
	}
	wg.Wait()
	if d.restart.Load() {
		logger.Info("restarting gafferd")
		return restartSelf()
	}
	logger.Info("gafferd stopped")
	return nil
}

// stop begins a shutdown, or a restart: stop every process, then exec
// gafferd again with the same arguments (supervisorctl reload).
func (d *daemon) stop(restart bool) {
	if ev := d.ev.Load(); ev != nil {
		ev.SupervisorState(false)
	}
	d.mail.ShuttingDown() // the exits to come are not crashes
	if restart {
		d.restart.Store(true)
		d.state.Store(0)
	} else {
		d.state.Store(-1)
	}
	d.cancel()
}

// restartSelf replaces this process with a fresh gafferd: same pid, new
// config, as supervisord's restart keeps its pid.
func restartSelf() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, os.Environ())
}

func (d *daemon) markLoaded(jobs []config.Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, j := range jobs {
		d.loaded[j.Session] = true
	}
}

// reload is SIGHUP: build and validate the whole new config first; a bad
// file changes nothing. Then only the difference is applied.
func (d *daemon) reload(ctx context.Context) {
	if d.o.config == "" {
		d.logger.Warn("SIGHUP: no config file to reload")
		return
	}
	cfg, err := config.Load(d.o.config)
	if err != nil {
		d.logger.Error("SIGHUP: config not reloaded, nothing changed", "err", err)
		return
	}
	d.setPools(cfg)
	// Before Apply, so that added hooks hear about the jobs it starts.
	if err := d.hooks.Set(cfg.Webhooks); err != nil {
		d.logger.Error("SIGHUP: webhooks not changed", "err", err)
	}
	if err := d.mail.Set(cfg.Email); err != nil {
		d.logger.Error("SIGHUP: email settings not changed", "err", err)
	}
	added, changed, removed, err := d.sup.Apply(ctx, groupSpecs(cfg, cfg.Jobs))
	if err != nil {
		d.mu.Lock()
		d.hooks.Set(d.cfg.Webhooks) // back to the running config's
		d.mail.Set(d.cfg.Email)
		d.mu.Unlock()
		d.logger.Error("SIGHUP: config not applied, nothing changed", "err", err)
		return
	}
	if ev := d.ev.Load(); ev != nil {
		d.mu.Lock()
		oldGroups, _ := groupsOf(d.cfg)
		d.mu.Unlock()
		newGroups, order := groupsOf(cfg)
		for g := range oldGroups {
			if _, ok := newGroups[g]; !ok || !sameJobs(oldGroups[g], newGroups[g]) {
				ev.GroupRemoved(g)
			}
		}
		for _, g := range order {
			if old, ok := oldGroups[g]; !ok || !sameJobs(old, newGroups[g]) {
				ev.GroupAdded(g)
			}
		}
	}
	d.mu.Lock()
	d.cfg, d.pending = cfg, nil
	d.loaded = map[string]bool{}
	d.mu.Unlock()
	d.markLoaded(cfg.Jobs)
	d.logger.Info("SIGHUP: config reloaded", "added", added, "changed", changed, "removed", removed)
}

// groupsOf indexes a config's jobs by group (session), in order.
func groupsOf(cfg *config.Config) (map[string][]config.Job, []string) {
	m := map[string][]config.Job{}
	var order []string
	for _, j := range cfg.Jobs {
		if _, ok := m[j.Session]; !ok {
			order = append(order, j.Session)
		}
		m[j.Session] = append(m[j.Session], j)
	}
	return m, order
}

// reread is supervisor's reloadConfig: read the config again and say which
// groups were added, changed or removed, without applying anything.
func (d *daemon) reread() (added, changed, removed []string, err error) {
	if d.o.config == "" {
		return nil, nil, nil, fmt.Errorf("%w: no config file", supervisorrpc.ErrCantReread)
	}
	cfg, err := config.Load(d.o.config)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", supervisorrpc.ErrCantReread, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = cfg
	newGroups, order := groupsOf(cfg)
	oldGroups, _ := groupsOf(d.cfg)
	for _, g := range order {
		switch {
		case !d.loaded[g]:
			added = append(added, g)
		case !sameJobs(oldGroups[g], newGroups[g]):
			changed = append(changed, g)
		}
	}
	for g := range d.loaded {
		if _, ok := newGroups[g]; !ok {
			removed = append(removed, g)
		}
	}
	slices.Sort(removed)
	return added, changed, removed, nil
}

func sameJobs(a, b []config.Job) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Session != b[i].Session || !a[i].Config.Equal(b[i].Config) {
			return false
		}
	}
	return true
}

// addGroup loads a group from the config last read (supervisor's
// addProcessGroup), starting its autostart programs.
func (d *daemon) addGroup(ctx context.Context, name string) error {
	d.mu.Lock()
	src := d.pending
	if src == nil {
		src = d.cfg
	}
	if d.loaded[name] {
		d.mu.Unlock()
		return fmt.Errorf("group %q: %w", name, supervisorrpc.ErrAlreadyAdded)
	}
	groups, _ := groupsOf(src)
	jobs, ok := groups[name]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("group %q: %w", name, supervisor.ErrNotFound)
	}
	d.mu.Lock()
	merged := mergeGroup(d.cfg, src, name)
	d.mu.Unlock()
	d.setPools(merged)
	if err := d.sup.LoadAll(ctx, groupSpecs(src, jobs)); err != nil {
		return err
	}
	d.mu.Lock()
	d.loaded[name] = true
	d.cfg = merged // the running config now holds this group as read
	d.mu.Unlock()
	if ev := d.ev.Load(); ev != nil {
		ev.GroupAdded(name)
	}
	return nil
}

// removeGroup unloads a group whose processes are all stopped.
func (d *daemon) removeGroup(ctx context.Context, name string) error {
	d.mu.Lock()
	loaded := d.loaded[name]
	d.mu.Unlock()
	if !loaded {
		return fmt.Errorf("group %q: %w", name, supervisor.ErrNotFound)
	}
	progs, err := d.sup.Programs(ctx)
	if err != nil {
		return err
	}
	for _, p := range progs {
		if p.Group == name && (p.State.Running() || p.State == supervisor.StateStopping) {
			return fmt.Errorf("group %q: %w", name, supervisorrpc.ErrStillRunning)
		}
	}
	jobs, err := d.sup.Jobs(ctx, name)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := d.sup.Unload(ctx, j); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
			return err
		}
	}
	d.mu.Lock()
	delete(d.loaded, name)
	d.cfg = mergeGroup(d.cfg, &config.Config{}, name)
	cfg := d.cfg
	d.mu.Unlock()
	d.setPools(cfg)
	if ev := d.ev.Load(); ev != nil {
		ev.GroupRemoved(name)
	}
	return nil
}

// mergeGroup returns cfg with group name's jobs replaced by those of src.
func mergeGroup(cfg, src *config.Config, name string) *config.Config {
	out := *cfg
	out.Jobs = slices.DeleteFunc(slices.Clone(cfg.Jobs), func(j config.Job) bool { return j.Session == name })
	for _, j := range src.Jobs {
		if j.Session == name {
			out.Jobs = append(out.Jobs, j)
		}
	}
	return &out
}

// setPools gives the event listener pools of cfg to the manager, starting
// it when a config first has one.
func (d *daemon) setPools(cfg *config.Config) {
	var pools []eventlistener.PoolConfig
	if sc := cfg.Supervisord; sc != nil {
		loaded := map[string]bool{}
		for _, j := range cfg.Jobs {
			loaded[j.FullName()] = true
		}
		for _, lp := range sc.Listeners {
			var procs []string
			for _, p := range lp.Processes {
				if loaded[p] {
					procs = append(procs, p)
				}
			}
			if len(procs) > 0 {
				pools = append(pools, eventlistener.PoolConfig{Name: lp.Name, Events: lp.Events, BufferSize: lp.BufferSize, Processes: procs})
			}
		}
	}
	d.evMu.Lock()
	defer d.evMu.Unlock()
	ev := d.ev.Load()
	if ev == nil {
		if len(pools) == 0 {
			return // no pool: no manager, and no copy of every output chunk
		}
		ev = eventlistener.New(d.sup, pools, eventlistener.Options{Identifier: d.identifier, Logger: d.logger})
		d.ev.Store(ev)
		go ev.Run(d.evCtx)
		return
	}
	ev.SetPools(pools)
}

func (d *daemon) groupPriority(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sc := d.cfg.Supervisord; sc != nil {
		for _, g := range sc.Groups {
			if g.Name == name {
				return g.Priority
			}
		}
	}
	return 999
}

// listener is a net.Listener with the Basic credentials it requires.
type listener struct {
	net.Listener
	auth *config.HTTPServer // nil or without Username: no authentication
}

// listenAll opens the listeners of a config: a supervisord.conf's
// [unix_http_server] and [inet_http_server] when it has them, else gaffer's.
func listenAll(cfg *config.Config, insecure bool) ([]listener, error) {
	sc := cfg.Supervisord
	if sc == nil || (sc.Unix == nil && sc.Inet == nil) {
		ls, err := listen(cfg.Global, insecure)
		out := make([]listener, 0, len(ls))
		for _, l := range ls {
			out = append(out, listener{Listener: l})
		}
		return out, err
	}
	var out []listener
	fail := func(err error) ([]listener, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	if s := sc.Inet; s != nil {
		addr := s.Port
		if strings.HasPrefix(addr, "*:") {
			addr = addr[1:]
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fail(fmt.Errorf("[inet_http_server] port %q: %w", s.Port, err))
		}
		if !isLoopback(host) && s.Username == "" && !insecure {
			return fail(fmt.Errorf("[inet_http_server] port %q: refusing a non-loopback address without username and password (anyone who reaches it could run commands); set them, use 127.0.0.1, or pass --require-key or --insecure-remote", s.Port))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("[inet_http_server] port %q: %w", s.Port, err))
		}
		out = append(out, listener{l, s})
	}
	if s := sc.Unix; s != nil {
		l, err := listenUnix(s.File)
		if err != nil {
			return fail(err)
		}
		// supervisor's chmod applies to the socket; the directory we create
		// stays private unless it already existed.
		if s.Chmod != 0 {
			if err := os.Chmod(s.File, s.Chmod); err != nil {
				l.Close()
				return fail(fmt.Errorf("[unix_http_server] chmod: %w", err))
			}
		}
		out = append(out, listener{l, s})
	}
	return out, nil
}

// withBasicAuth requires the listener's credentials, if any, compared in
// constant time; supervisor's {SHA} passwords are hex SHA-1 digests.
func withBasicAuth(s *config.HTTPServer, next http.Handler) http.Handler {
	if s == nil || s.Username == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || !checkPassword(s, user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="default"`)
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func checkPassword(s *config.HTTPServer, user, pass string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.Username)) == 1
	want := s.Password
	if hexDigest, ok := strings.CutPrefix(want, "{SHA}"); ok {
		sum := sha1.Sum([]byte(pass))
		return userOK && subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(hexDigest))) == 1
	}
	return userOK && subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
}

// clusterOrigin is the API URL this node announces to the cluster:
// [gaffer] broadcast_address, else its first TCP listener.
func clusterOrigin(cfg *config.Config, listeners []listener, tls bool) string {
	if cfg.Global.BroadcastAddress != "" {
		return cfg.Global.BroadcastAddress
	}
	for _, l := range listeners {
		if a, ok := l.Addr().(*net.TCPAddr); ok {
			if tls {
				return "https://" + a.String()
			}
			return "http://" + a.String()
		}
	}
	return ""
}
