package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/config"
)

// security is what gafferd puts in front of its APIs: the key and user
// stores, TLS for TCP listeners, and the Host/Origin guard.
//
// Who is trusted, and why:
//   - the unix socket (mode 0600 in a 0700 directory) is admin: only its
//     owner (and root) can connect, as with supervisord's socket;
//   - TCP listeners need an API key when require_key is on, which is the
//     default with a gaffer config file (gaffer-config.md §3.1): any local
//     user can reach 127.0.0.1, and a web page can try to;
//   - with require_key off, every caller may do everything except create
//     keys and users, and TCP is limited to loopback unless
//     --insecure-remote says otherwise.
type security struct {
	az      *auth.Authorizer
	tls     *tls.Config // nil: plain HTTP
	origins []string    // [gaffer] allowed_origins
}

// requireKey is require_key as in effect: --require-key, else the file's
// [gaffer] require_key, else on for a gaffer config file and off without
// one. supervisord.conf files keep supervisor's model (username/password
// per server) unless --require-key is given.
func requireKey(o *options, cfg *config.Config) bool {
	switch {
	case o.requireKey:
		return true
	case cfg.Supervisord != nil:
		return false
	case cfg.Global.RequireKey != nil:
		return *cfg.Global.RequireKey
	}
	return len(cfg.Files) > 0
}

// configDir is where the stores live by default: the config file's
// directory, the -c directory, $GAFFERD_CONFIG, or ~/.gaffer.
func configDir(o *options, cfg *config.Config) string {
	if len(cfg.Files) > 0 {
		return filepath.Dir(cfg.Files[0])
	}
	for _, p := range []string{o.config, os.Getenv("GAFFERD_CONFIG")} {
		if fi, err := os.Stat(p); p != "" && err == nil && fi.IsDir() {
			return p
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".gaffer")
	}
	return "."
}

// storePath resolves an [auth] db name against the config directory.
func storePath(dir, name, def string) string {
	switch {
	case name == "":
		return filepath.Join(dir, def)
	case name == auth.Memory || filepath.IsAbs(name):
		return name
	}
	return filepath.Join(dir, name)
}

// openStores opens the key and user stores of a config.
func openStores(o *options, cfg *config.Config) (*auth.KeyStore, *auth.UserStore, error) {
	dir := configDir(o, cfg)
	keys, err := auth.OpenKeys(storePath(dir, cfg.Auth.KeysDBName, "keys.db"))
	if err != nil {
		return nil, nil, err
	}
	users, err := auth.OpenUsers(storePath(dir, cfg.Auth.AuthDBName, "auth.db"))
	if err != nil {
		return nil, nil, err
	}
	return keys, users, nil
}

