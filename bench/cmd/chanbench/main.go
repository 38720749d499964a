// Command chanbench measures gafferd's live channel (/channel/websocket):
//
//   - fanout: S websocket clients subscribe to one job's events; a controller
//     pipelines M `killall JOB CONT` commands over its own websocket; every
//     command publishes one `job.<job>.kill` event, which every subscriber
//     must receive. Reported: events delivered per second (all subscribers),
//     p50/p99 delivery latency (command sent → event received), gafferd CPU.
//   - stream: a child writes MB megabytes of numbered 100-byte lines to its
//     stdout once C clients are subscribed to its STREAM topic. Reported:
//     time until the log file holds every line, MB/s, bytes each subscriber
//     received, gafferd CPU, and whether the log has every line once and in
//     order.
//
// It starts gafferd itself on a supervisord.conf in a temp dir (so the child
// gets a real stdout_logfile with rotation) and prints a markdown table.
//
//	chanbench -gafferd PATH -writer PATH [-subs 100] [-events 2000] [-mb 50] [-streamers 10]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/bench/internal/numline"
)

type bench struct {
	gafferd, writer string
	subs, events    int
	mb, streamers   int
	dir             string
	addr            string
	cmd             *exec.Cmd
}

func main() {
	var b bench
	flag.StringVar(&b.gafferd, "gafferd", "", "gafferd binary")
	flag.StringVar(&b.writer, "writer", "", "writer binary (bench/cmd/writer)")
	flag.IntVar(&b.subs, "subs", 100, "fanout: websocket subscribers")
	flag.IntVar(&b.events, "events", 2000, "fanout: events published")
	flag.IntVar(&b.mb, "mb", 50, "stream: MB (2^20 bytes) the child writes")
	flag.IntVar(&b.streamers, "streamers", 10, "stream: websocket subscribers of the output")
	keep := flag.Bool("keep", false, "keep the temp dir")
	flag.Parse()
	if b.gafferd == "" || b.writer == "" {
		fmt.Fprintln(os.Stderr, "chanbench: -gafferd and -writer are required")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "chanbench.")
	if err != nil {
		fatal(err)
	}
	b.dir = dir
	if !*keep {
		defer os.RemoveAll(dir)
	}
	if err := b.start(); err != nil {
		fatal(err)
	}
	defer b.stop()

	fmt.Printf("# gafferd live channel (load %s)\n\n", loadavg())
	fmt.Println("| scenario | figure | value |")
	fmt.Println("|---|---|---|")
	for _, window := range []int{1, 128} {
		if err := b.fanout(window); err != nil {
			b.stop()
			fatal(fmt.Errorf("fanout: %w", err))
		}
	}
	if err := b.stream(); err != nil {
		b.stop()
		fatal(fmt.Errorf("stream: %w", err))
	}
	fmt.Printf("\n(load after: %s)\n", loadavg())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "chanbench:", err)
	os.Exit(1)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start writes a supervisord.conf and starts gafferd on it.
func (b *bench) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	b.addr = fmt.Sprintf("127.0.0.1:%d", port)
	lines := b.mb << 20 / numline.Size
	conf := fmt.Sprintf(`[supervisord]
logfile=%[1]s/gafferd.log
pidfile=%[1]s/gafferd.pid
childlogdir=%[1]s

[unix_http_server]
file=%[1]s/gafferd.sock

[inet_http_server]
port=%[2]s

[program:sleep]
command=sleep 3600
startsecs=0

[program:writer]
command=sh -c 'read go && exec %[3]s -lines %[4]d'
autostart=true
autorestart=false
startsecs=0
stdout_logfile=%[1]s/writer.log
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=%[5]d
`, b.dir, b.addr, b.writer, lines, b.mb/10+2)
	path := filepath.Join(b.dir, "supervisord.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(b.dir, "gafferd.out"))
	if err != nil {
		return err
	}
	b.cmd = exec.Command(b.gafferd, "-c", path)
	b.cmd.Stdout, b.cmd.Stderr = out, out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + b.addr + "/ping")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("gafferd did not answer within 20 s; see " + filepath.Join(b.dir, "gafferd.out"))
}

func (b *bench) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	b.cmd = nil
}

// cpu returns gafferd's user+system CPU time.
func (b *bench) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// conn is one channel client.
type conn struct {
	c *websocket.Conn
}

func (b *bench) dial(ctx context.Context) (*conn, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+b.addr+"/channel/websocket", &websocket.DialOptions{})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(64 << 20)
	return &conn{c: c}, nil
}

func (c *conn) send(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.c.Write(ctx, websocket.MessageText, data)
}

