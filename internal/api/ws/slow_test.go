package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// smallBuffers shrinks the kernel's send buffer of every accepted
// connection, so that a client that stops reading fills it quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// dialSmall dials with a small receive buffer.
func (s *server) dialSmall(path string) *client {
	s.t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.url+path, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		s.t.Fatal(err)
	}
	c.SetReadLimit(4 << 20)
	s.t.Cleanup(func() { c.CloseNow() })
	return &client{t: s.t, c: c}
}

// TestStalledClientIsClosedAndOthersKeepUp: 99 clients follow every event
// while one subscribes to a process's output and never reads. The output
// is far more than the stalled client's queues and socket buffers hold, so
// its subscription overflows: it is closed with 1008, the supervisor and
// the child never wait for it, and the others get every event in order.
func TestStalledClientIsClosedAndOthersKeepUp(t *testing.T) {
	const queue = 8
	s := newServerWith(t, Options{QueueSize: queue}, func(ts *httptest.Server) {
		ts.Listener = smallBuffers{ts.Listener}
	})
	echo := job(t, "echo", "echo-stdin")
	echo.RedirectOutput, echo.RedirectInput = []string{"out"}, true
	pid := s.load(echo)[0]
	many := job(t, "many", "sleep")
	if err := s.sup.Load(context.Background(), "", many, false); err != nil {
		t.Fatal(err)
	}

	others := make([]*client, 99)
	for i := range others {
		others[i] = s.dial("/channel/websocket")
		others[i].sub("EVENTS")
	}
	stalled := s.dialSmall("/channel/websocket")
	stalled.sub(fmt.Sprintf("STREAM:%d", pid))
	stalled.sub("EVENTS")

	// 4 MiB through the child, watched by the test itself.
	output := s.sup.SubscribeOutput(1<<14, supervisor.DropOldest, fmt.Sprintf("%d.out", pid))
	defer output.Close()
	chunk := []byte(strings.Repeat("0123456789abcde\n", 4096)) // 64 KiB
	const chunks = 64
	for range chunks {
		if err := s.sup.Write(context.Background(), pid, "", chunk); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for seen < chunks*len(chunk) {
		select {
		case e := <-output.C():
			seen += len(e.Data)
		case <-time.After(wait):
			t.Fatalf("output stopped after %d bytes", seen)
		}
	}

	// The supervisor is not held up: new processes start, every follower
	// sees their events in publish order.
	mine := s.sup.Subscribe(1024, supervisor.DropOldest, ".")
	defer mine.Close()
	if err := s.sup.StartJob(context.Background(), "many"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.sup.Scale(context.Background(), "many", supervisor.ScaleOp{Op: '+', N: 2}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for spawns := 0; spawns < 3; {
		e := gaffertest.WaitFor(t, mine, wait, func(events.Event) bool { return true })
		want = append(want, fmt.Sprintf("%s %d", e.Type, e.Pid))
		if e.Type == "spawn" {
			spawns++
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(others))
	for i, c := range others {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			var got []string
			for len(got) < len(want) {
				_, b, err := c.c.Read(ctx)
				if err != nil {
					errs <- fmt.Sprintf("client %d: %v after %v", i, err, got)
					return
				}
				var m struct {
					Data struct {
						Event string
						Pid   int
					}
				}
				if err := json.Unmarshal(b, &m); err != nil {
					errs <- err.Error()
					return
				}
				got = append(got, fmt.Sprintf("%s %d", m.Data.Event, m.Data.Pid))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				errs <- fmt.Sprintf("client %d got %v, want %v", i, got, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	ce := stalled.closeStatus()
	if ce.Code != StatusSlowConsumer || ce.Reason != fmt.Sprintf("slow consumer: more than %d messages queued", queue) {
		t.Errorf("stalled client closed with %v", ce)
	}
	// The child kept running and its stdin still works.
	if err := s.sup.Write(context.Background(), pid, "", []byte("still here\n")); err != nil {
		t.Errorf("echo after the overflow: %v", err)
	}
}

// TestTeardownReleasesEverything: connections that subscribed to every kind
// of topic and opened process channels leave no subscription, sampler or
// goroutine behind.
func TestTeardownReleasesEverything(t *testing.T) {
	s := newServer(t, Options{})
	cfg := job(t, "echo", "echo-stdin")
	cfg.RedirectOutput, cfg.RedirectInput = []string{"out"}, true
	pid := s.load(cfg)[0]
	runtime.GC()
	before := runtime.NumGoroutine()
	var clients []*client
	for range 5 {
		c := s.dial("/channel/websocket")
		for _, topic := range []string{"EVENTS", "EVENTS:spawn", "JOB:echo", fmt.Sprintf("PROCESS:%d", pid),
			fmt.Sprintf("STATS:%d", pid), "STATS:echo", fmt.Sprintf("STREAM:%d", pid)} {
			c.sub(topic)
		}
		clients = append(clients, c, s.dial(fmt.Sprintf("/%d/channel", pid)))
	}
	// 7 per channel (STATS:<pid> follows exits), 2 per process channel
	// (exits and output).
	gaffertest.Eventually(t, wait, "45 subscriptions open", func() bool { return s.h.open.Load() == 5*7+5*2 })
	for _, c := range clients {
		c.c.Close(websocket.StatusNormalClosure, "")
	}
	gaffertest.Eventually(t, wait, "every subscription released", func() bool { return s.h.open.Load() == 0 })
	if n := s.h.samplers.Load(); n != 0 {
		t.Errorf("%d samplers left", n)
	}
	checkGoroutines(t, before)
}
