package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// received is one message a test SMTP server accepted.
type received struct {
	from    string
	to      []string
	tls     bool   // the session was encrypted (STARTTLS or implicit)
	user    string // AUTH PLAIN user, "" without AUTH
	helo    string
	header  mail.Header
	subject string // decoded
	body    string // decoded
}

// smtpServer is a real SMTP server on loopback (go-smtp) that records what
// it accepts.
type smtpServer struct {
	srv  *smtp.Server
	ln   net.Listener
	port int
	mu   sync.Mutex
	msgs []received
	got  chan received
}

type serverOpts struct {
	tls      *tls.Config // STARTTLS offered with it
	implicit bool        // TLS from the first byte (tls must be set)
	users    map[string]string
	ln       net.Listener // listen here; 127.0.0.1:0 when nil
}

func startSMTP(t *testing.T, o serverOpts) *smtpServer {
	t.Helper()
	s := &smtpServer{got: make(chan received, 100)}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, c: c, users: o.users}, nil
	})
	s.srv = smtp.NewServer(be)
	s.srv.Domain = "mx.test"
	s.srv.TLSConfig = o.tls
	s.srv.AllowInsecureAuth = o.tls == nil // loopback: gafferd may authenticate in cleartext
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln := o.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if o.implicit {
		ln = tls.NewListener(ln, o.tls)
	}
	s.ln, s.port = ln, ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); s.srv.Serve(ln) }()
	t.Cleanup(func() { s.srv.Close(); <-done })
	return s
}

// next waits for the next message.
func (s *smtpServer) next(t *testing.T, what string) received {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message within 10s: waiting for %s", what)
		return received{}
	}
}

func (s *smtpServer) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	s     *smtpServer
	c     *smtp.Conn
	users map[string]string
	user  string
	from  string
	to    []string
}

func (x *smtpSession) AuthMechanisms() []string {
	if x.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if p, ok := x.users[user]; !ok || p != pass {
			return errors.New("bad credentials")
		}
		x.user = user
		return nil
	}), nil
}

func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if x.users != nil && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	rcv := received{from: x.from, to: x.to, user: x.user, helo: x.c.Hostname(), header: m.Header}
	_, rcv.tls = x.c.TLSConnectionState()
	rcv.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return err
	}
	rcv.body = strings.ReplaceAll(string(b), "\r\n", "\n")
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, rcv)
	x.s.mu.Unlock()
	x.s.got <- rcv
	return nil
}

func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }

// selfSigned returns a server config for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// logSink is a slog handler that records messages and signals warnings.
type logSink struct {
	mu    sync.Mutex
	lines []string
	warns chan string
}

func newLogSink() *logSink { return &logSink{warns: make(chan string, 1000)} }

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		select {
		case l.warns <- b.String():
		default:
		}
	}
	return nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitWarn waits for a warning containing s.
func (l *logSink) waitWarn(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case w := <-l.warns:
			if strings.Contains(w, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no warning %q within 10s; log:\n%s", s, l)
		}
	}
}

// mailRig is a Mailer reading a bus of its own.
type mailRig struct {
	bus  *events.Bus
	sub  *events.Sub
	m    *Mailer
	log  *logSink
	done chan struct{}
	stop context.CancelFunc
}

func startMailer(t *testing.T, opts MailerOptions, cfg *config.Email) *mailRig {
	t.Helper()
	r := &mailRig{bus: events.NewBus(), log: newLogSink(), done: make(chan struct{})}
	r.sub = r.bus.Subscribe(1000, events.DropOldest, MailPatterns...)
	if opts.Hostname == "" {
		opts.Hostname = "node1"
	}
	opts.Logger = slog.New(r.log)
	r.m = NewMailer(opts)
	if err := r.m.Set(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { defer close(r.done); r.m.Run(ctx, r.sub) }()
	t.Cleanup(func() {
		cancel()
		r.sub.Close()
		<-r.done
		if t.Failed() {
			t.Logf("mailer log:\n%s", r.log)
		}
	})
	return r
}

// flush closes the subscription, as gafferd does at shutdown, and waits for
// Run to send what is queued and return.
func (r *mailRig) flush(t *testing.T) {
	t.Helper()
	r.sub.Close()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its subscription closing")
	}
}

