package legacy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
)

// FuzzParseRoute: any method and path gives a route or an answerable
// error, never a panic; a route's parts are consistent with the path.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"/processes", "/processes/web", "/processes/app:web/_add/3", "/processes/12/_signal/15",
		"/processes/12/_signal/", "/processes/web/_signal/a/b", "/status/app:web", "/groups", "/groups/app/_restart",
		"/watch", "/watch/start", "/watch/proc/app:web/spawn", "/watch/proc/web", "/watch/a/b/c/d",
		"/stats", "/stats/web/3", "/streams/3/out", "/streams/3/stdin", "/wstreams/3",
		"/processes/%2F", "/processes/a%3Ab", "/processes//x", "/watch/%zz", "/processes/99999999999999999999",
		"/groups/a.b", "/processes/:x", "/processes/x:",
	} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, err := parseRoute(method, path)
		if err != nil {
			if st := apiErrorOf(err).Status; st < 400 || st > 499 {
				t.Fatalf("%s %q: status %d for %v", method, path, st, err)
			}
			return
		}
		if rt.serve == nil && method != http.MethodOptions {
			t.Fatalf("%s %q: route without handler", method, path)
		}
		if rt.pid < 0 {
			t.Fatalf("%s %q: negative pid", method, path)
		}
		if rt.job != "" {
			if full, _, err := jobOf(rt.name); err != nil || full != rt.job {
				t.Fatalf("%s %q: name %q job %q", method, path, rt.name, rt.job)
			}
			if templateName(rt.job) == "" {
				t.Fatalf("job %q has no template name", rt.job)
			}
		}
		if len(rt.pattern) > 3 {
			t.Fatalf("%s %q: pattern %v", method, path, rt.pattern)
		}
	})
}

// FuzzWatchPattern: accepted patterns are the documented shapes.
func FuzzWatchPattern(f *testing.F) {
	f.Add("start", "", "", 1)
	f.Add("proc", "app:web", "spawn", 3)
	f.Add("spawn", "x", "y", 3)
	f.Add("proc", "web", "", 2)
	f.Fuzz(func(t *testing.T, a, b, c string, n int) {
		parts := []string{a, b, c}[:max(0, min(n, 3))]
		out, err := watchPattern(parts)
		if err != nil {
			return
		}
		switch len(out) {
		case 1:
			if !oneOf(out[0], managerEvents) {
				t.Fatalf("accepted %q", parts)
			}
		case 3:
			if out[0] != "proc" || !oneOf(out[2], processEvents) {
				t.Fatalf("accepted %q", parts)
			}
		}
	})
}

// FuzzHeartbeat: a heartbeat is off, the default, or within bounds.
func FuzzHeartbeat(f *testing.F) {
	for _, s := range []string{"", "true", "false", "0", "1", "0.05", "60", "NaN", "-1", "1e9", "0x10", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := parseHeartbeat(v, time.Minute)
		if err != nil {
			return
		}
		if d != 0 && d != time.Minute && (d < 10*time.Millisecond || d > 24*time.Hour) {
			t.Fatalf("heartbeat %q = %v", v, d)
		}
	})
}

// TestTemplateNames checks the mapping both ways.
func TestTemplateNames(t *testing.T) {
	for name, want := range map[string]string{"web": "default.web", "app:web": "app.web", "app:a:b": "app.a:b", "a.b": "default.a.b"} {
		full, _, err := jobOf(name)
		if err != nil || full != want {
			t.Errorf("jobOf(%q) = %q, %v; want %q", name, full, err, want)
		}
		if back := templateName(full); back != name {
			t.Errorf("templateName(%q) = %q, want %q", full, back, name)
		}
	}
	for _, bad := range []string{"", ":web", "app:", "a.b:c", "a b:c", "a/b", "app:x/y"} {
		if _, _, err := jobOf(bad); err == nil {
			t.Errorf("jobOf(%q) accepted", bad)
		}
	}
}

// TestTranslate checks the 0.4.4 events made of each core event.
func TestTranslate(t *testing.T) {
	tr := newTranslator(map[int]int{7: 700}, func(job string) bool { return job == "app.daemon" })
	cases := []struct {
		in   events.Event
		want string
	}{
		{events.Event{Type: "load", Name: "default.web"}, "create"},
		{events.Event{Type: "unload", Name: "default.web"}, "delete"},
		{events.Event{Type: "start", Name: "app.web"}, "start proc.app:web.start"},
		{events.Event{Type: "job.app.web.start", Name: "app.web"}, ""},
		{events.Event{Type: "spawn", Name: "app.daemon", Pid: 8, OSPid: 800}, "spawn proc.app:daemon.spawn"},
		{events.Event{Type: "stop_process", Name: "app.daemon", Pid: 8}, "stop_pid proc.app:daemon.stop_pid"},
		{events.Event{Type: "stop_process", Name: "default.web", Pid: 7}, "stop_pid proc.web.stop_pid"},
		{events.Event{Type: "kill", Name: "default.web"}, ""},
		{events.Event{Type: "flap", Name: "default.web"}, "flap"},
	}
	for _, c := range cases {
		var types []string
		for _, le := range tr.translate(c.in) {
			types = append(types, le.Type)
			if le.Msg["event"] != le.Type {
				t.Errorf("%s: message event %v", le.Type, le.Msg["event"])
			}
		}
		if got := strings.Join(types, " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.in.Type, got, c.want)
		}
	}
	spawn := tr.translate(events.Event{Type: "spawn", Name: "app.daemon", Pid: 9, OSPid: 900})[0].Msg
	if spawn["detached"] != true || spawn["os_pid"] != 900 {
		t.Errorf("spawn message %v", spawn)
	}
	if m := tr.translate(events.Event{Type: "stop_process", Name: "default.web", Pid: 7})[0].Msg; m["os_pid"] != 700 {
		t.Errorf("stop_pid message %v: want the os pid remembered", m)
	}
}
