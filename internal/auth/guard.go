package auth

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Guard refuses requests a web page could forge. Immutable after creation.
//
//   - Host: a server bound to loopback answers only requests addressed to
//     a loopback name (or its bound host): a page of evil.example whose
//     DNS name is re-pointed at 127.0.0.1 sends "Host: evil.example", and
//     is refused (DNS rebinding).
//   - Origin: a browser names the page that sent a request. A request
//     whose Origin is not the server itself (same host and port) nor in
//     Origins is refused, whatever its method: a web page can then neither
//     drive gafferd nor read its answers. Clients that are not browsers
//     send no Origin and are not concerned. CORS preflights (OPTIONS) pass;
//     the request they announce is checked.
type Guard struct {
	// Hosts are the host names (without port) requests may address; empty
	// means any (a server bound to a public address).
	Hosts []string
	// Origins are the other origins allowed: "https://dash.example.com",
	// or host patterns as path.Match takes them ("*.example.com").
	Origins []string
}

// LoopbackHosts are the names a loopback server answers to, plus host.
func LoopbackHosts(host string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if host != "" && !slices.Contains(hosts, strings.ToLower(host)) {
		hosts = append(hosts, strings.ToLower(host))
	}
	return hosts
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.HostAllowed(r.Host) {
			refuse(w, http.StatusMisdirectedRequest, "host "+strconv.Quote(r.Host)+" not served here (DNS rebinding protection); connect to localhost or 127.0.0.1")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && r.Method != http.MethodOptions && !g.OriginAllowed(origin, r.Host) {
			refuse(w, http.StatusForbidden, "cross-origin request from "+strconv.Quote(origin)+" refused; allow it with [gaffer] allowed_origins")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HostAllowed checks a Host header value.
func (g *Guard) HostAllowed(hostport string) bool {
	if len(g.Hosts) == 0 {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return host != "" && slices.Contains(g.Hosts, host)
}

// OriginAllowed checks an Origin header value against the request's Host.
func (g *Guard) OriginAllowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // including "null": sandboxed frames and file:// pages
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, p := range g.Origins {
		p = strings.ToLower(p)
		if strings.Contains(p, "://") {
			if strings.EqualFold(strings.TrimSuffix(p, "/"), u.Scheme+"://"+u.Host) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(p, strings.ToLower(u.Host)); ok {
			return true
		}
		if ok, _ := path.Match(p, strings.ToLower(u.Hostname())); ok {
			return true
		}
	}
	return false
}

func refuse(w http.ResponseWriter, status int, reason string) {
	b, _ := json.Marshal(struct {
		Error  int    `json:"error"`
		Reason string `json:"reason"`
	}{status, reason})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
