package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Options configure the dashboard. The zero value is usable.
type Options struct {
	// Version is shown in the page's footer ("gafferd <Version>").
	Version string
}

// file is one embedded asset, ready to serve.
type file struct {
	name        string
	contentType string
	etag        string
	body        []byte
}

// Handler serves the dashboard. Immutable after New.
type Handler struct {
	files map[string]*file // by name under static/, e.g. "app.js"
}

// contentTypes are the types of the files the dashboard ships; a file
// with another extension is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// versionMark is replaced by Options.Version in index.html.
const versionMark = "{{VERSION}}"

// New returns the dashboard handler. It serves "/" (the page), "/ui/" (the
// page) and "/ui/<asset>"; gafferd routes requests to it with Match.
func New(opts Options) *Handler {
	h := &Handler{files: map[string]*file{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		if path.Base(p) == "index.html" {
			b = bytes.ReplaceAll(b, []byte(versionMark), []byte(htmlEscape(opts.Version)))
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		h.files[name] = &file{name: name, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, body: b}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded files: " + err.Error()) // cannot happen: they are compiled in
	}
	return h
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}

// Match reports whether r is for the dashboard: anything under /ui, and
// GET or HEAD / from a client whose Accept header prefers HTML to JSON (a
// browser). Other requests for / (curl, scripts, gaffer's clients) are
// left to the REST API's JSON welcome.
func (h *Handler) Match(r *http.Request) bool {
	p := r.URL.Path
	if p == "/ui" || strings.HasPrefix(p, "/ui/") {
		return true
	}
	return p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		PrefersHTML(strings.Join(r.Header.Values("Accept"), ","))
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), r.Host)
	p := r.URL.Path
	if p == "/ui" {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		return
	}
	name := ""
	switch {
	case p == "/" || p == "/ui/" || p == "/ui/index.html":
		name = "index.html"
		w.Header().Add("Vary", "Accept")
	case strings.HasPrefix(p, "/ui/"):
		name = strings.TrimPrefix(p, "/ui/")
	}
	f := h.files[name]
	if f == nil {
		http.Error(w, "404 page not found: "+p, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed: the dashboard answers GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// Revalidate every time: the ETag makes that a 304, and a new gafferd
	// never serves an old script from a cache.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

// setSecurityHeaders sets the headers of every dashboard response. The
// page may load only its own files and connect only back to the host it
// came from, over HTTP(S) or websocket; nothing may frame it.
func setSecurityHeaders(h http.Header, host string) {
	connect := "'self'"
	if validHost(host) {
		// CSP level 3 lets 'self' cover ws: and wss: of the same host;
		// older browsers need them spelled out.
		connect += " ws://" + host + " wss://" + host
	}
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src "+connect+
		"; img-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'"+
		"; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// validHost accepts what a Host header may hold (a name or address and an
// optional port) and nothing that could end a CSP directive or source.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}
