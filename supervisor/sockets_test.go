package supervisor_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// fcgiGet sends one FastCGI request (responder role, connection closed
// after it) on c and returns the STDOUT stream (CGI headers and body).
// errAfterAccept wraps failures after the connect succeeded.
func fcgiGet(c net.Conn, path string) (string, error) {
	const (
		typeBegin, typeEnd, typeParams, typeStdin, typeStdout = 1, 3, 4, 5, 6
	)
	w := bufio.NewWriter(c)
	record := func(typ byte, body []byte) {
		h := []byte{1, typ, 0, 1, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(h[4:], uint16(len(body)))
		w.Write(h)
		w.Write(body)
	}
	record(typeBegin, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // role responder, flags 0: close after
	var params []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"SERVER_PROTOCOL", "HTTP/1.1"},
		{"REQUEST_URI", path}, {"SCRIPT_NAME", path}, {"HTTP_HOST", "localhost"}} {
		params = append(params, byte(len(kv[0])), byte(len(kv[1])))
		params = append(params, kv[0]...)
		params = append(params, kv[1]...)
	}
	record(typeParams, params)
	record(typeParams, nil)
	record(typeStdin, nil)
	if err := w.Flush(); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	var out strings.Builder
	for range 1000 {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return "", fmt.Errorf("read header: %w", err)
		}
		body := make([]byte, int(binary.BigEndian.Uint16(h[4:]))+int(h[6]))
		if _, err := io.ReadFull(r, body); err != nil {
			return "", fmt.Errorf("read body: %w", err)
		}
		switch h[1] {
		case typeStdout:
			out.Write(body[:binary.BigEndian.Uint16(h[4:])])
		case typeEnd:
			return out.String(), nil
		}
	}
	return "", errors.New("too many records")
}

// hammer counts what a client sees while something restarts the server.
type hammer struct {
	mu           sync.Mutex
	ok, refused  int
	dials        int // connects attempted
	errs         []error
	diedAccepted int // the connection was accepted, then its worker died: retried
	failed       int // still failing after retries
	lastErr      error
	pids         map[string]bool
}

