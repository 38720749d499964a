package config

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
)

// Supervisord is everything a supervisord.conf says besides its processes
// (supervisor-semantics.md §5.3), with supervisor's defaults filled in.
// Relative paths are made absolute as supervisord resolves them: its own
// files (logfile, pidfile, directory, the unix socket) against the working
// directory at load time; the files it opens later for programs
// (childlogdir, program logs and directories) against Directory when set,
// since supervisord has chdir'ed there by then. "~" is expanded.
type Supervisord struct {
	Logfile         string // "syslog" = the syslog service; default $CWD/supervisord.log
	LogfileMaxBytes int64  // rotate beyond this size; 0 = never
	LogfileBackups  int
	LogLevel        string // critical, error, warn, info, debug, trace, blather
	Pidfile         string // default $CWD/supervisord.pid
	Umask           int    // applied when daemonizing; default 022
	Nodaemon        bool
	Silent          bool // with Nodaemon: no log on stdout
	Minfds          int  // default 1024
	Minprocs        int  // default 200
	Nocleanup       bool // keep AUTO child logs at start
	Childlogdir     string
	User            string // switch to this user at start; "" = stay
	Directory       string // chdir here when daemonizing; "" = stay
	StripANSI       bool
	Environment     map[string]string // [supervisord] environment; already merged into every job's Env
	Identifier      string            // default "supervisor"

	Unix *HTTPServer // [unix_http_server]; nil = none
	Inet *HTTPServer // [inet_http_server]; nil = none
	Ctl  *Ctl        // [supervisorctl]; parsed for completeness, unused by the daemon

	// RPCInterfaces maps each [rpcinterface:NAME] to its factory: one of
	// MainRPCInterfaceFactory, TwiddlerRPCInterfaceFactory and
	// CacheRPCInterfaceFactory (any other is an error at load).
	RPCInterfaces map[string]string

	// Groups are supervisor's process groups, in start order (ascending
	// priority, then name): every [group:x], the homogeneous group of every
	// program in none, and every event listener pool.
	Groups []Group
	// Listeners are the [eventlistener:x] pools, in start order. Their
	// processes are jobs like the others; stdin/stdout are the protocol.
	Listeners []ListenerPool
}

// HTTPServer is [unix_http_server] (File, Chmod, Chown) or
// [inet_http_server] (Port), with optional Basic authentication.
type HTTPServer struct {
	File     string      `json:",omitempty"` // unix socket path
	Chmod    fs.FileMode `json:",omitempty"` // unix socket mode; default 0700
	Chown    string      `json:",omitempty"` // "user" or "user:group"; "" = the starting user
	Port     string      `json:",omitempty"` // "host:port"; an empty host = all interfaces
	Username string      `json:",omitempty"` // both or neither of Username and Password
	Password string      `json:",omitempty"` // plain, or "{SHA}" + hex SHA-1 of the password
}

// URL is the server's address as supervisor exports it to children in
// SUPERVISOR_SERVER_URL: unix:///path or http://host:port (localhost for
// all interfaces).
func (s *HTTPServer) URL() string {
	if s.File != "" {
		return "unix://" + s.File
	}
	host, port, _ := strings.Cut(s.Port, ":")
	if host == "" {
		host = "localhost"
	}
	return "http://" + host + ":" + port
}

// Ctl is [supervisorctl].
type Ctl struct {
	ServerURL   string // default http://localhost:9001
	Username    string
	Password    string
	Prompt      string // default "supervisor"
	HistoryFile string
}

// Group is one supervisor process group.
type Group struct {
	Name     string
	Priority int
	// Programs are the [program:x] (or [eventlistener:x]) names of the
	// group, as listed in [group:x] programs=, or the one program.
	Programs []string
	// Processes are the full job names (session.job) of the group's
	// processes in start order (process priority, then name).
	Processes []string
}

// ListenerPool is one [eventlistener:x].
type ListenerPool struct {
	Name          string
	Events        []string // upper-case event type names as written (abstract ones too), without repeats
	BufferSize    int      // default 10
	Processes     []string // full job names, in start order
	ResultHandler string   // default DefaultResultHandler
}

const (
	// MainRPCInterfaceFactory is supervisor's own XML-RPC interface.
	MainRPCInterfaceFactory = "supervisor.rpcinterface:make_main_rpcinterface"
	// TwiddlerRPCInterfaceFactory is supervisor_twiddler's (namespace
	// twiddler.*), served by gaffer's own implementation.
	TwiddlerRPCInterfaceFactory = "supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface"
	// CacheRPCInterfaceFactory is supervisor_cache's (namespace cache.*),
	// served by gaffer's own implementation.
	CacheRPCInterfaceFactory = "supervisor_cache.rpcinterface:make_cache_rpcinterface"
	// DefaultResultHandler is supervisor's listener result handler.
	DefaultResultHandler = "supervisor.dispatchers:default_handler"
)

