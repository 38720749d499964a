package supervisor

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Socket is a listening socket the supervisor owns on behalf of a job
// (JobConfig.Sockets). The supervisor creates it once, at the job's first
// spawn, and keeps it open while processes come and go: a restarted or
// crashed worker never makes a client's connect fail, because the kernel
// queues connections on the socket in the meantime. It is closed when no
// loaded job's config and no live process uses it any more (unload, or a
// config change that drops it, once the old processes are gone).
//
// Sockets are shared by network+address: every job naming the same one
// (the processes of a FastCGI pool) gets the same listening socket. The
// socket is opened with SO_REUSEADDR and close-on-exec in the supervisor
// and passed to each child at spawn:
//
//   - a Stdin socket is the child's fd 0, as supervisord's [fcgi-program]
//     does for FastCGI workers;
//   - the others are fds 3, 4, … in order, with LISTEN_FDS, LISTEN_PID and
//     LISTEN_FDNAMES set as systemd's socket activation does
//     (sd_listen_fds). Custom streams, if any, follow them.
type Socket struct {
	Name    string      // LISTEN_FDNAMES entry; "unknown" when empty, as systemd names it
	Network string      // tcp, tcp4, tcp6 or unix
	Address string      // host:port, or the absolute path of a unix socket file
	Backlog int         // listen backlog; 0 = SOMAXCONN
	Owner   string      // unix: user or user:group of the socket file; "" = the supervisor's
	Mode    os.FileMode // unix: permission bits of the socket file; 0 = as created (umask)
	Stdin   bool        // passed as fd 0 (FastCGI) instead of at fd 3+
}

// maxBacklog is the largest listen backlog accepted (supervisord's limit).
const maxBacklog = 65535

// ParseSocketURL reads a socket address in supervisord's URL form:
// tcp://host:port (also tcp4:// and tcp6://, host may be empty or * for
// every interface) or unix:///absolute/path.
func ParseSocketURL(name, raw string) (Socket, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok {
		return Socket{}, fmt.Errorf("socket %q: want tcp://HOST:PORT or unix:///PATH: %w", raw, ErrBadValue)
	}
	sk := Socket{Name: name, Network: strings.ToLower(scheme), Address: rest}
	if sk.Network != "unix" && strings.HasPrefix(sk.Address, "*:") {
		sk.Address = sk.Address[1:]
	}
	if err := sk.validate(); err != nil {
		return Socket{}, err
	}
	return sk, nil
}

// ParseSockets reads the INI form of a job's sockets: a comma-separated
// list of NAME=URL or URL items, e.g.
// "web=tcp://127.0.0.1:8080, admin=unix:///run/app.sock".
func ParseSockets(list string) ([]Socket, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []Socket
	for _, item := range strings.Split(list, ",") {
		sk, err := parseSocketItem(item)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}

func parseSocketItem(item string) (Socket, error) {
	item = strings.TrimSpace(item)
	name, url, ok := strings.Cut(item, "=")
	if !ok || strings.Contains(name, "://") {
		name, url = "", item
	}
	return ParseSocketURL(strings.TrimSpace(name), url)
}

// URL is the socket's address in the form ParseSocketURL reads.
func (sk Socket) URL() string { return sk.Network + "://" + sk.Address }

func (sk Socket) key() string { return sk.Network + "\x00" + sk.Address }

func (sk Socket) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("socket %q (%s): %s: %w", sk.Name, sk.URL(), fmt.Sprintf(format, a...), ErrBadValue)
	}
	if len(sk.Name) > 255 || strings.ContainsAny(sk.Name, ":=, \t\r\n\x00") {
		return bad("name: at most 255 characters, no ':', '=', ',' or spaces")
	}
	switch sk.Network {
	case "unix":
		if !strings.HasPrefix(sk.Address, "/") || strings.ContainsRune(sk.Address, 0) {
			return bad("want an absolute path (unix:///run/app.sock)")
		}
		if len(sk.Address) >= 108 {
			return bad("path longer than 107 bytes")
		}
	case "tcp", "tcp4", "tcp6":
		host, port, err := net.SplitHostPort(sk.Address)
		if err != nil {
			return bad("want HOST:PORT")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return bad("port %q: want 0-65535", port)
		}
		if strings.ContainsAny(host, " \t\r\n\x00/") {
			return bad("host %q", host)
		}
		if sk.Owner != "" || sk.Mode != 0 {
			return bad("owner and mode apply to unix sockets only")
		}
	default:
		return bad("network %q: want tcp, tcp4, tcp6 or unix", sk.Network)
	}
	if sk.Backlog < 0 || sk.Backlog > maxBacklog {
		return bad("backlog %d: want 1-%d (0 = SOMAXCONN)", sk.Backlog, maxBacklog)
	}
	if sk.Mode&^fs.ModePerm != 0 {
		return bad("mode %#o: want permission bits (0-0777)", uint32(sk.Mode))
	}
	if u, g, _ := strings.Cut(sk.Owner, ":"); sk.Owner != "" && (u == "" || strings.Contains(g, ":")) {
		return bad("owner %q: want USER or USER:GROUP", sk.Owner)
	}
	return nil
}

