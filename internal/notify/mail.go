package notify

// # E-mail
//
// Mailer mails notable events ([email] section, config.Email) through an
// SMTP server. It turns the engine's events into notifications of a few
// kinds (config.EmailEvents):
//
//   - exit: a process exited without gaffer asking it to, with a status
//     other than 0 or killed by a signal (a gaffer job), or a program went
//     EXITED with an unexpected status or BACKOFF after exiting too quickly
//     (a supervisord program);
//   - flap: a gaffer job restarts too often and is paused;
//   - fatal: a program went FATAL, or a gaffer job was given up after
//     flapping (the flap event's reason says which);
//   - unhealthy: a process failed its health check;
//   - recovered: a process is healthy again after being unhealthy, or a
//     program is RUNNING again after BACKOFF, an unexpected exit or FATAL;
//   - spawn_error: a process could not be started.
//
// Notifications are batched: the first one opens a window of Email.Batch,
// and everything arriving within it goes into one message, sent when the
// window ends. An idle Mailer has no timer. A message that cannot be sent is
// retried with a jittered backoff (MinBackoff doubling up to MaxBackoff) for
// as long as it is queued; notifications arriving meanwhile join it, up to
// MaxEvents per message (the oldest beyond that are summed up as "and N
// more").
//
// Run's goroutine reads the subscription, keeps the queue and owns every
// timer; one SMTP transaction at a time runs on a goroutine of its own, so
// a slow or unreachable server never stops the events from being read. Set,
// ShuttingDown and Stats may be called from any goroutine.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// Defaults of MailerOptions.
const (
	DefaultMailQueue      = 1024 // the subscription's size gafferd uses
	DefaultMailMaxEvents  = 1000
	DefaultMailMinBackoff = time.Second
	DefaultMailMaxBackoff = 5 * time.Minute
	DefaultMailTimeout    = time.Minute
)

// MailPatterns are the event types a Mailer reads: subscribe it to these.
var MailPatterns = []string{"exit", "state", "flap", "spawn_error", "healthy", "unhealthy", "stop_process", "unload"}

// ErrMailerRunning is returned by a second call to Run.
var ErrMailerRunning = errors.New("mailer: Run already called")

// MailerOptions configure a Mailer. The zero value is usable.
type MailerOptions struct {
	// Hostname names this machine in subjects and bodies, and is the
	// default EHLO name; os.Hostname() when empty.
	Hostname string
	// RootCAs verify the server's certificate (STARTTLS and implicit TLS);
	// nil = the system's roots.
	RootCAs    *x509.CertPool
	MinBackoff time.Duration // wait after the first failed attempt (DefaultMailMinBackoff)
	MaxBackoff time.Duration // longest wait between attempts (DefaultMailMaxBackoff)
	Timeout    time.Duration // per attempt: connect and the whole SMTP transaction (DefaultMailTimeout)
	MaxEvents  int           // notifications listed per message (DefaultMailMaxEvents)
	Logger     *slog.Logger  // slog.Default() when nil
}

// MailStats counts a Mailer's work since it was created.
type MailStats struct {
	Sent    uint64 // messages accepted by the server
	Events  uint64 // notifications in those messages (listed or summed up)
	Failed  uint64 // attempts that failed
	Retried uint64 // attempts after a failed one
	Dropped uint64 // notifications not listed: beyond MaxEvents, mail turned off, or aborted at shutdown
	Queued  int64  // notifications waiting or being sent now
}

// Mailer mails notifications. Create it with NewMailer, configure it with
// Set and feed it with Run.
type Mailer struct {
	opts     MailerOptions
	log      *slog.Logger
	hostname string

	cfg        atomic.Pointer[config.Email] // nil = no mail
	changed    chan struct{}                // Set happened; capacity 1
	shutdownAt atomic.Int64                 // UnixNano of ShuttingDown; 0 = not yet
	started    atomic.Bool

	sent, events, failed, retried, dropped atomic.Uint64
	queued                                 atomic.Int64

	jobs map[string]*mailJob // Run's goroutine only
}