func newSecurity(o *options, cfg *config.Config) (*security, error) {
	s := &security{az: &auth.Authorizer{RequireKey: requireKey(o, cfg)}, origins: cfg.Global.AllowedOrigins}
	if s.az.RequireKey {
		var err error
		if s.az.Keys, s.az.Users, err = openStores(o, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.SSL != nil {
		var err error
		if s.tls, err = tlsConfig(cfg.SSL); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// tlsConfig builds the server TLS settings of [ssl]: TLS 1.2 at least, and
// client certificates verified against ca_certs when cert_reqs asks.
func tlsConfig(s *config.SSL) (*tls.Config, error) {
	keyFile := s.KeyFile
	if keyFile == "" {
		keyFile = s.CertFile
	}
	cert, err := tls.LoadX509KeyPair(s.CertFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("[ssl] certfile %s, keyfile %s: %w", s.CertFile, keyFile, err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if s.CACerts != "" {
		pem, err := os.ReadFile(s.CACerts)
		if err != nil {
			return nil, fmt.Errorf("[ssl] ca_certs: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("[ssl] ca_certs %s: no PEM certificate in it", s.CACerts)
		}
		c.ClientCAs = pool
	}
	switch s.CertReqs {
	case config.CertOptional:
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case config.CertRequired:
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// isUnix reports whether l is a unix socket.
func isUnix(l net.Listener) bool {
	_, ok := l.Addr().(*net.UnixAddr)
	return ok
}

// privateSocket reports whether a unix socket's file is reachable by its
// owner only (gafferd's own socket; a supervisord.conf chmod may open it).
func privateSocket(l net.Listener) bool {
	fi, err := os.Stat(l.Addr().String())
	return err == nil && fi.Mode().Perm()&0o077 == 0
}

// listener returns l as the server should accept on it: TLS on TCP when
// [ssl] is configured.
func (s *security) listener(l net.Listener) net.Listener {
	if s.tls == nil || isUnix(l) {
		return l
	}
	return tls.NewListener(l, s.tls)
}

// server sets what srv needs to know about its listener: a private unix
// socket marks its requests trusted.
func (s *security) server(srv *http.Server, l net.Listener) {
	if isUnix(l) && privateSocket(l) {
		srv.BaseContext = func(net.Listener) context.Context { return auth.WithTrusted(context.Background()) }
	}
}

// wrap puts the guard and the caller resolution in front of next for one
// listener. A TCP listener bound to loopback answers loopback host names
// only; every listener refuses cross-origin browser requests.
func (s *security) wrap(l net.Listener, next http.Handler) http.Handler {
	g := &auth.Guard{Origins: s.origins}
	if tcp, ok := l.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		g.Hosts = auth.LoopbackHosts(tcp.IP.String())
	}
	return g.Wrap(s.az.Middleware(next))
}

// rpc2 answers 401 with a Basic challenge to an XML-RPC client that gave
// no usable credentials, as supervisord does, so supervisorctl asks for
// them; per-method permissions are checked by the server's Authorize hook.
func (s *security) rpc2(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, _ := auth.CallerFrom(r.Context()); c.Err != nil && auth.Unauthenticated(c.Err) {
			w.Header().Set("WWW-Authenticate", `Basic realm="gaffer"`)
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorize is the Authorize hook of the REST, websocket and 0.4 APIs.
func (s *security) authorize() func(*http.Request, rest.Permission, string) error {
	return rest.AuthorizeWith(s.az)
}

// adminCommand runs --create-admin-user NAME and --list-admins.
func adminCommand(o *options, cfg *config.Config, stdin io.Reader, stdout, stderr io.Writer) int {
	keys, users, err := openStores(o, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gafferd:", err)
		return 1
	}
	if o.listAdmins {
		for _, u := range users.List() {
			if u.UserType == auth.TypeUser {
				fmt.Fprintf(stdout, "%s - %s\n", u.Username, u.Key)
			}
		}
		return 0
	}
	name := o.createAdmin
	if _, err := users.Get(name); err == nil {
		fmt.Fprintf(stderr, "gafferd: user %q already exists\n", name)
		return 1
	}
	password, err := adminPassword(o, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "gafferd:", err)
		return 1
	}
	k, err := keys.Create("admin key", auth.Permissions{Admin: true}, "")
	if err != nil {
		fmt.Fprintln(stderr, "gafferd:", err)
		return 1
	}
	if err := users.Create(auth.User{Username: name, UserType: auth.TypeUser, Key: k.Key}, password); err != nil {
		keys.Delete(k.Key)
		fmt.Fprintln(stderr, "gafferd:", err)
		return 1
	}
	fmt.Fprintf(stdout, "User '%s' created.\nAPI Key: %s\n", name, k.Key)
	if !requireKey(o, cfg) {
		fmt.Fprintln(stderr, "gafferd: note: require_key is off in this configuration, so keys are not checked")
	}
	return 0
}

// adminPassword reads the new admin's password: --password-file ("-" =
// standard input), else $GAFFERD_ADMIN_PASSWORD. The first line counts.
func adminPassword(o *options, stdin io.Reader) (string, error) {
	var pw string
	switch {
	case o.passwordFile == "-":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw = line
	case o.passwordFile != "":
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		pw, _, _ = strings.Cut(string(b), "\n")
	default:
		pw = os.Getenv("GAFFERD_ADMIN_PASSWORD")
	}
	pw = strings.TrimRight(pw, "\r\n")
	if pw == "" {
		return "", errors.New("--create-admin-user needs a password: --password-file FILE (or - for standard input), or $GAFFERD_ADMIN_PASSWORD")
	}
	return pw, nil
}

// live picks the websocket handler of a request: the one requiring an
// "AUTH:<key>" first message for untrusted callers when keys are
// required (keyed non-nil), else the one checking the request's caller.
func (s *security) live(r *http.Request, plain, keyed http.Handler) http.Handler {
	if keyed != nil && !auth.IsTrusted(r.Context()) {
		return keyed
	}
	return plain
}