// validateSockets checks a job's sockets: each valid, at most one on stdin,
// and no address twice.
func validateSockets(c *JobConfig) []error {
	var errs []error
	seen := map[string]bool{}
	names := map[string]bool{}
	stdin := 0
	for _, sk := range c.Sockets {
		if err := sk.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[sk.key()] {
			errs = append(errs, fmt.Errorf("socket %s: listed twice: %w", sk.URL(), ErrBadValue))
		}
		seen[sk.key()] = true
		if sk.Name != "" && names[sk.Name] {
			errs = append(errs, fmt.Errorf("socket name %q: used twice: %w", sk.Name, ErrBadValue))
		}
		names[sk.Name] = true
		if sk.Stdin {
			stdin++
		}
	}
	if stdin > 1 {
		errs = append(errs, fmt.Errorf("sockets: %d on stdin, at most one: %w", stdin, ErrBadValue))
	}
	if stdin > 0 && c.RedirectInput {
		errs = append(errs, fmt.Errorf("sockets: a socket on stdin excludes redirect_input: %w", ErrBadValue))
	}
	return errs
}

// socketJSON is a socket in a job's JSON config.
type socketJSON struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"` // URL form: tcp://host:port, unix:///path
	Backlog int    `json:"backlog,omitempty"`
	Owner   string `json:"owner,omitempty"`
	Mode    string `json:"mode,omitempty"` // octal, "0660"
	Stdin   bool   `json:"stdin,omitempty"`
}

func socketsJSON(ss []Socket) []socketJSON {
	out := make([]socketJSON, 0, len(ss))
	for _, sk := range ss {
		j := socketJSON{Name: sk.Name, Address: sk.URL(), Backlog: sk.Backlog, Owner: sk.Owner, Stdin: sk.Stdin}
		if sk.Mode != 0 {
			j.Mode = fmt.Sprintf("%04o", uint32(sk.Mode))
		}
		out = append(out, j)
	}
	return out
}

func init() { knownJobKeys["sockets"] = true }

// unmarshalSockets reads "sockets": the INI string form, or a list whose
// items are "NAME=URL" strings or objects {name, address, backlog, owner,
// mode, stdin}.
func unmarshalSockets(v json.RawMessage) ([]Socket, error) {
	var list string
	if json.Unmarshal(v, &list) == nil {
		return ParseSockets(list)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, fmt.Errorf("sockets: want a list: %w", err)
	}
	var out []Socket
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			sk, err := parseSocketItem(s)
			if err != nil {
				return nil, err
			}
			out = append(out, sk)
			continue
		}
		var j socketJSON
		dec := json.NewDecoder(strings.NewReader(string(it)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, fmt.Errorf("sockets: %w", err)
		}
		sk, err := ParseSocketURL(j.Name, j.Address)
		if err != nil {
			return nil, err
		}
		sk.Backlog, sk.Owner, sk.Stdin = j.Backlog, j.Owner, j.Stdin
		if j.Mode != "" {
			m, err := strconv.ParseUint(j.Mode, 8, 32)
			if err != nil {
				return nil, fmt.Errorf("socket %q mode %q: want octal: %w", sk.Name, j.Mode, ErrBadValue)
			}
			sk.Mode = os.FileMode(m)
		}
		out = append(out, sk)
	}
	return out, nil
}

