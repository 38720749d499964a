package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// defaultPort is gaffer's port for a bind address that names none.
const defaultPort = "8000"

var globalKeys = map[string]bool{
	"bind": true, "unix": true, "broadcast_address": true, "backlog": true, "daemonize": true,
	"pidfile": true, "error_log": true, "log_level": true, "plugins_dir": true, "require_key": true,
	"include": true, "include_dir": true, "metrics_bind": true, "allowed_origins": true,
}

var logLevels = map[string]bool{"critical": true, "error": true, "warning": true, "info": true, "debug": true}

// global decodes [gaffer] (gaffer-config.md §3.1).
func (b *builder) global(sec *section) {
	g := &b.cfg.Global
	for _, k := range sec.order {
		if !globalKeys[k] && !strings.HasPrefix(k, "lookupd_address") {
			e := sec.keys[k]
			b.warn(e.pos, sec.name, e.name, "unknown key, ignored")
		}
	}
	// check reports err against the key's definition; it returns whether v is usable.
	check := func(e *entry, err error) bool {
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
		}
		return err == nil
	}
	var unixFromBind string
	if v, e, ok := b.value(sec, "bind"); ok {
		var err error
		g.Bind, unixFromBind, err = parseBind(v)
		check(e, err)
	}
	if v, e, ok := b.value(sec, "unix"); ok {
		if v == "" {
			check(e, fmt.Errorf("%w: empty path", ErrInvalidValue))
		}
		g.Unix = v
		if unixFromBind != "" && unixFromBind != v {
			check(e, fmt.Errorf("%w: %q conflicts with bind's unix:%s; gafferd listens on one unix socket", ErrInvalidValue, v, unixFromBind))
		}
	} else if unixFromBind != "" {
		g.Unix = unixFromBind
	}
	if v, e, ok := b.value(sec, "broadcast_address"); ok {
		if check(e, checkHTTPURL(v)) {
			g.BroadcastAddress = v
		}
	}
	if v, e, ok := b.value(sec, "backlog"); ok {
		n, err := parseInt(v)
		if err == nil && n < 1 {
			err = fmt.Errorf("%w %d: must be at least 1", ErrInvalidValue, n)
		}
		if check(e, err) {
			g.Backlog = n
		}
	}
	if v, e, ok := b.value(sec, "daemonize"); ok {
		var err error
		g.Daemonize, err = parseBool(v)
		check(e, err)
	}
	if v, e, ok := b.value(sec, "require_key"); ok {
		on, err := parseBool(v)
		if check(e, err) {
			g.RequireKey = &on
		}
	}
	if v, e, ok := b.value(sec, "log_level"); ok {
		if l := strings.ToLower(v); logLevels[l] {
			g.LogLevel = l
		} else {
			check(e, fmt.Errorf("%w %q: want critical, error, warning, info or debug", ErrInvalidValue, v))
		}
	}
	if v, _, ok := b.value(sec, "pidfile"); ok {
		g.Pidfile = v
	}
	if v, _, ok := b.value(sec, "error_log"); ok {
		g.ErrorLog = v
	}
	if v, e, ok := b.value(sec, "metrics_bind"); ok {
		a, err := parseMetricsBind(v)
		if check(e, err) {
			g.MetricsBind = a
		}
	}
	b.allowedOrigins(sec)
	if v, _, ok := b.value(sec, "plugins_dir"); ok {
		g.PluginsDir = v
	}
	for _, k := range b.visibleKeys(sec) {
		if !strings.HasPrefix(k, "lookupd_address") {
			continue
		}
		if v, e, ok := b.value(sec, k); ok && check(e, checkHTTPURL(v)) {
			g.LookupdAddresses = append(g.LookupdAddresses, v)
		}
	}
}

// visibleKeys is every key sec sees, in configparser's items() order:
// [DEFAULT]'s first, then the section's own.
func (b *builder) visibleKeys(sec *section) []string {
	keys := append([]string(nil), b.doc.defaults.order...)
	for _, k := range sec.order {
		if b.doc.defaults.keys[k] == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// parseBind reads a comma- or space-separated list of addresses: host:port,
// [v6]:port, :port, a host alone (port 8000), or unix:PATH. It returns the
// TCP addresses normalised to host:port and the unix socket path.
func parseBind(v string) (addrs []string, unix string, err error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || isSpace(r) })
	for _, f := range fields {
		if p, ok := strings.CutPrefix(f, "unix:"); ok {
			p = strings.TrimPrefix(p, "//") // unix:///path, as in URLs
			switch {
			case p == "":
				return nil, "", fmt.Errorf("%w %q: unix: needs a path", ErrInvalidValue, f)
			case unix != "" && unix != p:
				return nil, "", fmt.Errorf("%w: several unix sockets (%s, %s); gafferd listens on one", ErrInvalidValue, unix, p)
			}
			unix = p
			continue
		}
		a, err := normalizeAddr(f)
		if err != nil {
			return nil, "", err
		}
		addrs = append(addrs, a)
	}
	return addrs, unix, nil
}

func normalizeAddr(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidValue, s, why)
	}
	host, port := s, defaultPort
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return bad("missing ]")
		}
		host = s[1:end]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return bad("[…] must hold an IPv6 address")
		}
		switch rest := s[end+1:]; {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return bad("want [v6addr]:port")
		}
	case strings.Count(s, ":") > 1:
		return bad("an IPv6 address needs brackets, e.g. [::1]:5000")
	case strings.Contains(s, ":"):
		host, port, _ = strings.Cut(s, ":")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || port == "" || port[0] == '+' || port[0] == '-' {
		return bad(fmt.Sprintf("invalid port %q", port))
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(n), nil
	}
	return host + ":" + strconv.Itoa(n), nil
}

// parseMetricsBind reads metrics_bind: one TCP address, as bind takes them.
func parseMetricsBind(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%w: empty address; want host:port, e.g. 127.0.0.1:9150", ErrInvalidValue)
	}
	if _, _, err := net.SplitHostPort(v); err != nil || strings.ContainsAny(v, ", \t/") {
		return "", fmt.Errorf("%w %q: want one host:port, e.g. 127.0.0.1:9150", ErrInvalidValue, v)
	}
	return normalizeAddr(v)
}

// checkHTTPURL accepts the http(s)://host[:port][/path] URLs gaffer posts
// webhooks to and announces to lookupd.
func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w %q: want an http:// or https:// URL", ErrInvalidValue, v)
	}
	return nil
}

// webhooks decodes [webhooks]: "<event> = <url> [<url>…]" (gaffer-config.md
// §3.2). Only the section's own keys count: a [DEFAULT] key is not a webhook.
func (b *builder) webhooks(sec *section) {
	for _, k := range sec.order {
		e := sec.keys[k]
		v, err := b.doc.get(sec, e)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
			continue
		}
		urls := strings.Fields(v)
		if len(urls) == 0 {
			b.warn(e.pos, sec.name, e.name, "no URL, ignored")
		}
		for _, u := range urls {
			if err := checkHTTPURL(u); err != nil {
				b.fail(e.pos, sec.name, e.name, err)
				continue
			}
			b.cfg.Webhooks = append(b.cfg.Webhooks, Webhook{Event: k, URL: u})
		}
	}
}