func (h *hammer) run(ctx context.Context, dial func() (net.Conn, error), do func(net.Conn) (string, error)) {
	for i := 0; i < 100000 && ctx.Err() == nil; i++ {
		var body string
		var err error
		for try := 0; try < 5; try++ {
			var c net.Conn
			h.mu.Lock()
			h.dials++
			h.mu.Unlock()
			c, err = dial()
			if err != nil {
				h.mu.Lock()
				h.refused++
				h.lastErr = err
				h.mu.Unlock()
				break
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			body, err = do(c)
			c.Close()
			if err == nil {
				break
			}
			h.mu.Lock()
			h.diedAccepted++
			h.errs = append(h.errs, err)
			h.mu.Unlock()
		}
		h.mu.Lock()
		switch {
		case err == nil:
			h.ok++
			if pid, _, ok := strings.Cut(strings.SplitN(body, "pid=", 2)[len(strings.SplitN(body, "pid=", 2))-1], " "); ok {
				h.pids[pid] = true
			}
		case !isDialErr(err):
			h.failed++
			h.lastErr = err
		}
		h.mu.Unlock()
	}
}

func isDialErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (h *hammer) count() (ok, dials int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok, h.dials
}

func (h *hammer) report(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Logf("requests ok=%d refused=%d accepted-then-died (retried)=%d failed=%d distinct workers=%d; retried after: %v",
		h.ok, h.refused, h.diedAccepted, h.failed, len(h.pids), h.errs[:min(len(h.errs), 3)])
	if h.refused > 0 || h.failed > 0 {
		t.Errorf("refused %d, failed %d: last error %v", h.refused, h.failed, h.lastErr)
	}
	if h.ok == 0 {
		t.Error("no request succeeded")
	}
}

// TestFastCGIPoolUnderKills: an [fcgi-program] of three workers shares one
// listening socket as their stdin; a client keeps sending FastCGI requests
// while workers are SIGKILLed. The socket outlives every worker, so no
// connect is refused.
func TestFastCGIPoolUnderKills(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	sock := filepath.Join(t.TempDir(), "fcgi.sock")
	conf, err := config.ParseSupervisord("supervisord.conf", []byte(fmt.Sprintf(`[supervisord]
[fcgi-program:pool]
command = %s
environment = %s="fcgi"
numprocs = 3
process_name = worker_%%(process_num)d
socket = unix://%s
startsecs = 0
startretries = 100
stdout_logfile = NONE
stderr_logfile = NONE
`, gaffertest.Self(t), gaffertest.HelperEnv, sock)))
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, j := range conf.Jobs {
		if err := s.LoadEnv(ctx, j.Session, j.Config, nil, true); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j.FullName())
	}
	if len(jobs) != 3 {
		t.Fatalf("jobs %v", jobs)
	}
	for _, j := range jobs {
		gaffertest.Eventually(t, wait, j+" running", func() bool { return len(osPids(t, s, j)) == 1 })
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket file: %v %v", fi, err)
	}

	h := &hammer{pids: map[string]bool{}}
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.run(hctx, func() (net.Conn, error) { return net.Dial("unix", sock) },
				func(c net.Conn) (string, error) { return fcgiGet(c, "/x") })
		}()
	}
	kills := 0
	tick := time.NewTicker(100 * time.Millisecond)
	for hctx.Err() == nil && kills < 60 {
		<-tick.C
		pids := osPids(t, s, jobs[kills%3])
		if len(pids) == 1 {
			syscall.Kill(pids[0], syscall.SIGKILL)
			kills++
		}
	}
	tick.Stop()
	wg.Wait()
	t.Logf("workers killed: %d", kills)
	h.report(t)
	if kills < 5 {
		t.Errorf("only %d kills", kills)
	}
	if len(h.pids) <= 3 {
		t.Errorf("served by %d distinct workers: the killed ones were not replaced?", len(h.pids))
	}

	// Unloading the pool closes the socket and removes its file.
	for _, j := range jobs {
		if err := s.Unload(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	gaffertest.Eventually(t, wait, "socket file removed", func() bool {
		_, err := os.Stat(sock)
		return errors.Is(err, os.ErrNotExist)
	})
}

// socketInode is the inode of the socket at fd in process pid.
func socketInode(t *testing.T, pid, fd int) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	if err != nil || !strings.HasPrefix(l, "socket:[") {
		t.Fatalf("pid %d fd %d: %q %v", pid, fd, l, err)
	}
	return l
}