// ---- the supervisor's socket table ------------------------------------------

// listenSock is one open listening socket, shared by every job config and
// live process that uses its network+address. Owned by the loop. How a
// job passes it (name, stdin) is the job's own business: see socketSpawn.
type listenSock struct {
	sock Socket   // as last applied (network, address, backlog, owner, mode)
	f    *os.File // blocking, close-on-exec
	ino  uint64   // unix: the socket file created, removed at close if still ours
	refs int
}

// jobSockets returns the open sockets of j's config, in config order,
// opening the missing ones. The job holds one reference to each until its
// config drops it or it is unloaded.
func (s *Supervisor) jobSockets(j *job) ([]*listenSock, error) {
	if slices.Equal(j.sockCfg, j.cfg.Sockets) && len(j.socks) == len(j.cfg.Sockets) {
		return j.socks, nil
	}
	var got []*listenSock
	for _, sk := range j.cfg.Sockets {
		ls, err := s.acquireSocket(sk)
		if err != nil {
			s.releaseSockets(got)
			return nil, err
		}
		got = append(got, ls)
	}
	s.releaseSockets(j.socks)
	j.socks, j.sockCfg = got, slices.Clone(j.cfg.Sockets)
	return got, nil
}

// releaseJobSockets drops the job's references (unload).
func (s *Supervisor) releaseJobSockets(j *job) {
	s.releaseSockets(j.socks)
	j.socks, j.sockCfg = nil, nil
}

// acquireSocket takes a reference to the socket at sk's address, opening it
// when nobody holds it. An open one is reused (same fd): a changed backlog,
// owner or mode is applied to it.
func (s *Supervisor) acquireSocket(sk Socket) (*listenSock, error) {
	if s.sockets == nil {
		s.sockets = map[string]*listenSock{}
	}
	if ls := s.sockets[sk.key()]; ls != nil {
		if ls.sock.Backlog != sk.Backlog || ls.sock.Owner != sk.Owner || ls.sock.Mode != sk.Mode {
			if err := configureSocket(ls.f, sk); err != nil {
				return nil, err
			}
			ls.sock = sk
		}
		ls.refs++
		return ls, nil
	}
	f, ino, err := openSocket(sk)
	if err != nil {
		return nil, err
	}
	ls := &listenSock{sock: sk, f: f, ino: ino, refs: 1}
	s.sockets[sk.key()] = ls
	s.log.Info("socket open", "socket", sk.URL(), "fd", f.Fd())
	return ls, nil
}

// closeSockets closes every socket when the supervisor stops (its
// processes are all gone by then).
func (s *Supervisor) closeSockets() {
	for _, l := range s.sockets {
		l.refs = 1
		s.releaseSockets([]*listenSock{l})
	}
}

// holdSockets takes one more reference to each (a process spawned with them).
func holdSockets(ls []*listenSock) {
	for _, l := range ls {
		l.refs++
	}
}

// releaseSockets drops one reference to each and closes the unused ones.
func (s *Supervisor) releaseSockets(ls []*listenSock) {
	for _, l := range ls {
		l.refs--
		if l.refs > 0 {
			continue
		}
		delete(s.sockets, l.sock.key())
		if l.sock.Network == "unix" {
			var st unix.Stat_t
			if unix.Stat(l.sock.Address, &st) == nil && st.Ino == l.ino && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
				os.Remove(l.sock.Address)
			}
		}
		l.f.Close()
		s.log.Info("socket closed", "socket", l.sock.URL())
	}
}

