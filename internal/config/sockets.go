package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gafferhq/gaffer/supervisor"
)

// Sockets owned by gafferd (supervisor.Socket):
//
//   - gafferd's INI and supervisord.conf: sockets = NAME=URL, … on a job or
//     [program:x] (a gafferd extension in supervisord.conf): systemd-style
//     socket activation, the sockets at fd 3, 4, … with LISTEN_FDS,
//     LISTEN_PID and LISTEN_FDNAMES;
//   - supervisord.conf [fcgi-program:x]: socket = tcp://HOST:PORT or
//     unix:///PATH, socket_backlog, socket_owner, socket_mode, and every
//     [program:x] key: the one socket of the pool is every process's stdin.
func init() {
	jobKeys["sockets"] = true
	programKeys = append(programKeys, "sockets")
}

// fcgiKeys are the keys [fcgi-program:x] adds to [program:x]'s.
var fcgiKeys = []string{"socket", "socket_backlog", "socket_owner", "socket_mode"}

// parseSockets reads sockets = NAME=URL, … (gafferd's INI and
// supervisord.conf).
func parseSockets(v string) ([]supervisor.Socket, error) {
	ss, err := supervisor.ParseSockets(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (want NAME=tcp://HOST:PORT or NAME=unix:///PATH, comma-separated)", ErrInvalidValue, err)
	}
	return ss, nil
}

// isFcgi reports whether sec is an [fcgi-program:x].
func isFcgi(sec *section) bool { return strings.HasPrefix(sec.name, "fcgi-program:") }

// programKeysOf is the keys a [program:x] or [fcgi-program:x] accepts.
func programKeysOf(sec *section) []string {
	if isFcgi(sec) {
		return append(slices.Clip(programKeys), fcgiKeys...)
	}
	return programKeys
}

// sockets reads the socket keys of one process's section into cfg.
func (b *sbuilder) sockets(sec *section, x *expander, cfg *supervisor.JobConfig) {
	if v, e, ok := b.value(sec, "sockets", x); ok {
		ss, err := parseSockets(v)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		}
		cfg.Sockets = append(cfg.Sockets, ss...)
	}
	if !isFcgi(sec) {
		return
	}
	v, e, ok := b.value(sec, "socket", x)
	if e == nil {
		b.fail(sec.pos, sec.name, "socket", fmt.Errorf("%w: [%s] needs socket = tcp://HOST:PORT or unix:///PATH", ErrMissing, sec.name))
		return
	}
	if !ok {
		return
	}
	sk, err := supervisor.ParseSocketURL("", v)
	if err != nil {
		b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: %w", ErrInvalidValue, err))
		return
	}
	sk.Stdin = true
	o := opts{b, sec, x}
	o.integer("socket_backlog", &sk.Backlog, 1, 65535)
	if sk.Network == "unix" {
		// supervisord: the socket file belongs to the process user, mode 0700.
		sk.Owner = cfg.UID
		o.str("socket_owner", &sk.Owner)
		mode := 0o700
		o.octal("socket_mode", &mode, 0o777)
		sk.Mode = os.FileMode(mode)
	} else {
		for _, k := range []string{"socket_owner", "socket_mode"} {
			if e := b.doc.lookup(sec, k); e != nil {
				b.warn(e.pos, sec.name, e.name, "applies to unix:// sockets only; ignored")
			}
		}
	}
	cfg.Sockets = append([]supervisor.Socket{sk}, cfg.Sockets...)
	cfg.RedirectInput = false // the socket is stdin
}