// mailJob is what the Mailer remembers of a job to classify its events.
type mailJob struct {
	program   bool         // a supervisord program: it has states
	failed    bool         // program: BACKOFF, unexpected exit or FATAL since last RUNNING
	exited    bool         // program: its process exited since it was last STARTING
	lastExit  events.Event // program: its last exit event
	stopping  map[int]bool // pids gaffer is stopping: their exits are expected
	unhealthy map[int]bool // pids that failed their health check
	sick      bool         // a process was unhealthy and none has been healthy since
}

// mailNote is one notification.
type mailNote struct {
	Time         time.Time
	Kind         string // config.EmailExit, …
	Job          string // full name
	Pid, OSPid   int
	What, Reason string
	Short        string // for the subject: "exited", "unhealthy", …
}

// mailBatch is the content of one message: notes, oldest first, and how
// many older notes are only counted.
type mailBatch struct {
	notes   []mailNote
	omitted int
}

func (b *mailBatch) size() int { return len(b.notes) + b.omitted }

// NewMailer returns a Mailer that mails nothing until Set gives it a config.
func NewMailer(opts MailerOptions) *Mailer {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMailMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMailMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultMailTimeout
	}
	if opts.MaxEvents < 1 {
		opts.MaxEvents = DefaultMailMaxEvents
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	host := opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	if host == "" {
		host = "localhost"
	}
	return &Mailer{opts: opts, log: log, hostname: host, changed: make(chan struct{}, 1), jobs: map[string]*mailJob{}}
}

// Set replaces the mail settings; nil turns mail off (what is queued is
// dropped). Defaults are applied to a copy of e. An invalid e changes
// nothing and the error says why. Notifications are filtered with the
// settings current when they are read; a message uses the server settings
// current when it is sent (or retried).
func (m *Mailer) Set(e *config.Email) error {
	if e != nil {
		c := *e
		c.To, c.Events = slices.Clone(c.To), slices.Clone(c.Events)
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			return fmt.Errorf("email: %w", err)
		}
		e = &c
	}
	m.cfg.Store(e)
	select {
	case m.changed <- struct{}{}:
	default:
	}
	return nil
}

