// Command gafferd is gaffer's daemon: it loads a config, supervises its jobs
// and serves the REST API on loopback TCP and a unix socket.
//
//	flags → config.Load → supervisor.New → serve APIs → wait for signals
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/logs"
)

// Version is gafferd's version, reported by /version and --version.
var Version = "0.6.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	config      string
	test        bool
	daemon      bool
	nodaemon    bool
	pidfile     string
	bind        string
	unix        string
	errorLog    string
	logLevel    string
	verbose     bool
	veryVerbose bool
	version     bool
	insecure    bool
	detach      bool

	requireKey   bool   // --require-key: keys on whatever the file says
	createAdmin  string // --create-admin-user NAME: create an admin user and exit
	passwordFile string // its password (- = stdin); else $GAFFERD_ADMIN_PASSWORD
	listAdmins   bool   // --list-admins: print the admin users and exit
	pluginsDir   string // -p, --plugins-dir: the plugins directory

	clusterURL      string // --cluster URL: join this NATS server (over [cluster] url)
	clusterEmbedded bool   // --cluster-embedded: run an embedded NATS server
	lookupd         string // --lookupd ADDR: serve gaffer_lookupd's API on ADDR (cluster only)
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("gafferd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gafferd [flags] [CONFIG]\n\nCONFIG is a gaffer INI file, or a directory holding gafferd.ini.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "c", "", "config file or directory (also $GAFFERD_CONFIG)")
	fs.StringVar(&o.config, "config", "", "config file or directory")
	fs.BoolVar(&o.test, "t", false, "check the config, print every problem, exit 0 when valid, 1 otherwise")
	fs.BoolVar(&o.daemon, "daemon", false, "detach into the background")
	fs.BoolVar(&o.nodaemon, "n", false, "stay in the foreground (the default; for supervisord compatibility)")
	fs.BoolVar(&o.detach, "d", false, "detach when a supervisord.conf says nodaemon=false")
	fs.StringVar(&o.pidfile, "pidfile", "", "write the daemon's pid to this file")
	fs.StringVar(&o.bind, "bind", "", "listen addresses, comma-separated: host:port or unix:/path (default 127.0.0.1:5000 and a unix socket)")
	fs.StringVar(&o.unix, "unix", "", "unix socket path (default "+client.DefaultSocketPath()+")")
	fs.StringVar(&o.errorLog, "error-log", "", "log file (default stderr)")
	fs.StringVar(&o.logLevel, "log-level", "", "critical, error, warning, info or debug")
	fs.BoolVar(&o.verbose, "v", false, "print lifecycle events on the console")
	fs.BoolVar(&o.veryVerbose, "vv", false, "print every event and process output on the console")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.insecure, "insecure-remote", false, "allow listening on a non-loopback address without authentication")
	fs.BoolVar(&o.requireKey, "require-key", false, "require an API key on TCP listeners (the default with a gaffer config file)")
	fs.StringVar(&o.createAdmin, "create-admin-user", "", "create an admin user `NAME` with a new admin key, print the key and exit")
	fs.StringVar(&o.passwordFile, "password-file", "", "file holding the new admin's password (- = standard input; default $GAFFERD_ADMIN_PASSWORD)")
	fs.BoolVar(&o.listAdmins, "list-admins", false, "print the admin users and their keys, and exit")
	fs.StringVar(&o.pluginsDir, "p", "", "plugins directory (default: [gaffer] plugins_dir, $GAFFER_PLUGIN_DIR, or <config dir>/plugins when it exists)")
	fs.StringVar(&o.pluginsDir, "plugins-dir", "", "plugins directory")
	fs.StringVar(&o.clusterURL, "cluster", "", "join the cluster through this NATS server `URL` (nats://host:4222; over [cluster] url)")
	fs.BoolVar(&o.clusterEmbedded, "cluster-embedded", false, "run an embedded NATS server ([cluster] listen, default 127.0.0.1:4222) and join the cluster through it")
	fs.StringVar(&o.lookupd, "lookupd", "", "in a cluster, serve gaffer_lookupd's query API and registry stream on `ADDR` (host:port or port; default host 127.0.0.1)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 1 {
		return nil, fmt.Errorf("too many arguments: %q", fs.Args())
	}
	if fs.NArg() == 1 {
		if o.config != "" {
			return nil, fmt.Errorf("config given twice: -c %s and %s", o.config, fs.Arg(0))
		}
		o.config = fs.Arg(0)
	}
	if o.config == "" {
		o.config = os.Getenv("GAFFERD_CONFIG")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "gafferd:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "gafferd", Version)
		return 0
	}
	if o.test {
		return testConfig(o.config, stdout, stderr)
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		fmt.Fprintf(stderr, "gafferd: invalid config:\n%v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "gafferd: warning:", w)
	}
	applyFlags(o, cfg)
	if o.createAdmin != "" || o.listAdmins {
		return adminCommand(o, cfg, os.Stdin, stdout, stderr)
	}
	if sc := cfg.Supervisord; sc != nil && o.detach && !sc.Nodaemon && !o.nodaemon {
		cfg.Global.Daemonize = true
	}
	if cfg.Global.Daemonize && os.Getenv(daemonEnv) == "" {
		if err := daemonize(cfg.Global.ErrorLog); err != nil {
			fmt.Fprintln(stderr, "gafferd:", err)
			return 1
		}
		return 0
	}
	os.Unsetenv(daemonEnv) // children must not inherit the marker
	var mainLog *logs.Writer
	if sc := cfg.Supervisord; sc != nil {
		if cfg.Global.LogLevel == "" {
			cfg.Global.LogLevel = sc.LogLevel
		}
		if sc.Logfile != "" && sc.Logfile != "syslog" && cfg.Global.ErrorLog == "" {
			w, err := logs.Open(sc.Logfile, sc.LogfileMaxBytes, sc.LogfileBackups)
			if err != nil {
				fmt.Fprintln(stderr, "gafferd: [supervisord] logfile:", err)
				return 1
			}
			defer w.Close()
			mainLog = w
		}
	}
	var logOut io.Writer = stderr
	if mainLog != nil {
		logOut = mainLog
		if !cfg.Supervisord.Silent && !cfg.Global.Daemonize {
			logOut = io.MultiWriter(mainLog, stderr)
		}
	}
	logger, closeLog, err := newLogger(cfg.Global, logOut)
	if err != nil {
		fmt.Fprintln(stderr, "gafferd:", err)
		return 1
	}
	defer closeLog()
	if err := serve(o, cfg, logger, mainLog, stderr); err != nil {
		logger.Error("gafferd stopped", "err", err)
		fmt.Fprintln(stderr, "gafferd:", err)
		return 1
	}
	return 0
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return &config.Config{}, nil
	}
	return config.Load(path)
}

