package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// mailbox is a real SMTP server on loopback recording the messages it
// accepts.
type mailbox struct {
	port int
	mu   sync.Mutex
	msgs []*mail.Message
	got  chan *mail.Message
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{got: make(chan *mail.Message, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{mb}, nil }))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done }) // after gafferd has stopped: cleanups run last-in first-out
	return mb
}

func (mb *mailbox) next(t *testing.T, what string) (subject, body string) {
	t.Helper()
	select {
	case m := <-mb.got:
		b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		return m.Header.Get("Subject"), string(b)
	case <-time.After(15 * time.Second):
		t.Fatalf("no mail within 15s: waiting for %s", what)
		return "", ""
	}
}

func (mb *mailbox) count() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.msgs)
}

type mailboxSession struct{ mb *mailbox }

func (s *mailboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailboxSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailboxSession) Reset()                               {}
func (s *mailboxSession) Logout() error                        { return nil }
func (s *mailboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, m)
	s.mb.mu.Unlock()
	s.mb.got <- m
	return nil
}

func TestEmailOnCrashFollowsReloadAndIsQuietAtShutdown(t *testing.T) {
	mb := startMailbox(t)
	ini := func(prefix string) string {
		return fmt.Sprintf(`
[email]
host = 127.0.0.1
port = %d
tls = none
from = gafferd@example.com
to = ops@example.com
batch = 0.2
subject_prefix = %s
[job:web]
cmd = sleep 300
`, mb.port, prefix)
	}
	d := startDaemon(t, ini("[test]"))

	pid := d.osPids("default.web")[0]
	syscall.Kill(pid, syscall.SIGKILL)
	subject, body := mb.next(t, "the crash of web")
	if !strings.HasPrefix(subject, "[test] ") || !strings.HasSuffix(subject, ": web exited") {
		t.Errorf("subject %q", subject)
	}
	if want := fmt.Sprintf("default.web  pid 1 (os %d)  killed by SIGKILL (9)", pid); !strings.Contains(body, want) {
		t.Errorf("body:\n%s\nwant a line with %q", body, want)
	}

	// SIGHUP applies new settings to the next message.
	d.writeConfig(ini("[reloaded]"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	gaffertest.Eventually(t, 10*time.Second, "the reload", func() bool {
		return strings.Contains(d.stderr.String(), "SIGHUP: config reloaded")
	})
	var next int
	gaffertest.Eventually(t, 10*time.Second, "web restarted", func() bool {
		pids := d.osPids("default.web")
		next = 0
		if len(pids) == 1 && pids[0] != pid {
			next = pids[0]
		}
		return next != 0
	})
	syscall.Kill(next, syscall.SIGKILL)
	subject, body = mb.next(t, "the second crash of web")
	if !strings.HasPrefix(subject, "[reloaded] ") || !strings.Contains(body, fmt.Sprintf("(os %d)  killed by SIGKILL (9)", next)) {
		t.Errorf("after reload: subject %q body\n%s", subject, body)
	}

	// Stopping gafferd stops web: that exit is no crash, and no mail.
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.waited:
		d.waited <- err // for the cleanup
		if err != nil {
			t.Fatalf("gafferd exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gafferd did not stop on SIGTERM")
	}
	if n := mb.count(); n != 2 {
		t.Errorf("%d messages, want 2: the shutdown mailed something", n)
	}
}