// eventTypes are supervisor's event type names (supervisor-semantics.md
// §3.1), abstract ones included, each with its parent ("" for EVENT).
var eventTypes = map[string]string{
	"EVENT": "", "PROCESS_STATE": "EVENT",
	"PROCESS_STATE_STARTING": "PROCESS_STATE", "PROCESS_STATE_RUNNING": "PROCESS_STATE",
	"PROCESS_STATE_BACKOFF": "PROCESS_STATE", "PROCESS_STATE_STOPPING": "PROCESS_STATE",
	"PROCESS_STATE_EXITED": "PROCESS_STATE", "PROCESS_STATE_STOPPED": "PROCESS_STATE",
	"PROCESS_STATE_FATAL": "PROCESS_STATE", "PROCESS_STATE_UNKNOWN": "PROCESS_STATE",
	"PROCESS_LOG": "EVENT", "PROCESS_LOG_STDOUT": "PROCESS_LOG", "PROCESS_LOG_STDERR": "PROCESS_LOG",
	"PROCESS_COMMUNICATION": "EVENT", "PROCESS_COMMUNICATION_STDOUT": "PROCESS_COMMUNICATION",
	"PROCESS_COMMUNICATION_STDERR": "PROCESS_COMMUNICATION",
	"REMOTE_COMMUNICATION":         "EVENT",
	"SUPERVISOR_STATE_CHANGE":      "EVENT", "SUPERVISOR_STATE_CHANGE_RUNNING": "SUPERVISOR_STATE_CHANGE",
	"SUPERVISOR_STATE_CHANGE_STOPPING": "SUPERVISOR_STATE_CHANGE",
	"TICK":                             "EVENT", "TICK_5": "TICK", "TICK_60": "TICK", "TICK_3600": "TICK",
	"PROCESS_GROUP": "EVENT", "PROCESS_GROUP_ADDED": "PROCESS_GROUP", "PROCESS_GROUP_REMOVED": "PROCESS_GROUP",
}

// ParseSupervisord reads data as a supervisord.conf named name (its
// directory is %(here)s and the base of [include] globs), with supervisor's
// rules (see doc.go). Every problem is reported, joined.
func ParseSupervisord(name string, data []byte) (*Config, error) {
	return checked(osHost().parseSupervisord(name, data))
}

// LoadSupervisord reads the supervisord.conf at path.
func LoadSupervisord(path string) (*Config, error) {
	h := osHost()
	data, err := h.fs.readFile(path)
	if err != nil {
		return nil, err
	}
	return checked(h.parseSupervisord(path, data))
}

// supervisordMarkers are the sections that make a file a supervisord.conf.
var supervisordMarkers = []string{"supervisord", "unix_http_server", "inet_http_server"}
var supervisordMarkerPrefixes = []string{"program:", "eventlistener:", "group:", "fcgi-program:", "rpcinterface:"}

// IsSupervisord reports whether data has a section only a supervisord.conf
// has: [supervisord], [unix_http_server], [inet_http_server] or a
// [program:…], [eventlistener:…], [group:…], [fcgi-program:…] or
// [rpcinterface:…] section. Such a file is never gaffer's.
func IsSupervisord(data []byte) bool {
	d := newDocumentDialect(supervisordDialect)
	d.read("", data)
	for _, s := range d.sections {
		if isSupervisordSection(s.name) {
			return true
		}
	}
	return false
}

func isSupervisordSection(name string) bool {
	if slices.Contains(supervisordMarkers, name) {
		return true
	}
	for _, p := range supervisordMarkerPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// host is what a supervisord.conf refers to besides its files: the
// environment (%(ENV_X)s), the host name, the working directory (relative
// paths), the temp directory (childlogdir's default) and home directories
// (~). Tests and fuzzing use a fixed one.
type host struct {
	fs       fileSystem
	env      map[string]string
	hostname string
	wd       string // "" = unknown: relative paths stay relative
	tempDir  string
	home     func(user string) (string, bool) // user "" = the current user
}

func osHost() host {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	hostname, _ := os.Hostname()
	wd, _ := os.Getwd()
	return host{fs: osFS, env: env, hostname: hostname, wd: wd, tempDir: os.TempDir(), home: func(name string) (string, bool) {
		// Python's os.path.expanduser: $HOME for the current user.
		if h, ok := env["HOME"]; ok && name == "" {
			return h, true
		}
		var u *user.User
		var err error
		if name == "" {
			u, err = user.Current()
		} else {
			u, err = user.Lookup(name)
		}
		if err != nil {
			return "", false
		}
		return u.HomeDir, true
	}}
}

// expandUser is os.path.expanduser.
func (h host) expandUser(p string) string {
	if !strings.HasPrefix(p, "~") || h.home == nil {
		return p
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	home, ok := h.home(p[1:i])
	if !ok {
		return p
	}
	if r := strings.TrimRight(home, "/") + p[i:]; r != "" {
		return r
	}
	return "/"
}

// absPath is supervisor's normalize_path with base as the working directory.
func (h host) absPath(base, p string) string {
	p = h.expandUser(p)
	if filepath.IsAbs(p) || base == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}