// testConfig is gafferd -t: every problem on its own line, status for
// scripts. Any format Load reads; after parsing, config.Check adds the
// dependency graph, dependencies on jobs not started at boot and commands
// not found.
func testConfig(path string, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "gafferd: -t needs a config (-c FILE)")
		return 2
	}
	cfg, err := config.LoadUnchecked(path)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if problems := config.Check(cfg); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: config OK (%d jobs)\n", path, len(cfg.Jobs))
	return 0
}

// applyFlags lets the command line win over the file.
func applyFlags(o *options, cfg *config.Config) {
	g := &cfg.Global
	if o.bind != "" {
		g.Bind, g.Unix = nil, ""
		for _, b := range strings.Split(o.bind, ",") {
			b = strings.TrimSpace(b)
			if p, ok := strings.CutPrefix(b, "unix:"); ok {
				g.Unix = strings.TrimPrefix(p, "//")
			} else if b != "" {
				g.Bind = append(g.Bind, b)
			}
		}
		if g.Unix == "" {
			g.Unix = "-" // --bind without a unix entry: no unix socket
		}
	}
	if o.unix != "" {
		g.Unix = o.unix
	}
	if len(g.Bind) == 0 && o.bind == "" {
		g.Bind = []string{"127.0.0.1:5000"}
	}
	if g.Unix == "" {
		g.Unix = client.DefaultSocketPath()
	}
	if o.daemon {
		g.Daemonize = true
	}
	if o.nodaemon {
		g.Daemonize = false
	}
	if o.pidfile != "" {
		g.Pidfile = o.pidfile
	}
	if o.errorLog != "" {
		g.ErrorLog = o.errorLog
	}
	if o.logLevel != "" {
		g.LogLevel = o.logLevel
	}
}

func newLogger(g config.Global, stderr io.Writer) (*slog.Logger, func(), error) {
	var w io.Writer = stderr
	closer := func() {}
	if g.ErrorLog != "" && g.ErrorLog != "-" {
		f, err := os.OpenFile(g.ErrorLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, err
		}
		w, closer = f, func() { f.Close() }
	}
	level := slog.LevelInfo
	switch strings.ToLower(g.LogLevel) {
	case "", "info":
	case "debug", "trace", "blather":
		level = slog.LevelDebug
	case "warning", "warn":
		level = slog.LevelWarn
	case "error", "critical":
		level = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("log level %q: want critical, error, warning, info or debug", g.LogLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closer, nil
}

// listen opens every listener before anything starts, so a taken port fails
// startup cleanly. TCP addresses must be loopback unless explicitly allowed:
// the API can start arbitrary commands and has no authentication yet.
func listen(g config.Global, insecure bool) ([]net.Listener, error) {
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	for _, addr := range g.Bind {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fail(fmt.Errorf("bind %q: %w", addr, err))
		}
		if !insecure && !isLoopback(host) {
			return fail(fmt.Errorf("bind %q: refusing a non-loopback address without authentication (anyone who reaches it could run commands); set [gaffer] require_key = true (and create a user with gafferd --create-admin-user NAME), use 127.0.0.1 or a unix socket, or pass --insecure-remote", addr))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("bind %q: %w", addr, err))
		}
		ls = append(ls, l)
	}
	if g.Unix != "" && g.Unix != "-" {
		l, err := listenUnix(g.Unix)
		if err != nil {
			return fail(err)
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return nil, errors.New("no listen address: give --bind host:port or unix:/path")
	}
	return ls, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenUnix creates the socket in a 0700 directory with mode 0600. A stale
// socket is replaced; one a live gafferd answers on is an error.
func listenUnix(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("unix socket %s: %w", path, err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 && dir != os.TempDir() {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("unix socket dir %s: %w", dir, err)
		}
	}
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("unix socket %s: another gafferd is listening on it", path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("unix socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func writePidfile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			if syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("pidfile %s: Already running on PID %d", path, pid)
			}
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pidfile: %w", err)
	}
	return os.Rename(tmp, path)
}

func removePidfile(path string) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}

const daemonEnv = "GAFFERD_DAEMONIZED"

// daemonize re-executes gafferd in a new session with no terminal: Go cannot
// fork safely, so the double fork becomes a re-exec; the parent returns.
func daemonize(errorLog string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	out := devnull
	if errorLog != "" && errorLog != "-" {
		if out, err = os.OpenFile(errorLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err != nil {
			return err
		}
		defer out.Close()
	}
	p, err := os.StartProcess(exe, os.Args, &os.ProcAttr{
		Env:   append(os.Environ(), daemonEnv+"=1"),
		Files: []*os.File{devnull, out, out},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	return p.Release()
}