// ShuttingDown tells the Mailer that the daemon is stopping every process:
// exits, FATALs and flaps published from now on are the shutdown's doing
// and are not mailed. What is queued is still sent.
func (m *Mailer) ShuttingDown() {
	if m != nil {
		m.shutdownAt.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// Stats returns the counters.
func (m *Mailer) Stats() MailStats {
	return MailStats{Sent: m.sent.Load(), Events: m.events.Load(), Failed: m.failed.Load(),
		Retried: m.retried.Load(), Dropped: m.dropped.Load(), Queued: m.queued.Load()}
}

// Run mails the notifications read from sub until sub is closed or ctx is
// done, then returns:
//
//   - sub closed (the engine's last events are in): what is queued is sent
//     at once, without waiting for the window to end, and retried until it
//     is sent; bound the wait with ctx.
//   - ctx done: an attempt in flight is aborted, and what is queued is
//     dropped (counted Dropped).
//
// Run does not close sub. It may be called once.
func (m *Mailer) Run(ctx context.Context, sub *events.Sub) error {
	if m.started.Swap(true) {
		return ErrMailerRunning
	}
	var (
		pending  mailBatch  // waiting for the window, or for the next attempt
		flight   *mailBatch // being sent
		done     = make(chan error, 1)
		timer    *time.Timer
		timerC   <-chan time.Time
		failures int // failed attempts in a row
		lost     uint64
	)
	c := sub.C()
	setTimer := func(d time.Duration) {
		if timer != nil {
			timer.Stop()
		}
		timer = time.NewTimer(d)
		timerC = timer.C
	}
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
		}
		timer, timerC = nil, nil
	}
	account := func() {
		n := pending.size()
		if flight != nil {
			n += flight.size()
		}
		m.queued.Store(int64(n))
	}
	// send starts an attempt with everything pending.
	send := func() {
		stopTimer()
		cfg := m.cfg.Load()
		if pending.size() == 0 || cfg == nil {
			return
		}
		b := pending
		pending = mailBatch{}
		flight = &b
		if failures > 0 {
			m.retried.Add(1)
		}
		msg := m.message(cfg, &b, time.Now())
		go func() { done <- m.deliver(ctx, cfg, msg) }()
	}
	for {
		if c == nil && flight == nil && (pending.size() == 0 || m.cfg.Load() == nil) {
			m.drop(&pending)
			account()
			return nil
		}
		select {
		case <-ctx.Done():
			stopTimer()
			if flight != nil {
				<-done
				m.drop(flight)
			}
			m.drop(&pending)
			account()
			return nil
		case e, ok := <-c:
			if !ok {
				c = nil
				if flight == nil && failures == 0 {
					send() // flush now: no more events will join
				}
				break
			}
			if n := sub.Dropped(); n > lost {
				m.log.Warn("mail: events lost: the engine's event queue overflowed", "lost", n-lost)
				lost = n
			}
			cfg := m.cfg.Load()
			for _, n := range m.classify(e) {
				if cfg != nil && cfg.Wants(n.Kind) {
					m.add(&pending, n)
				}
			}
			if pending.size() > 0 && flight == nil && timer == nil && cfg != nil {
				setTimer(cfg.Batch)
			}
			account()
		case <-timerC:
			timer, timerC = nil, nil
			send()
			account()
		case err := <-done:
			b := flight
			flight = nil
			if err == nil {
				failures = 0
				m.sent.Add(1)
				m.events.Add(uint64(b.size()))
				if pending.size() > 0 {
					if c == nil {
						send()
					} else if cfg := m.cfg.Load(); cfg != nil {
						setTimer(cfg.Batch)
					}
				}
				account()
				break
			}
			failures++
			m.failed.Add(1)
			// Back in front of what came meanwhile, in order.
			merged := mailBatch{notes: append(b.notes, pending.notes...), omitted: b.omitted + pending.omitted}
			pending = mailBatch{omitted: merged.omitted}
			for _, n := range merged.notes {
				m.add(&pending, n)
			}
			cfg := m.cfg.Load()
			if cfg == nil { // mail was turned off meanwhile
				m.log.Warn("mail: sending failed; mail is off now, notifications dropped", "err", err)
				m.drop(&pending)
				failures = 0
				account()
				break
			}
			wait := mailBackoff(failures, m.opts.MinBackoff, m.opts.MaxBackoff)
			m.log.Warn("mail: sending failed, will retry", "server", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
				"attempt", failures, "notifications", pending.size(), "retry_in", wait.Round(time.Millisecond), "err", err)
			setTimer(wait)
			account()
		case <-m.changed:
			if m.cfg.Load() == nil {
				stopTimer()
				m.drop(&pending)
				failures = 0
				account()
			}
		}
	}
}

// drop discards b's notifications, counting them.
func (m *Mailer) drop(b *mailBatch) {
	m.dropped.Add(uint64(b.size()))
	*b = mailBatch{}
}

// add appends n to b, keeping at most MaxEvents listed: the oldest beyond
// that are only counted.
func (m *Mailer) add(b *mailBatch, n mailNote) {
	if len(b.notes) >= m.opts.MaxEvents {
		k := len(b.notes) - m.opts.MaxEvents + 1
		b.notes = append(b.notes[:0], b.notes[k:]...)
		b.omitted += k
		m.dropped.Add(uint64(k))
	}
	b.notes = append(b.notes, n)
}

// mailBackoff is the wait after the attempt-th failure in a row: minWait
// doubled attempt-1 times, capped at maxWait, less a random part of up to a
// half so that several daemons do not retry in lockstep.
func mailBackoff(attempt int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d - mathrand.N(d/2+1)
}

// ---- events to notifications ------------------------------------------------