type message struct {
	Event string          `json:"event"`
	Topic string          `json:"topic"`
	Data  json.RawMessage `json:"data"`
}

func (c *conn) read(ctx context.Context) (message, error) {
	var m message
	_, data, err := c.c.Read(ctx)
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(data, &m)
	return m, err
}

// subscribe sends SUB and waits for its success message.
func (c *conn) subscribe(ctx context.Context, topic string) error {
	if err := c.send(ctx, map[string]any{"event": "SUB", "data": map[string]any{"topic": topic}}); err != nil {
		return err
	}
	for range 100 {
		m, err := c.read(ctx)
		if err != nil {
			return err
		}
		switch m.Event {
		case "gaffer:subscription_success":
			return nil
		case "gaffer:subscription_error", "subscription_error", "gaffer:error":
			return fmt.Errorf("SUB %s: %s", topic, m.Data)
		}
	}
	return fmt.Errorf("SUB %s: no answer", topic)
}

// command runs one CMD and returns its result.
func (c *conn) command(ctx context.Context, name string, args ...any) (json.RawMessage, error) {
	id := "c" + strconv.Itoa(int(time.Now().UnixNano()))
	if err := c.send(ctx, map[string]any{"event": "CMD", "data": map[string]any{"identity": id, "name": name, "args": args}}); err != nil {
		return nil, err
	}
	for range 1000 {
		m, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		var d struct {
			ID     string          `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		json.Unmarshal(m.Data, &d)
		if d.ID != id {
			continue
		}
		if m.Event == "gaffer:command_error" {
			return nil, fmt.Errorf("%s: %s", name, d.Error)
		}
		return d.Result, nil
	}
	return nil, fmt.Errorf("%s: no answer", name)
}

func (b *bench) fanout(window int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const job = "sleep.sleep"
	topic := "EVENTS:job." + job + ".kill"
	subs := make([]*conn, b.subs)
	for i := range subs {
		c, err := b.dial(ctx)
		if err != nil {
			return err
		}
		defer c.c.CloseNow()
		if err := c.subscribe(ctx, topic); err != nil {
			return err
		}
		subs[i] = c
	}
	ctl, err := b.dial(ctx)
	if err != nil {
		return err
	}
	defer ctl.c.CloseNow()
	if _, err := ctl.command(ctx, "pids", job); err != nil {
		return err
	}

	sent := make([]atomic.Int64, b.events) // UnixNano of each command
	lat := make([][]time.Duration, b.subs)
	var wg sync.WaitGroup
	var failed atomic.Value
	for i, c := range subs {
		lat[i] = make([]time.Duration, 0, b.events)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(lat[i]) < b.events {
				m, err := c.read(ctx)
				if err != nil {
					failed.Store(fmt.Errorf("subscriber %d after %d events: %w", i, len(lat[i]), err))
					return
				}
				if m.Event != "gaffer:event" {
					continue
				}
				now := time.Now()
				lat[i] = append(lat[i], time.Duration(now.UnixNano()-sent[len(lat[i])].Load()))
			}
		}()
	}
	// Drain the controller's answers so its socket never backs up, and keep
	// at most `window` commands unanswered: a real client paces itself, and
	// an unpaced burst only measures how fast queues fill (a subscriber more
	// than its queue behind is disconnected, by design). Window 1 measures
	// latency, a wide window throughput.
	acks := make(chan struct{}, b.events)
	go func() {
		for {
			if _, _, err := ctl.c.Read(ctx); err != nil {
				return
			}
			acks <- struct{}{}
		}
	}()
	cpu0 := b.cpu()
	t0 := time.Now()
	for k := range b.events {
		if k >= window {
			select {
			case <-acks:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		sent[k].Store(time.Now().UnixNano())
		msg := map[string]any{"event": "CMD", "data": map[string]any{"identity": "k" + strconv.Itoa(k), "name": "killall", "args": []any{job, "CONT"}}}
		if err := ctl.send(ctx, msg); err != nil {
			return err
		}
	}
	wg.Wait()
	wall := time.Since(t0)
	cpu := b.cpu() - cpu0
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	total := len(all)
	name := fmt.Sprintf("fanout, %d in flight", window)
	fmt.Printf("| %s | subscribers × events | %d × %d |\n", name, b.subs, b.events)
	fmt.Printf("| %s | events delivered/s (all subscribers) | %.0f |\n", name, float64(total)/wall.Seconds())
	fmt.Printf("| %s | delivery latency p50 / p99 | %s / %s |\n", name, ms(pct(all, 50)), ms(pct(all, 99)))
	fmt.Printf("| %s | gafferd CPU | %.2f s for %.2f s wall |\n", name, cpu.Seconds(), wall.Seconds())
	return nil
}

func (b *bench) stream() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ctl, err := b.dial(ctx)
	if err != nil {
		return err
	}
	defer ctl.c.CloseNow()
	res, err := ctl.command(ctx, "pids", "writer.writer")
	if err != nil {
		return err
	}
	var p struct{ Pids []int }
	if err := json.Unmarshal(res, &p); err != nil || len(p.Pids) != 1 {
		return fmt.Errorf("pids of writer.writer: %s", res)
	}
	pid := p.Pids[0]
	total := int64(b.mb) << 20
	got := make([]int64, b.streamers)
	dropped := make([]int64, b.streamers)
	var wg sync.WaitGroup
	for i := range b.streamers {
		c, err := b.dial(ctx)
		if err != nil {
			return err
		}
		defer c.c.CloseNow()
		if err := c.subscribe(ctx, "STREAM:"+strconv.Itoa(pid)); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got[i] < total {
				m, err := c.read(ctx)
				if err != nil {
					return // closed on overflow, or at the end
				}
				var d struct {
					Data    string `json:"data"`
					Dropped int64  `json:"dropped"`
				}
				if m.Event != "gaffer:event" || json.Unmarshal(m.Data, &d) != nil {
					continue
				}
				got[i] += int64(len(d.Data))
				dropped[i] += d.Dropped
			}
		}()
	}
	if err := ctl.subscribe(ctx, "JOB:writer.writer"); err != nil {
		return err
	}
	cpu0 := b.cpu()
	t0 := time.Now()
	if _, err := ctl.command(ctx, "send", pid, "go\n"); err != nil {
		return err
	}
	// The child is done at its exit event; its log is complete once the
	// pump has written what was still in the pipe.
	for {
		m, err := ctl.read(ctx)
		if err != nil {
			return err
		}
		var d struct{ Event string }
		json.Unmarshal(m.Data, &d)
		if m.Event == "gaffer:event" && d.Event == "exit" {
			break
		}
	}
	lines, ok, err := b.waitLog(ctx, b.mb<<20/numline.Size)
	wall := time.Since(t0)
	cpu := b.cpu() - cpu0
	if err != nil {
		return err
	}
	// Give subscribers a moment to drain what was queued, then close them.
	waitTimeout(&wg, 10*time.Second)
	cancel()
	var min, max int64 = total, 0
	var drops int64
	for i := range got {
		min, max = minI(min, got[i]), maxI(max, got[i])
		drops += dropped[i]
	}
	fmt.Printf("| stream | child writes, subscribers | %d MB, %d |\n", b.mb, b.streamers)
	fmt.Printf("| stream | time until the log is complete | %.2f s (%.0f MB/s) |\n", wall.Seconds(), float64(b.mb)/wall.Seconds())
	fmt.Printf("| stream | log: lines, every line once and in order | %d, %v |\n", lines, ok)
	fmt.Printf("| stream | bytes per subscriber (min / max of %d MB) | %.1f / %.1f MB |\n", b.mb, mb(min), mb(max))
	fmt.Printf("| stream | gafferd CPU | %.2f s |\n", cpu.Seconds())
	return nil
}

// waitLog checks the rotated log files until they hold want lines, for at
// most 10 s (the child has exited; only the pump's last writes remain).
func (b *bench) waitLog(ctx context.Context, want int) (int, bool, error) {
	base := filepath.Join(b.dir, "writer.log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, ok, err := checkLog(base, want)
		if err != nil || n >= want || time.Now().After(deadline) || ctx.Err() != nil {
			return n, ok && n == want, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkLog reads base.N … base.1, base as one stream (rotation cuts at
// byte boundaries, not lines) and checks the numbering: it returns the
// lines read and whether they are 0 … n-1 once each and in order.
func checkLog(base string, want int) (int, bool, error) {
	var rs []io.Reader
	for i := 100; i >= 0; i-- {
		p := base
		if i > 0 {
			p += "." + strconv.Itoa(i)
		}
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		defer f.Close()
		rs = append(rs, f)
	}
	c := numline.NewChecker(uint64(want))
	if err := c.Feed(rs...); err != nil {
		return 0, false, err
	}
	return int(c.Lines), c.OK(), nil
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	return d[min(max(i-1, 0), len(d)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func mb(n int64) float64        { return float64(n) / (1 << 20) }
func minI(a, b int64) int64     { return min(a, b) }
func maxI(a, b int64) int64     { return max(a, b) }

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}
