package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsDaemon is a gafferd listening on a unix socket (admin, no key)
// and on a loopback TCP port (API key required, the default with a config
// file), with [gaffer] metrics_bind on another loopback port.
type metricsDaemon struct {
	*testDaemon
	tcp, metrics string // host:port of the API's TCP listener and of metrics_bind
}

func startMetricsDaemon(t *testing.T, ini string) *metricsDaemon {
	t.Helper()
	md := &metricsDaemon{}
	listening := regexp.MustCompile(`listening.*addr=tcp:(127\.0\.0\.1:\d+)`)
	serving := regexp.MustCompile(`serving metrics.*addr=tcp:(127\.0\.0\.1:\d+)`)
	md.testDaemon = newTestDaemon(t, daemonOpts{config: "[gaffer]\nmetrics_bind = 127.0.0.1:0\n\n" + ini, bind: "127.0.0.1:0",
		what: "gafferd answering on every listener", ready: func() bool {
			if m := listening.FindStringSubmatch(md.stderr.String()); m != nil {
				md.tcp = m[1]
			}
			if m := serving.FindStringSubmatch(md.stderr.String()); m != nil {
				md.metrics = m[1]
			}
			return md.tcp != "" && md.metrics != ""
		}})
	md.start()
	return md
}

// scrape parses a /metrics answer with Prometheus's text parser.
func scrape(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

func (d *metricsDaemon) scrape() map[string]*dto.MetricFamily {
	d.t.Helper()
	b, err := d.get("/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	return scrape(d.t, b)
}

// find returns the value of the one series of name whose labels include
// want, and whether there is exactly one.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	var out []*dto.Metric
next:
	for _, m := range fams[name].GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				found = found || l.GetName() == k && l.GetValue() == v
			}
			if !found {
				continue next
			}
		}
		out = append(out, m)
	}
	if len(out) != 1 {
		return 0, false
	}
	if g := out[0].Gauge; g != nil {
		return g.GetValue(), true
	}
	return out[0].Counter.GetValue(), true
}

func TestMetricsEndToEnd(t *testing.T) {
	d := startMetricsDaemon(t, "[job:web]\ncmd = sleep 300\nnumprocesses = 2\n")
	pids := d.osPids("default.web") // also a GET /jobs/default/web
	if len(pids) != 2 {
		t.Fatalf("web has pids %v, want 2", pids)
	}
	if _, err := d.get("/jobs/x/y"); err == nil {
		t.Fatal("GET /jobs/x/y: want 404")
	}

	fams := d.scrape()
	web := map[string]string{"session": "default", "job": "default.web"}
	if v, ok := find(fams, "gaffer_job_processes", web); !ok || v != 2 {
		t.Errorf("gaffer_job_processes{web} = %v (found %v), want 2", v, ok)
	}
	for _, pid := range pids {
		if _, ok := find(fams, "gaffer_process_state", map[string]string{"os_pid": strconv.Itoa(pid), "state": "RUNNING"}); !ok {
			t.Errorf("no RUNNING gaffer_process_state for os pid %d", pid)
		}
	}
	// Requests are counted by route pattern, never by raw path.
	if v, ok := find(fams, "gaffer_api_requests_total", map[string]string{"route": "GET /jobs/{s}/{j}", "code": "200"}); !ok || v < 1 {
		t.Errorf(`gaffer_api_requests_total{route="GET /jobs/{s}/{j}",code="200"} = %v (found %v)`, v, ok)
	}
	if v, ok := find(fams, "gaffer_api_requests_total", map[string]string{"route": "GET /jobs/{s}/{j}", "code": "404"}); !ok || v != 1 {
		t.Errorf(`gaffer_api_requests_total{route="GET /jobs/{s}/{j}",code="404"} = %v (found %v), want 1`, v, ok)
	}
	for _, m := range fams["gaffer_api_requests_total"].GetMetric() {
		for _, l := range m.Label {
			if strings.Contains(l.GetValue(), "/x/y") || strings.Contains(l.GetValue(), "default/web") {
				t.Errorf("raw path in a label: %s=%q", l.GetName(), l.GetValue())
			}
		}
	}
	if fams["go_goroutines"] == nil || fams["process_open_fds"] == nil {
		t.Error("the Go and process collectors are missing")
	}

	// A crash: one process killed from outside is restarted, and counted.
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, 10*time.Second, "the restart to be counted", func() bool {
		v, ok := find(d.scrape(), "gaffer_job_restarts_total", web)
		return ok && v == 1
	})
	fams = d.scrape()
	if v, ok := find(fams, "gaffer_job_exits_total", map[string]string{"job": "default.web", "code": "137"}); !ok || v != 1 {
		t.Errorf(`gaffer_job_exits_total{code="137"} = %v (found %v), want 1`, v, ok)
	}
	if h := fams["gaffer_spawn_duration_seconds"].GetMetric(); len(h) != 1 || h[0].Histogram.GetSampleCount() != 3 {
		t.Errorf("gaffer_spawn_duration_seconds: %v, want 3 samples", h)
	}
	if h := fams["gaffer_reap_delay_seconds"].GetMetric(); len(h) != 1 || h[0].Histogram.GetSampleCount() < 1 {
		t.Errorf("gaffer_reap_delay_seconds: %v, want samples", h)
	}
	if v, ok := find(fams, "gaffer_events_published_total", map[string]string{"bus": "events"}); !ok || v < 8 {
		t.Errorf("gaffer_events_published_total{bus=events} = %v (found %v)", v, ok)
	}

	// TCP needs an API key: /metrics is authorized like every route that
	// reads everything.
	resp, err := http.Get("http://" + d.tcp + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics over TCP without a key: %s, want 401", resp.Status)
	}

	// metrics_bind serves /metrics read-only, without credentials.
	resp, err = http.Get("http://" + d.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET metrics_bind /metrics: %s", resp.Status)
	}
	if v, ok := find(scrape(t, body), "gaffer_job_processes", web); !ok || v != 2 {
		t.Errorf("metrics_bind: gaffer_job_processes{web} = %v (found %v), want 2", v, ok)
	}
	for _, path := range []string{"/jobs", "/pids", "/"} {
		resp, err := http.Get("http://" + d.metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("metrics_bind GET %s: %s, want 404 (read-only: /metrics only)", path, resp.Status)
		}
	}
}

func TestMetricsBindRefusesRemoteAddress(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gaffer.ini")
	os.WriteFile(cfg, []byte("[gaffer]\nmetrics_bind = 0.0.0.0:0\n"), 0o644)
	cmd := exec.Command(gafferdBin, "-c", cfg, "--bind", "unix:"+filepath.Join(dir, "run", "g.sock"))
	cmd.Dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		t.Fatal("gafferd started with a non-loopback metrics_bind")
	}
	if err == nil || !strings.Contains(string(out), `metrics_bind "0.0.0.0:0": refusing a non-loopback address`) {
		t.Errorf("gafferd: %v\n%s\nwant a refusal naming metrics_bind", err, out)
	}
}
