package metrics_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// run1000 starts 1,000 real processes: 100 jobs of 10 `sleep`s.
func run1000(b *testing.B) *rig {
	r := newRig(b)
	sub := r.sup.Subscribe(4096, supervisor.DropOldest, "spawn")
	defer sub.Close()
	for i := range 100 {
		cfg := supervisor.NewJobConfig(fmt.Sprintf("job%03d", i), "sleep 600")
		cfg.NumProcesses = 10
		if err := r.sup.Load(r.ctx, "bench", cfg, true); err != nil {
			b.Fatal(err)
		}
	}
	for range 1000 {
		waitEvent(b, sub, "spawn", func(e events.Event) bool { return e.Kind == "spawn" })
	}
	return r
}

// BenchmarkScrape1000 is one GET /metrics of a daemon running 1,000
// processes: the census, 1,000 /proc reads and the text encoding, without
// the network.
func BenchmarkScrape1000(b *testing.B) {
	r := run1000(b)
	h := r.m.Handler()
	scrape := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
		return rec.Body.Len()
	}
	size := scrape()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		scrape()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// BenchmarkCensus1000 is the engine's part of that scrape: the one request
// to the loop that lists every job and process.
func BenchmarkCensus1000(b *testing.B) {
	r := run1000(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := r.sup.Census(r.ctx)
		if err != nil || len(c.Processes) != 1000 {
			b.Fatalf("census: %d processes, %v", len(c.Processes), err)
		}
	}
}
