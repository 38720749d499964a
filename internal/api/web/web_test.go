package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPrefersHTML(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		// Browsers navigating to a page.
		{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true}, // Chrome
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},                       // Firefox
		{"TEXT/HTML", true},
		{"text/*, application/json;q=0.5", true},
		{"application/json;q=0.4, text/html;q=0.5", true},
		// API clients keep the JSON welcome.
		{"", false},
		{"*/*", false}, // curl: a tie goes to JSON
		{"application/json", false},
		{"application/json, text/html", false},
		{"text/html;q=0.5, application/json", false},
		{"text/html;q=0, */*", false},
		{"text/plain", false},
		// A malformed quality makes its range count for nothing.
		{"text/html;q=2", false},
		{"text/html;q=0.5x", false},
		{"text/html;q=1.5", false},
		{"text/html;q=0.0001", false},
		{"text/html;q=-0.5", false},
		{"text/html;q=0.-1", false},
		{"text/html; charset=utf-8; q=0.800, application/json;q=0.7", true},
		{"text/html;q=1.000", true},
		{"html", false},
	}
	for _, tt := range tests {
		if got := PrefersHTML(tt.accept); got != tt.want {
			t.Errorf("PrefersHTML(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

func TestMatchRoutesBrowsersAndUI(t *testing.T) {
	h := New(Options{})
	const chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		method, path, accept string
		want                 bool
	}{
		{"GET", "/", chrome, true},
		{"HEAD", "/", chrome, true},
		{"GET", "/", "*/*", false},
		{"GET", "/", "application/json", false},
		{"GET", "/", "", false},
		{"POST", "/", chrome, false},
		{"GET", "/ui", "", true},
		{"GET", "/ui/", "application/json", true},
		{"GET", "/ui/app.js", "*/*", true},
		{"GET", "/jobs", chrome, false},
		{"GET", "/uix", chrome, false},
		{"GET", "/channel/websocket", chrome, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := h.Match(r); got != tt.want {
			t.Errorf("Match(%s %s, Accept %q) = %v, want %v", tt.method, tt.path, tt.accept, got, tt.want)
		}
	}
}

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	r.Host = "127.0.0.1:5000"
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestServesEmbeddedFilesWithTheirTypes(t *testing.T) {
	h := New(Options{Version: "9.9<9>"})
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/ui/app.js"`},
		{"/ui/", "text/html; charset=utf-8", `<table id="jobs">`},
		{"/ui/index.html", "text/html; charset=utf-8", "gafferd 9.9&lt;9&gt;"},
		{"/ui/app.js", "text/javascript; charset=utf-8", "/channel/websocket"},
		{"/ui/style.css", "text/css; charset=utf-8", "@media (max-width"},
		{"/ui/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		resp := get(t, h, "GET", tt.path, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", tt.path, resp.Status)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tt.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, ct, tt.ctype)
		}
		if !strings.Contains(string(body), tt.contains) {
			t.Errorf("GET %s: body lacks %q", tt.path, tt.contains)
		}
		if strings.Contains(string(body), versionMark) {
			t.Errorf("GET %s: version placeholder left in the page", tt.path)
		}
	}
}

func TestTotalSizeIsSmall(t *testing.T) {
	h := New(Options{})
	total := 0
	for _, f := range h.files {
		total += len(f.body)
	}
	if total == 0 || total > 100<<10 {
		t.Fatalf("the dashboard's files weigh %d bytes; keep them under 100 KB", total)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := New(Options{})
	for _, path := range []string{"/", "/ui/app.js", "/ui/nope"} {
		resp := get(t, h, "GET", path, nil)
		want := map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "connect-src 'self' ws://127.0.0.1:5000 wss://127.0.0.1:5000;",
			"script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, d)
			}
		}
	}
}

func TestCSPIgnoresAHostileHost(t *testing.T) {
	h := New(Options{})
	r := httptest.NewRequest("GET", "/ui/", nil)
	r.Host = "evil.example; script-src *"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	csp := w.Result().Header.Get("Content-Security-Policy")
	if strings.Contains(csp, "evil") || strings.Contains(csp, "script-src *") {
		t.Fatalf("CSP took the Host header in: %q", csp)
	}
	if !strings.Contains(csp, "connect-src 'self';") {
		t.Fatalf("CSP %q: want connect-src 'self' alone", csp)
	}
}

func TestNotFoundRedirectAndMethods(t *testing.T) {
	h := New(Options{})
	if resp := get(t, h, "GET", "/ui/nope.js", nil); resp.StatusCode != 404 {
		t.Errorf("GET /ui/nope.js: %s, want 404", resp.Status)
	}
	if resp := get(t, h, "GET", "/ui/../web.go", nil); resp.StatusCode != 404 {
		t.Errorf("GET /ui/../web.go: %s, want 404", resp.Status)
	}
	resp := get(t, h, "GET", "/ui", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %s to %q, want 301 to /ui/", resp.Status, resp.Header.Get("Location"))
	}
	resp = get(t, h, "POST", "/ui/app.js", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/app.js: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	resp = get(t, h, "HEAD", "/ui/app.js", nil)
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD /ui/app.js: %s, %d body bytes, Content-Length %q", resp.Status, len(body), resp.Header.Get("Content-Length"))
	}
}

func TestETagRevalidation(t *testing.T) {
	h := New(Options{})
	resp := get(t, h, "GET", "/ui/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /ui/app.js: ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	resp = get(t, h, "GET", "/ui/app.js", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("GET with If-None-Match %s: %s, want 304", etag, resp.Status)
	}
	resp = get(t, h, "GET", "/ui/style.css", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 {
		t.Fatalf("GET style.css with app.js's ETag: %s, want 200", resp.Status)
	}
}

func FuzzPrefersHTML(f *testing.F) {
	for _, s := range []string{"", "*/*", "text/html", "application/json", "text/html;q=0.5,application/json;q=0.4",
		"text/*;q=1.0", "text/html;q=0.", "a/b;c=d;q=0.123", ";;,,/", "text/html;q="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		html, json := quality(accept, "text", "html"), quality(accept, "application", "json")
		for _, q := range []int{html, json} {
			if q < 0 || q > 1000 {
				t.Fatalf("%q: quality %d out of [0,1000]", accept, q)
			}
		}
		if got := PrefersHTML(accept); got != (html > json) {
			t.Fatalf("PrefersHTML(%q) = %v with html %d, json %d", accept, got, html, json)
		}
		// A JSON range at full strength never leaves HTML preferred.
		if PrefersHTML(accept + ",application/json") {
			t.Fatalf("%q plus application/json prefers HTML", accept)
		}
		// Nor does any client without the words html or *.
		if !strings.Contains(strings.ToLower(accept), "html") && !strings.Contains(accept, "*") && PrefersHTML(accept) {
			t.Fatalf("%q prefers HTML without naming it", accept)
		}
	})
}