func httpGet(c net.Conn) (string, error) {
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// TestSocketActivation: a job gets its socket at fd 3 with LISTEN_FDS,
// LISTEN_PID (its own pid) and LISTEN_FDNAMES; restarts and a reload that
// keeps the socket never refuse a connection and keep the same socket.
func TestSocketActivation(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	addr := gaffertest.FreeAddr(t)
	cfg := helperJob(t, "web", "listen-http")
	cfg.NumProcesses = 2
	cfg.Sockets = []supervisor.Socket{{Name: "web", Network: "tcp", Address: addr}}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "2 processes", func() bool { return len(osPids(t, s, "web")) == 2 })
	pids := osPids(t, s, "web")
	ino := socketInode(t, pids[0], 3)
	if socketInode(t, pids[1], 3) != ino {
		t.Fatal("the two processes got different sockets")
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	body, err := httpGet(c)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	var pid, lpid int
	var fds, names string
	if _, err := fmt.Sscanf(body, "pid=%d listen_pid=%d fds=%s names=%s", &pid, &lpid, &fds, &names); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if pid != lpid || (pid != pids[0] && pid != pids[1]) || fds != "1" || names != "web" {
		t.Fatalf("got %q; job pids %v", body, pids)
	}

	h := &hammer{pids: map[string]bool{}}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(hctx, func() (net.Conn, error) { return net.Dial("tcp", addr) }, httpGet)
	}()
	for i := range 3 {
		ok0, _ := h.count()
		gaffertest.Eventually(t, wait, "requests served", func() bool { ok, _ := h.count(); return ok >= ok0+20 })
		before := osPids(t, s, "web")
		if err := s.StopJob(ctx, "web"); err != nil {
			t.Fatal(err)
		}
		gaffertest.Eventually(t, wait, "stopped", func() bool {
			return len(osPids(t, s, "web")) == 0 && gaffertest.Gone(before[0]) && gaffertest.Gone(before[1])
		})
		// A client connects while no process runs: the kernel queues it on
		// the supervisor's socket, and the next process serves it.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connect while stopped: %v", err)
		}
		c.SetDeadline(time.Now().Add(wait))
		served := make(chan error, 1)
		go func() { _, err := httpGet(c); served <- err }()
		if err := s.StartJob(ctx, "web"); err != nil {
			t.Fatal(err)
		}
		gaffertest.Eventually(t, wait, fmt.Sprint("restart ", i), func() bool { return len(osPids(t, s, "web")) == 2 })
		if err := <-served; err != nil {
			t.Errorf("request sent while stopped: %v", err)
		}
		c.Close()
	}
	ok0, _ := h.count()
	gaffertest.Eventually(t, wait, "requests served", func() bool { ok, _ := h.count(); return ok >= ok0+20 })
	// A config change that keeps the socket: processes are replaced, the
	// socket is the same one.
	cfg.Env["CHANGED"] = "1"
	old := osPids(t, s, "web")
	if err := s.Update(ctx, "", cfg, false); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "replaced", func() bool {
		p := osPids(t, s, "web")
		return len(p) == 2 && p[0] != old[0] && p[0] != old[1] && p[1] != old[0] && p[1] != old[1]
	})
	ok0, _ = h.count()
	gaffertest.Eventually(t, wait, "requests served", func() bool { ok, _ := h.count(); return ok >= ok0+20 })
	cancel()
	<-done
	h.report(t)
	if len(h.pids) < 8 {
		t.Errorf("served by %d processes, want the 2 of each of 5 generations", len(h.pids))
	}
	if got := socketInode(t, osPids(t, s, "web")[0], 3); got != ino {
		t.Errorf("after update: socket %s, was %s", got, ino)
	}

	// A changed address: the new socket serves, the old one is closed once
	// the old processes are gone.
	addr2 := gaffertest.FreeAddr(t)
	cfg.Sockets[0].Address = addr2
	if err := s.Update(ctx, "", cfg, false); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "serving on the new address", func() bool {
		c, err := net.Dial("tcp", addr2)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = httpGet(c)
		return err == nil
	})
	gaffertest.Eventually(t, wait, "old address closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if err := s.Unload(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "closed at unload", func() bool {
		c, err := net.Dial("tcp", addr2)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// TestSocketBindError: a socket that cannot be bound is a spawn error that
// names it.
func TestSocketBindError(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sub := s.Subscribe(100, supervisor.DropOldest)
	defer sub.Close()
	cfg := helperJob(t, "clash", "listen-http")
	cfg.Sockets = []supervisor.Socket{{Network: "tcp", Address: busy.Addr().String()}}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	e := gaffertest.WaitFor(t, sub, wait, func(e supervisor.Event) bool { return e.Type == "spawn_error" })
	if !strings.Contains(e.Reason, "tcp://"+busy.Addr().String()) || !strings.Contains(e.Reason, "address already in use") {
		t.Errorf("spawn error %q", e.Reason)
	}
}

// TestSocketsClosedAtShutdown: when the supervisor stops, its sockets are
// closed and unix socket files removed.
func TestSocketsClosedAtShutdown(t *testing.T) {
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	sock := filepath.Join(t.TempDir(), "app.sock")
	cfg := helperJob(t, "app", "listen-http")
	cfg.Sockets = []supervisor.Socket{{Name: "app", Network: "unix", Address: sock}}
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "serving", func() bool {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = httpGet(c)
		return err == nil
	})
	cancel()
	select {
	case <-s.Done():
	case <-time.After(wait):
		t.Fatal("supervisor did not stop")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after shutdown: %v", err)
	}
}