func (m *Mailer) job(name string) *mailJob {
	j := m.jobs[name]
	if j == nil {
		j = &mailJob{stopping: map[int]bool{}, unhealthy: map[int]bool{}}
		m.jobs[name] = j
	}
	return j
}

// classify updates what is known of e's job and returns the notifications
// e makes (before filtering by kind).
func (m *Mailer) classify(e events.Event) []mailNote {
	if e.Type == "unload" {
		delete(m.jobs, e.Name)
		return nil
	}
	if e.Name == "" {
		return nil
	}
	j := m.job(e.Name)
	note := func(kind, short, what string) []mailNote { return m.note(e, kind, short, what) }
	switch e.Type {
	case "stop_process":
		j.stopping[e.Pid] = true
	case "exit":
		asked := j.stopping[e.Pid]
		delete(j.stopping, e.Pid)
		delete(j.unhealthy, e.Pid)
		if e.Once {
			return nil // a one-off command: not supervised
		}
		if j.program {
			j.exited, j.lastExit = true, e
			return nil // its state events tell whether that was expected
		}
		if asked || (e.ExitStatus == 0 && e.TermSignal == 0) {
			return nil
		}
		return note(config.EmailExit, "exited", exitText(e.ExitStatus, e.TermSignal))
	case "state":
		j.program = true
		return m.programState(j, e)
	case "flap":
		gaveUp := e.Reason == supervisor.FlapGaveUp
		e.Reason = "" // said in the text below
		if gaveUp {
			return note(config.EmailFatal, "gave up", "flapping: given up, start it again by hand")
		}
		return note(config.EmailFlap, "flapping", "flapping: paused, restarts later")
	case "spawn_error":
		return note(config.EmailSpawnError, "failed to start", "could not be started")
	case supervisor.HealthUnhealthy:
		j.unhealthy[e.Pid], j.sick = true, true
		return note(config.EmailUnhealthy, "unhealthy", "failed its health check")
	case supervisor.HealthHealthy:
		was := j.unhealthy[e.Pid]
		delete(j.unhealthy, e.Pid)
		if was || (j.sick && len(j.unhealthy) == 0) {
			j.sick = len(j.unhealthy) > 0
			return note(config.EmailRecovered, "recovered", "healthy again")
		}
	}
	return nil
}

// note is a notification about e, or none when e is the shutdown's doing.
func (m *Mailer) note(e events.Event, kind, short, what string) []mailNote {
	if at := m.shutdownAt.Load(); at != 0 && e.Time.UnixNano() >= at {
		switch kind {
		case config.EmailExit, config.EmailFatal, config.EmailFlap:
			return nil
		}
	}
	return []mailNote{{Time: e.Time, Kind: kind, Job: e.Name, Pid: e.Pid, OSPid: e.OSPid,
		What: what, Reason: e.Reason, Short: short}}
}

// programState classifies a supervisord program's state change.
func (m *Mailer) programState(j *mailJob, e events.Event) []mailNote {
	switch e.To {
	case "STARTING":
		j.exited = false
	case "RUNNING":
		if j.failed {
			j.failed = false
			return m.note(e, config.EmailRecovered, "recovered", "RUNNING again")
		}
	case "EXITED":
		if e.Expected {
			return nil
		}
		j.failed = true
		x := j.lastExit
		if x.Pid != e.Pid {
			return m.note(e, config.EmailExit, "exited", "exited unexpectedly")
		}
		e.OSPid = x.OSPid
		return m.note(e, config.EmailExit, "exited", exitText(x.ExitStatus, x.TermSignal)+", not an expected exit code")
	case "BACKOFF":
		j.failed = true
		try := " (BACKOFF)"
		if e.Tries > 0 {
			try = fmt.Sprintf(" (BACKOFF, try %d)", e.Tries)
		}
		if j.exited {
			x := j.lastExit
			e.Pid, e.OSPid = x.Pid, x.OSPid
			return m.note(e, config.EmailExit, "exited", exitText(x.ExitStatus, x.TermSignal)+" too quickly"+try)
		}
		return m.note(e, config.EmailSpawnError, "failed to start", "could not be started"+try)
	case "FATAL":
		j.failed = true
		return m.note(e, config.EmailFatal, "FATAL", "FATAL: gave up starting it")
	}
	return nil
}