// openSocket creates, binds and listens; the fd is blocking (children such
// as FastCGI programs may accept in blocking mode) and close-on-exec (a
// child gets it only where it is passed).
func openSocket(sk Socket) (f *os.File, ino uint64, err error) {
	wrap := func(op string, err error) error {
		return fmt.Errorf("socket %s: %s: %w", sk.URL(), op, err)
	}
	var fd int
	var sa unix.Sockaddr
	switch sk.Network {
	case "unix":
		var st unix.Stat_t
		switch err := unix.Lstat(sk.Address, &st); {
		case err == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK:
			os.Remove(sk.Address) // a stale socket file, as supervisord removes it
		case err == nil:
			return nil, 0, wrap("bind", fmt.Errorf("%s exists and is not a socket", sk.Address))
		}
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		sa = &unix.SockaddrUnix{Name: sk.Address}
	default:
		addr, rerr := net.ResolveTCPAddr(sk.Network, sk.Address)
		if rerr != nil {
			return nil, 0, wrap("resolve", rerr)
		}
		if ip4 := addr.IP.To4(); sk.Network != "tcp6" && (addr.IP == nil || ip4 != nil) {
			a := &unix.SockaddrInet4{Port: addr.Port}
			copy(a.Addr[:], ip4)
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			sa = a
		} else {
			a := &unix.SockaddrInet6{Port: addr.Port}
			copy(a.Addr[:], addr.IP.To16())
			fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			sa = a
		}
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}
	}
	if err != nil {
		if fd > 0 {
			unix.Close(fd)
		}
		return nil, 0, wrap("socket", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, 0, wrap("bind", err)
	}
	f = os.NewFile(uintptr(fd), sk.URL())
	if sk.Network == "unix" {
		var st unix.Stat_t
		if err := unix.Stat(sk.Address, &st); err == nil {
			ino = st.Ino
		}
	}
	if err := configureSocket(f, sk); err != nil {
		f.Close()
		if sk.Network == "unix" {
			os.Remove(sk.Address)
		}
		return nil, 0, err
	}
	return f, ino, nil
}

// configureSocket (re)applies the backlog, and a unix socket file's owner
// and mode. listen on a listening socket only changes its backlog.
func configureSocket(f *os.File, sk Socket) error {
	wrap := func(op string, err error) error {
		return fmt.Errorf("socket %s: %s: %w", sk.URL(), op, err)
	}
	if sk.Network == "unix" {
		if sk.Owner != "" {
			uid, gid, err := lookupOwner(sk.Owner)
			if err != nil {
				return wrap("owner", err)
			}
			if err := os.Lchown(sk.Address, uid, gid); err != nil {
				return wrap("chown", err)
			}
		}
		if sk.Mode != 0 {
			if err := os.Chmod(sk.Address, sk.Mode); err != nil {
				return wrap("chmod", err)
			}
		}
	}
	backlog := sk.Backlog
	if backlog == 0 {
		backlog = unix.SOMAXCONN
	}
	if err := unix.Listen(int(f.Fd()), backlog); err != nil {
		return wrap("listen", err)
	}
	return nil
}

// lookupOwner resolves USER or USER:GROUP (names or numbers); the group
// defaults to the user's primary group.
func lookupOwner(owner string) (uid, gid int, err error) {
	un, gn, _ := strings.Cut(owner, ":")
	u, err := user.Lookup(un)
	if err != nil {
		if u, err = user.LookupId(un); err != nil {
			return 0, 0, fmt.Errorf("user %q: %w", un, err)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if gn != "" {
		g, err := user.LookupGroup(gn)
		if err != nil {
			if g, err = user.LookupGroupId(gn); err != nil {
				return 0, 0, fmt.Errorf("group %q: %w", gn, err)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// socketSpawn fills a spawn's fds and environment from the job's sockets:
// cfgs as the job names them, ls the open sockets (jobSockets).
func socketSpawn(cfgs []Socket, ls []*listenSock, penv map[string]string) (stdin *os.File, listeners []*os.File) {
	var names []string
	for i, l := range ls {
		if cfgs[i].Stdin {
			stdin = l.f
			continue
		}
		listeners = append(listeners, l.f)
		names = append(names, cmp.Or(cfgs[i].Name, "unknown"))
	}
	if len(listeners) > 0 {
		penv["LISTEN_FDS"] = strconv.Itoa(len(listeners))
		penv["LISTEN_FDNAMES"] = strings.Join(names, ":")
		delete(penv, "LISTEN_PID") // set by the trampoline to the child's own pid
	}
	return stdin, listeners
}