func (r *mailRig) exit(name string, pid, status, signal int) {
	r.bus.Publish(events.Event{Type: "exit", Name: name, Pid: pid, OSPid: 1000 + pid, ExitStatus: status, TermSignal: signal})
}

func (r *mailRig) health(name string, pid int, h, reason string) {
	r.bus.Publish(events.Event{Type: h, Name: name, Pid: pid, OSPid: 1000 + pid, Reason: reason})
}

func (r *mailRig) state(name string, pid int, from, to string, expected bool) {
	r.bus.Publish(events.Event{Type: "state", Name: name, Pid: pid, From: from, To: to, Expected: expected})
}

func emailTo(port int) *config.Email {
	return &config.Email{Host: "127.0.0.1", Port: port, TLS: config.EmailNoTLS, From: "Gaffer <gaffer@example.com>",
		To: []string{"ops@example.com", "oncall@example.com"}, Batch: 300 * time.Millisecond}
}

// lines are the body's event lines (after the blank line).
func lines(body string) []string {
	_, list, _ := strings.Cut(body, "\n\n")
	return strings.Split(strings.TrimSuffix(list, "\n"), "\n")
}

func TestMailBurstIsOneMessage(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	r := startMailer(t, MailerOptions{}, emailTo(s.port))
	r.exit("default.web", 1, 3, 0)
	r.health("default.db", 2, "unhealthy", "GET /health: 503\nService Unavailable")
	r.exit("default.web", 3, 0, 9)
	r.exit("default.web", 4, 0, 0) // a clean exit is not a crash
	r.flush(t)

	msgs := s.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if want := "[gaffer] node1: 3 events (web exited, db unhealthy)"; m.subject != want {
		t.Errorf("subject %q, want %q", m.subject, want)
	}
	got := lines(m.body)
	want := []string{
		"default.web  pid 1 (os 1001)  exited with status 3",
		"default.db  pid 2 (os 1002)  failed its health check: GET /health: 503 Service Unavailable",
		"default.web  pid 3 (os 1003)  killed by SIGKILL (9)",
	}
	if !strings.HasPrefix(m.body, "gafferd on node1 reports 3 events:\n\n") || len(got) != len(want) {
		t.Fatalf("body:\n%s", m.body)
	}
	for i, l := range got {
		// Each line starts with the event's time: "2006-01-02 15:04:05.000 MST  ".
		ts, _, _ := strings.Cut(l, "  ")
		if _, err := time.Parse("2006-01-02 15:04:05.000 MST", ts); err != nil {
			t.Errorf("line %d does not start with a time: %q: %v", i, l, err)
		}
		if !strings.HasSuffix(l, want[i]) {
			t.Errorf("line %d = %q, want it to end %q", i, l, want[i])
		}
	}
	if m.from != "gaffer@example.com" || strings.Join(m.to, ",") != "ops@example.com,oncall@example.com" {
		t.Errorf("envelope from %q to %q", m.from, m.to)
	}
	h := m.header
	if h.Get("From") != `"Gaffer" <gaffer@example.com>` || h.Get("To") != "<ops@example.com>, <oncall@example.com>" ||
		h.Get("MIME-Version") != "1.0" || h.Get("Content-Type") != "text/plain; charset=utf-8" ||
		!strings.HasSuffix(h.Get("Message-ID"), "@node1>") {
		t.Errorf("headers %v", h)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Hour || time.Since(d) < -time.Hour {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if m.helo != "node1" || m.tls || m.user != "" {
		t.Errorf("helo %q tls %v user %q", m.helo, m.tls, m.user)
	}
	if st := r.m.Stats(); st.Sent != 1 || st.Events != 3 || st.Failed != 0 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestMailBurstsApartAreTwoMessages(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	cfg := emailTo(s.port)
	cfg.SubjectPrefix, cfg.Helo = "[prod]", "gaffer.example.com"
	r := startMailer(t, MailerOptions{}, cfg)
	r.exit("shop.web", 1, 1, 0)
	r.exit("shop.web", 2, 1, 0)
	first := s.next(t, "the first burst")
	// The window has ended (its message is in): what comes now is another.
	r.health("shop.db", 3, "unhealthy", "timeout")
	second := s.next(t, "the second burst")
	if first.subject != "[prod] node1: 2 events (shop.web exited)" || len(lines(first.body)) != 2 {
		t.Errorf("first: %q\n%s", first.subject, first.body)
	}
	if second.subject != "[prod] node1: shop.db unhealthy" || len(lines(second.body)) != 1 {
		t.Errorf("second: %q\n%s", second.subject, second.body)
	}
	if first.helo != "gaffer.example.com" || first.header.Get("Message-ID") == second.header.Get("Message-ID") {
		t.Errorf("helo %q, message ids %q %q", first.helo, first.header.Get("Message-ID"), second.header.Get("Message-ID"))
	}
	r.flush(t)
	if n := len(s.all()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

func TestMailServerDownThenUpLosesNothing(t *testing.T) {
	// A port that refuses connections until the server starts on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)

	cfg := emailTo(port)
	cfg.Username, cfg.Password = "ops", "hunter2-secret"
	r := startMailer(t, MailerOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, cfg)
	for i := 1; i <= 3; i++ {
		r.exit("default.web", i, i, 0)
	}
	r.log.waitWarn(t, "sending failed")
	for i := 4; i <= 6; i++ { // during the outage: they join the pending message
		r.exit("default.web", i, i, 0)
	}
	gaffertest.Eventually(t, 10*time.Second, "6 notifications queued", func() bool { return r.m.Stats().Queued == 6 })
	r.log.waitWarn(t, "sending failed")
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	s := startSMTP(t, serverOpts{ln: ln, users: map[string]string{"ops": "hunter2-secret"}})
	m := s.next(t, "the messages queued during the outage")
	got := lines(m.body)
	if len(got) != 6 {
		t.Fatalf("%d lines, want 6:\n%s", len(got), m.body)
	}
	for i, l := range got {
		if !strings.HasSuffix(l, fmt.Sprintf("pid %d (os %d)  exited with status %d", i+1, 1001+i, i+1)) {
			t.Errorf("line %d out of order or wrong: %q", i, l)
		}
	}
	if m.user != "ops" {
		t.Errorf("AUTH user %q, want ops (loopback may authenticate in cleartext)", m.user)
	}
	r.flush(t)
	st := r.m.Stats()
	if st.Sent != 1 || st.Events != 6 || st.Failed < 2 || st.Retried < 2 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	if strings.Contains(r.log.String(), "hunter2") {
		t.Errorf("the password is in the log:\n%s", r.log)
	}
}

func TestMailSTARTTLSAndImplicitTLS(t *testing.T) {
	serverTLS, pool := selfSigned(t)
	users := map[string]string{"ops": "pw"}
	for _, implicit := range []bool{false, true} {
		s := startSMTP(t, serverOpts{tls: serverTLS, implicit: implicit, users: users})
		cfg := emailTo(s.port)
		cfg.TLS, cfg.Username, cfg.Password, cfg.Batch = config.EmailStartTLS, "ops", "pw", 0
		if implicit {
			cfg.TLS = config.EmailTLS
		}
		r := startMailer(t, MailerOptions{RootCAs: pool}, cfg)
		r.exit("default.web", 1, 2, 0)
		m := s.next(t, cfg.TLS)
		if !m.tls || m.user != "ops" || !strings.HasSuffix(lines(m.body)[0], "exited with status 2") {
			t.Errorf("%s: tls %v user %q body\n%s", cfg.TLS, m.tls, m.user, m.body)
		}
	}

	// A certificate nobody vouches for is refused: nothing is sent.
	s := startSMTP(t, serverOpts{tls: serverTLS})
	cfg := emailTo(s.port)
	cfg.TLS, cfg.Batch = config.EmailStartTLS, 0
	r := startMailer(t, MailerOptions{MinBackoff: time.Hour}, cfg)
	r.exit("default.web", 1, 2, 0)
	r.log.waitWarn(t, "certificate")
	r.stop()
	<-r.done
	if st := r.m.Stats(); len(s.all()) != 0 || st.Sent != 0 || st.Failed != 1 || st.Dropped != 1 {
		t.Errorf("unverified server got %d messages; stats %+v", len(s.all()), st)
	}

	// A server without STARTTLS is not sent to in cleartext.
	plain := startSMTP(t, serverOpts{})
	cfg = emailTo(plain.port)
	cfg.TLS, cfg.Batch = config.EmailStartTLS, 0
	r = startMailer(t, MailerOptions{MinBackoff: time.Hour}, cfg)
	r.exit("default.web", 1, 2, 0)
	r.log.waitWarn(t, "does not offer STARTTLS")
}

func TestMailEventFilteringAndKinds(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	cfg := emailTo(s.port)
	cfg.Events = []string{config.EmailFatal, config.EmailRecovered, config.EmailSpawnError, config.EmailFlap}
	r := startMailer(t, MailerOptions{}, cfg)
	// A supervisord program: crashes, backs off, goes FATAL, then runs again.
	r.state("web.web", 0, "STOPPED", "STARTING", false)
	r.state("web.web", 1, "STARTING", "RUNNING", false)
	r.exit("web.web", 1, 1, 0)
	r.state("web.web", 1, "RUNNING", "EXITED", false) // exit: filtered out
	r.state("web.web", 0, "EXITED", "STARTING", false)
	r.state("web.web", 0, "STARTING", "BACKOFF", false) // never spawned: spawn_error
	r.state("web.web", 0, "BACKOFF", "FATAL", false)
	r.state("web.web", 0, "FATAL", "STARTING", false)
	r.state("web.web", 2, "STARTING", "RUNNING", false)
	r.health("default.db", 5, "unhealthy", "refused") // filtered out
	r.health("default.db", 5, "healthy", "")
	r.bus.Publish(events.Event{Type: "flap", Name: "default.worker", Reason: supervisor.FlapPaused, Tries: 1})
	r.bus.Publish(events.Event{Type: "flap", Name: "default.api", Reason: supervisor.FlapGaveUp, Tries: 5})
	r.bus.Publish(events.Event{Type: "spawn_error", Name: "default.cron", Reason: "exec: \"nope\": not found"})
	r.flush(t)
	msgs := s.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	want := []string{
		"web.web  could not be started (BACKOFF)",
		"web.web  FATAL: gave up starting it",
		"web.web  pid 2  RUNNING again",
		"default.db  pid 5 (os 1005)  healthy again",
		"default.worker  flapping: paused, restarts later",
		"default.api  flapping: given up, start it again by hand",
		"default.cron  could not be started: exec: \"nope\": not found",
	}
	got := lines(msgs[0].body)
	if len(got) != len(want) {
		t.Fatalf("body:\n%s\nwant lines ending:\n%s", msgs[0].body, strings.Join(want, "\n"))
	}
	for i := range got {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("line %d = %q, want it to end %q", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(msgs[0].subject, "[gaffer] node1: 7 events (web failed to start, web FATAL, web recovered, db recovered, worker flapping, api gave up") {
		t.Errorf("subject %q", msgs[0].subject)
	}
}

func TestMailExpectedExitsAreQuiet(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	cfg := emailTo(s.port)
	cfg.Events = config.EmailEvents
	r := startMailer(t, MailerOptions{}, cfg)
	// gaffer stops a process (scale down, update): its exit is expected.
	r.bus.Publish(events.Event{Type: "stop_process", Name: "default.web", Pid: 1})
	r.exit("default.web", 1, 0, 15)
	// A one-off command's exit is its own business.
	r.bus.Publish(events.Event{Type: "exit", Name: "default.web", Pid: 2, ExitStatus: 1, Once: true})
	// A program exits with an expected code, then is stopped.
	r.state("app.app", 3, "STARTING", "RUNNING", false)
	r.exit("app.app", 3, 0, 0)
	r.state("app.app", 3, "RUNNING", "EXITED", true)
	r.state("app.app", 4, "STARTING", "RUNNING", false)
	r.state("app.app", 4, "RUNNING", "STOPPING", false)
	r.exit("app.app", 4, 0, 15)
	r.state("app.app", 4, "STOPPING", "STOPPED", false)
	// A program whose exit code is unexpected, and one exiting too quickly.
	r.exit("app.app", 5, 7, 0)
	r.state("app.app", 5, "RUNNING", "EXITED", false)
	r.state("app.app", 0, "EXITED", "STARTING", false)
	r.exit("app.app", 6, 1, 0)
	r.state("app.app", 0, "STARTING", "BACKOFF", false)
	// Once the daemon shuts down, exits and FATALs are its doing.
	r.m.ShuttingDown()
	r.exit("default.worker", 7, 0, 15)
	r.state("app.app", 0, "BACKOFF", "FATAL", false)
	r.flush(t)
	msgs := s.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	got := lines(msgs[0].body)
	want := []string{"app.app  pid 5 (os 1005)  exited with status 7, not an expected exit code",
		"app.app  pid 6 (os 1006)  exited with status 1 too quickly (BACKOFF)"}
	if len(got) != 2 || !strings.HasSuffix(got[0], want[0]) || !strings.HasSuffix(got[1], want[1]) {
		t.Errorf("body:\n%s\nwant lines ending\n%s", msgs[0].body, strings.Join(want, "\n"))
	}
	if msgs[0].subject != "[gaffer] node1: 2 events (app exited)" {
		t.Errorf("subject %q", msgs[0].subject)
	}
}

func TestMailCapsEventsPerMessage(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	r := startMailer(t, MailerOptions{MaxEvents: 3}, emailTo(s.port))
	for i := 1; i <= 5; i++ {
		r.exit(fmt.Sprintf("default.job%d", i), i, 1, 0)
	}
	r.flush(t)
	msgs := s.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	body := msgs[0].body
	if !strings.Contains(body, "reports 5 events") || !strings.Contains(body, "… and 2 more before these, not listed") ||
		strings.Contains(body, "job1 ") || strings.Contains(body, "job2 ") || !strings.Contains(body, "default.job5") {
		t.Errorf("body:\n%s", body)
	}
	if want := "[gaffer] node1: 5 events (job3 exited, job4 exited, job5 exited, …)"; msgs[0].subject != want {
		t.Errorf("subject %q, want %q", msgs[0].subject, want)
	}
	if st := r.m.Stats(); st.Sent != 1 || st.Events != 5 || st.Dropped != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestMailSubjectIsBounded(t *testing.T) {
	cfg := emailTo(25)
	cfg.ApplyDefaults()
	b := &mailBatch{}
	for i := range 50 {
		b.notes = append(b.notes, mailNote{Job: fmt.Sprintf("default.job-with-a-long-name-%d", i), Short: "exited"})
	}
	s := subject(cfg, "node1", b)
	if !strings.HasPrefix(s, "[gaffer] node1: 50 events (job-with-a-long-name-0 exited, ") || !strings.HasSuffix(s, ", …)") ||
		len(s) > 200 {
		t.Errorf("subject %q (%d bytes)", s, len(s))
	}
	one := &mailBatch{notes: []mailNote{{Job: "default." + strings.Repeat("x", 300), Short: "exited"}}}
	if s := subject(cfg, "node1", one); len(s) > 200 || !strings.HasSuffix(s, "…") {
		t.Errorf("subject %q", s)
	}
}

func TestMailSetNilDropsAndInvalidSetChangesNothing(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	cfg := emailTo(s.port)
	cfg.Batch = time.Hour
	r := startMailer(t, MailerOptions{}, cfg)
	r.exit("default.web", 1, 1, 0)
	gaffertest.Eventually(t, 10*time.Second, "the exit queued", func() bool { return r.m.Stats().Queued == 1 })
	bad := *cfg
	bad.Host, bad.Username = "mail.example.com", "ops"
	if err := r.m.Set(&bad); err == nil || !strings.Contains(err.Error(), "cleartext") {
		t.Errorf("Set with cleartext AUTH to a remote host: %v", err)
	}
	if err := r.m.Set(nil); err != nil {
		t.Fatal(err)
	}
	r.flush(t)
	if st := r.m.Stats(); len(s.all()) != 0 || st.Dropped != 1 || st.Queued != 0 {
		t.Errorf("%d messages, stats %+v", len(s.all()), st)
	}
}

func TestMailRecipientRefusedOthersStillGetIt(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	cfg := emailTo(s.port)
	cfg.To = []string{"nobody@example.com", "ops@example.com"}
	r := startMailer(t, MailerOptions{}, cfg)
	r.exit("default.web", 1, 1, 0)
	m := s.next(t, "the message")
	if strings.Join(m.to, ",") != "ops@example.com" {
		t.Errorf("delivered to %q", m.to)
	}
	r.log.waitWarn(t, "recipient was refused")
}

// FuzzMailMessage checks that whatever a job name, a reason or a subject
// prefix holds, the message keeps its headers (no injection) and its body
// says what happened.
func FuzzMailMessage(f *testing.F) {
	f.Add("default.web", "exit status 1", "[gaffer]", 3)
	f.Add("shop.db", "GET /health: 503\r\nBcc: victim@example.com\r\n\r\nhi", "[prod] ünïcode", 1)
	f.Add("a.b", strings.Repeat("é", 500), "=?utf-8?q?x?=", 1200)
	f.Add("x.\r\n.\r\n", ".\r\nQUIT\r\n", "\t", 0)
	f.Fuzz(func(t *testing.T, job, reason, prefix string, n int) {
		if n < 0 || n > 2000 || !utf8.ValidString(job) || !utf8.ValidString(reason) {
			return
		}
		cfg := emailTo(25)
		cfg.SubjectPrefix = prefix
		cfg.ApplyDefaults()
		if cfg.Validate() != nil {
			return // refused by the config: a prefix with a line break
		}
		m := NewMailer(MailerOptions{Hostname: "node1", MaxEvents: 100})
		b := &mailBatch{}
		for i := range max(n, 1) {
			m.add(b, mailNote{Time: time.Unix(int64(i), 0), Kind: config.EmailExit, Job: job, Pid: i,
				What: "exited with status 1", Reason: reason, Short: "exited"})
		}
		raw := m.message(cfg, b, time.Unix(1e9, 0))
		for _, l := range strings.Split(string(raw), "\r\n") {
			if len(l) > 998 {
				t.Fatalf("line of %d bytes", len(l))
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("not a message: %v\n%q", err, raw)
		}
		want := []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "Message-Id",
			"Mime-Version", "Subject", "To"}
		var got []string
		for k := range msg.Header {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("headers %q, want %q", got, want)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || !strings.HasPrefix(subj, strings.TrimSpace(prefix)) {
			t.Fatalf("subject %q (%v), want prefix %q", subj, err, prefix)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		if c := strings.Count(string(body), "exited with status 1"); c != min(max(n, 1), 100) {
			t.Fatalf("%d event lines, want %d", c, min(max(n, 1), 100))
		}
	})
}