// exitText describes an exit status.
func exitText(status, signal int) string {
	if signal != 0 {
		name := unix.SignalName(syscall.Signal(signal))
		if name == "" {
			name = "signal " + strconv.Itoa(signal)
		}
		return fmt.Sprintf("killed by %s (%d)", name, signal)
	}
	return fmt.Sprintf("exited with status %d", status)
}

// ---- the message --------------------------------------------------------------

const maxSubjectList = 120 // characters of the subject's list of events

// shortName is a job's name for subjects: the job alone when its session is
// the default one or the program's own group.
func shortName(full string) string {
	session, name, ok := strings.Cut(full, ".")
	if ok && (session == supervisor.DefaultSession || session == name) {
		return name
	}
	return full
}

// subject is "<prefix> <host>: web exited", or with several notifications
// "<prefix> <host>: 3 events (web exited, db unhealthy, …)".
func subject(cfg *config.Email, host string, b *mailBatch) string {
	head := strings.TrimSpace(cfg.SubjectPrefix + " " + host + ":")
	var items []string
	seen := map[string]bool{}
	for _, n := range b.notes {
		s := shortName(n.Job) + " " + n.Short
		if !seen[s] {
			seen[s] = true
			items = append(items, s)
		}
	}
	if b.size() == 1 && len(items) == 1 {
		return head + " " + truncate(items[0], maxSubjectList)
	}
	list, more := "", false
	for _, it := range items {
		next := it
		if list != "" {
			next = list + ", " + it
		}
		if utf8.RuneCountInString(next) > maxSubjectList {
			more = true
			if list == "" {
				list = truncate(it, maxSubjectList)
			}
			break
		}
		list = next
	}
	if more || b.omitted > 0 {
		list += ", …"
	}
	return fmt.Sprintf("%s %d events (%s)", head, b.size(), list)
}

// truncate cuts s to n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// body lists one notification a line: time, job, pid, what happened, reason.
func body(host string, b *mailBatch) string {
	var w strings.Builder
	fmt.Fprintf(&w, "gafferd on %s reports %d event", host, b.size())
	if b.size() != 1 {
		w.WriteString("s")
	}
	w.WriteString(":\n\n")
	if b.omitted > 0 {
		fmt.Fprintf(&w, "… and %d more before these, not listed (a message lists at most %d)\n", b.omitted, len(b.notes))
	}
	for _, n := range b.notes {
		w.WriteString(n.Time.Format("2006-01-02 15:04:05.000 MST"))
		w.WriteString("  " + n.Job)
		if n.Pid != 0 {
			fmt.Fprintf(&w, "  pid %d", n.Pid)
			if n.OSPid != 0 {
				fmt.Fprintf(&w, " (os %d)", n.OSPid)
			}
		}
		w.WriteString("  " + n.What)
		if r := strings.Join(strings.Fields(n.Reason), " "); r != "" {
			w.WriteString(": " + r)
		}
		w.WriteString("\n")
	}
	return w.String()
}

// message renders b as an RFC 5322 message with CRLF line ends.
func (m *Mailer) message(cfg *config.Email, b *mailBatch, now time.Time) []byte {
	var h bytes.Buffer
	header := func(k, v string) { h.WriteString(k + ": " + v + "\r\n") }
	header("From", mailbox(cfg.From))
	to := make([]string, len(cfg.To))
	for i, t := range cfg.To {
		to[i] = mailbox(t)
	}
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject(cfg, m.hostname, b)))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(m.hostname, now))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	h.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&h)
	qp.Write([]byte(strings.ReplaceAll(body(m.hostname, b), "\n", "\r\n")))
	qp.Close()
	return h.Bytes()
}

