package ws

import (
	"context"
	"sync"
	"syscall"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkFanout: 100 websocket clients follow one job's events; each
// iteration signals the job once (one job.<job>.kill event) and the
// benchmark ends when every client has read every event. Reports events
// delivered per second over all clients. The events are published back to
// back, faster than 100 clients on the same machine read them, so the
// queues are sized for the whole burst (with the default 1024, a burst of
// 2000 events closes them as slow consumers).
func BenchmarkFanout(b *testing.B) {
	s := newServer(b, Options{QueueSize: b.N + 16})
	s.load(job(b, "web", "sleep"))
	const clients = 100
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = s.dial("/channel/websocket")
		cs[i].sub("JOB:web")
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for range b.N {
				if _, _, err := c.c.Read(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range b.N {
		if err := s.sup.SignalJob(context.Background(), "web", syscall.SIGCONT); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*clients)/b.Elapsed().Seconds(), "deliveries/s")
	for _, c := range cs {
		c.c.Close(websocket.StatusNormalClosure, "")
	}
}