// mailbox renders an address as a header wants it: a name that is not
// ASCII encoded. The config was validated, so parsing succeeds.
func mailbox(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.String()
	}
	return s
}

// address is the bare user@domain of a mailbox, for MAIL FROM and RCPT TO.
func address(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

func messageID(host string, now time.Time) string {
	var r [8]byte
	rand.Read(r[:])
	if strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		host = "gafferd.invalid"
	}
	return fmt.Sprintf("<%d.%s@%s>", now.UnixNano(), hex.EncodeToString(r[:]), host)
}

// ---- SMTP ------------------------------------------------------------------------

// ErrMailInsecureAuth is why a message is not sent: the settings ask for
// AUTH over a cleartext connection to a host that is not this machine.
var ErrMailInsecureAuth = errors.New("refusing AUTH over a cleartext connection to a non-loopback host")

// deliver makes one SMTP transaction: connect, EHLO, STARTTLS or implicit
// TLS as configured (the certificate verified), AUTH PLAIN when a username
// is set, MAIL, RCPT for each recipient, DATA, QUIT. ctx aborts it.
func (m *Mailer) deliver(ctx context.Context, cfg *config.Email, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Closing the connection unblocks whatever step is waiting on it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	tlsCfg := &tls.Config{ServerName: cfg.Host, RootCAs: m.opts.RootCAs, MinVersion: tls.VersionTLS12}
	if cfg.TLS == config.EmailTLS {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return ctxErr(ctx, err)
	}
	defer c.Close()
	helo := cfg.Helo
	if helo == "" {
		helo = m.hostname
	}
	if err := c.Hello(helo); err != nil {
		return ctxErr(ctx, fmt.Errorf("EHLO: %w", err))
	}
	if cfg.TLS == config.EmailStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%s does not offer STARTTLS (set tls = none to send in cleartext)", addr)
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return ctxErr(ctx, fmt.Errorf("STARTTLS: %w", err))
		}
	}
	if cfg.Username != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS && !config.IsLoopbackHost(cfg.Host) {
			return ErrMailInsecureAuth
		}
		if ok, mechs := c.Extension("AUTH"); !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return fmt.Errorf("%s does not offer AUTH PLAIN", addr)
		}
		if err := c.Auth(plainAuth{cfg.Username, cfg.Password}); err != nil {
			return ctxErr(ctx, fmt.Errorf("AUTH: %w", err))
		}
	}
	if err := c.Mail(address(cfg.From)); err != nil {
		return ctxErr(ctx, fmt.Errorf("MAIL FROM: %w", err))
	}
	accepted := 0
	var rejected []error
	for _, to := range cfg.To {
		err := c.Rcpt(address(to))
		var te *textproto.Error
		switch {
		case err == nil:
			accepted++
		case errors.As(err, &te) && te.Code >= 500:
			// Refused for good: the others still get the message.
			rejected = append(rejected, fmt.Errorf("RCPT TO %s: %w", address(to), err))
		default:
			return ctxErr(ctx, fmt.Errorf("RCPT TO %s: %w", address(to), err))
		}
	}
	if accepted == 0 {
		return errors.Join(rejected...)
	}
	for _, err := range rejected {
		m.log.Warn("mail: a recipient was refused", "err", err)
	}
	w, err := c.Data()
	if err != nil {
		return ctxErr(ctx, fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(msg); err != nil {
		return ctxErr(ctx, fmt.Errorf("DATA: %w", err))
	}
	if err := w.Close(); err != nil {
		return ctxErr(ctx, fmt.Errorf("DATA: %w", err))
	}
	_ = c.Quit() // the message is accepted: a failed QUIT changes nothing
	return nil
}

// ctxErr prefers the context's reason: a step cut short by the deadline
// fails with "use of closed network connection", which says nothing.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// plainAuth is AUTH PLAIN (RFC 4616). Unlike smtp.PlainAuth it allows any
// loopback address in cleartext; deliver refuses every other cleartext case
// before it is used.
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge for AUTH PLAIN")
	}
	return nil, nil
}
