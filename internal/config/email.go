package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Email is the [email] section: gafferd mails notable job events (crashes,
// flapping, FATAL, failed health checks, recoveries) to To through an SMTP
// server. nil in Config when the section is absent.
type Email struct {
	Host     string // SMTP server host name or address (required)
	Port     int    // default 587 (25 when TLS is "none", 465 when "tls")
	TLS      string // EmailStartTLS (default), EmailTLS (implicit TLS, port 465) or EmailNoTLS
	Username string // AUTH PLAIN when set; never over cleartext to a non-loopback host
	Password string
	From     string   // envelope sender and From: header (required)
	To       []string // recipients (at least one)
	Events   []string // notification kinds (EmailEvents); default DefaultEmailEvents
	// Batch is how long the first notification waits for others to join it
	// in one message; 0 = mail each as soon as it is read.
	Batch time.Duration
	// SubjectPrefix starts every subject; default DefaultEmailSubjectPrefix.
	SubjectPrefix string
	Helo          string // EHLO name; default the host name
}

// TLS modes of Email.TLS.
const (
	EmailStartTLS = "starttls" // plain connection upgraded with STARTTLS (required, verified)
	EmailTLS      = "tls"      // TLS from the first byte (SMTPS)
	EmailNoTLS    = "none"     // cleartext
)

// Defaults of the [email] section.
const (
	DefaultEmailBatch         = 10 * time.Second
	DefaultEmailSubjectPrefix = "[gaffer]"
)

// Notification kinds of Email.Events.
const (
	EmailExit       = "exit"        // a process exited unexpectedly (crash, signal)
	EmailFlap       = "flap"        // a job restarts too often
	EmailFatal      = "fatal"       // a job gave up (FATAL)
	EmailUnhealthy  = "unhealthy"   // a health check failed
	EmailRecovered  = "recovered"   // healthy or running again after a failure
	EmailSpawnError = "spawn_error" // a process could not be started
)

// EmailEvents lists every notification kind, DefaultEmailEvents those sent
// when events is not set.
var (
	EmailEvents        = []string{EmailExit, EmailFlap, EmailFatal, EmailUnhealthy, EmailRecovered, EmailSpawnError}
	DefaultEmailEvents = []string{EmailExit, EmailFlap, EmailFatal, EmailUnhealthy}
)

// ApplyDefaults fills in what is not set: TLS, Port, Events and
// SubjectPrefix. Helo stays empty (the sender uses the host name); Batch
// stays as it is, 0 meaning no window ([email] batch defaults to
// DefaultEmailBatch).
func (e *Email) ApplyDefaults() {
	if e.TLS == "" {
		switch e.Port {
		case 465:
			e.TLS = EmailTLS
		case 25:
			e.TLS = EmailNoTLS
		default:
			e.TLS = EmailStartTLS
		}
	}
	if e.Port == 0 {
		switch e.TLS {
		case EmailTLS:
			e.Port = 465
		case EmailNoTLS:
			e.Port = 25
		default:
			e.Port = 587
		}
	}
	if e.Events == nil {
		e.Events = slices.Clone(DefaultEmailEvents)
	}
	if e.SubjectPrefix == "" {
		e.SubjectPrefix = DefaultEmailSubjectPrefix
	}
}

// Wants reports whether notifications of kind are mailed.
func (e *Email) Wants(kind string) bool { return slices.Contains(e.Events, kind) }

// EmailError is a problem of one field of an Email, named by its INI key.
type EmailError struct {
	Key string
	Err error
}

func (e *EmailError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *EmailError) Unwrap() error { return e.Err }

// Validate checks a (defaulted or not) Email and returns every problem, each
// an *EmailError naming the key.
func (e *Email) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &EmailError{Key: key, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidValue}, a...)...)})
	}
	missing := func(key string) {
		errs = append(errs, &EmailError{Key: key, Err: fmt.Errorf("%w: required", ErrMissing)})
	}
	switch {
	case e.Host == "":
		missing("host")
	case strings.ContainsAny(e.Host, " \t\r\n/@[]%") || strings.Contains(e.Host, ":") && !isIP(e.Host):
		bad("host", "%q is not a host name or address (give the port with port =)", e.Host)
	}
	if e.Port < 0 || e.Port > 65535 {
		bad("port", "%d is not a port (1-65535)", e.Port)
	}
	switch e.TLS {
	case "", EmailStartTLS, EmailTLS, EmailNoTLS:
	default:
		bad("tls", "%q: want starttls, tls or none", e.TLS)
	}
	if e.Password != "" && e.Username == "" {
		bad("password", "set without username")
	}
	if strings.ContainsAny(e.Username, "\x00\r\n") || strings.ContainsAny(e.Password, "\x00\r\n") {
		bad("username", "must not contain NUL or line breaks")
	}
	if e.Username != "" && e.TLS == EmailNoTLS && !IsLoopbackHost(e.Host) {
		bad("username", "AUTH over a cleartext connection (tls = none) to %s would expose the password; use tls = starttls or tls", e.Host)
	}
	if e.From == "" {
		missing("from")
	} else if err := checkMailbox(e.From); err != nil {
		bad("from", "%v", err)
	}
	if len(e.To) == 0 {
		missing("to")
	}
	for _, to := range e.To {
		if err := checkMailbox(to); err != nil {
			bad("to", "%v", err)
		}
	}
	for _, ev := range e.Events {
		if !slices.Contains(EmailEvents, ev) {
			bad("events", "unknown event %q (want %s)", ev, strings.Join(EmailEvents, ", "))
		}
	}
	if e.Batch < 0 {
		bad("batch", "%v is negative", e.Batch)
	}
	if strings.ContainsAny(e.SubjectPrefix, "\r\n") {
		bad("subject_prefix", "must not contain line breaks")
	}
	if strings.ContainsAny(e.Helo, " \t\r\n") {
		bad("helo", "%q is not a host name", e.Helo)
	}
	return errors.Join(errs...)
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// IsLoopbackHost reports whether host is "localhost" or a loopback address:
// the only hosts gafferd authenticates to over a cleartext connection.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checkMailbox accepts a bare address (user@domain) or "Name <user@domain>",
// without line breaks that could inject SMTP commands or headers.
func checkMailbox(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return fmt.Errorf("%q contains a line break", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("%q is not an e-mail address", s)
	}
	if !strings.Contains(a.Address, "@") {
		return fmt.Errorf("%q is not an e-mail address", s)
	}
	return nil
}

// emailKeys are the keys of [email].
var emailKeys = []string{"host", "port", "tls", "username", "password", "from", "to", "events", "batch",
	"subject_prefix", "helo"}

// emailSection decodes [email], the same in gafferd's INI and in a
// supervisord.conf (which supervisord itself ignores). value returns a key's
// value as the dialect reads it (interpolated, or ok=false after reporting
// why not); fail and warn report against a key. It returns nil after a
// failure, else the Email with its defaults applied.
func emailSection(sec *section, value func(key string) (string, *entry, bool),
	fail func(p pos, key string, err error), warn func(p pos, key, text string)) *Email {
	for _, k := range sec.order {
		if !slices.Contains(emailKeys, k) {
			text := "unknown key, ignored"
			if s := suggest(k, emailKeys); s != "" {
				text += " (did you mean " + s + "?)"
			}
			warn(sec.keys[k].pos, k, text)
		}
	}
	failed := false
	failedKeys := map[string]bool{} // reported already: Validate's view of them is moot
	bad := func(e *entry, err error) {
		failed, failedKeys[e.name] = true, true
		fail(e.pos, e.name, err)
	}
	// value reports nothing more about a key whose value could not be read.
	get := value
	value = func(key string) (string, *entry, bool) {
		v, e, ok := get(key)
		if !ok && e != nil {
			failed, failedKeys[key] = true, true
		}
		return v, e, ok
	}
	em := &Email{Batch: DefaultEmailBatch}
	at := map[string]pos{}
	str := func(key string, dst *string) {
		if v, e, ok := value(key); ok {
			*dst, at[key] = v, e.pos
		} else if e != nil {
			failed = true
		}
	}
	list := func(key string) []string {
		v, e, ok := value(key)
		if !ok {
			if e != nil {
				failed = true
			}
			return nil
		}
		at[key] = e.pos
		var out []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		if len(out) == 0 {
			bad(e, fmt.Errorf("%w: empty list", ErrInvalidValue))
		}
		return out
	}
	str("host", &em.Host)
	if v, e, ok := value("port"); ok {
		at["port"] = e.pos
		switch n, err := parseInt(strings.TrimSpace(v)); {
		case err != nil:
			bad(e, err)
		case n < 1 || n > 65535:
			bad(e, fmt.Errorf("%w %d: want a port from 1 to 65535", ErrInvalidValue, n))
		default:
			em.Port = n
		}
	} else if e != nil {
		failed = true
	}
	str("tls", &em.TLS)
	em.TLS = strings.ToLower(strings.TrimSpace(em.TLS))
	str("username", &em.Username)
	str("password", &em.Password)
	str("from", &em.From)
	em.To = list("to")
	em.Events = list("events")
	for i, ev := range em.Events {
		em.Events[i] = strings.ToLower(ev)
	}
	if v, e, ok := value("batch"); ok {
		at["batch"] = e.pos
		switch d, err := parseSeconds(strings.TrimSpace(v)); {
		case err != nil:
			bad(e, err)
		case d < 0:
			bad(e, fmt.Errorf("%w %q: must not be negative", ErrInvalidValue, v))
		default:
			em.Batch = d
		}
	} else if e != nil {
		failed = true
	}
	str("subject_prefix", &em.SubjectPrefix)
	str("helo", &em.Helo)
	var events []string
	for _, ev := range em.Events {
		if !slices.Contains(events, ev) {
			events = append(events, ev)
		}
	}
	em.Events = events
	em.ApplyDefaults()
	if err := em.Validate(); err != nil {
		failed = true
		for _, err := range splitJoined(err) {
			key := ""
			var ee *EmailError
			if errors.As(err, &ee) {
				key, err = ee.Key, ee.Err
			}
			if failedKeys[key] {
				continue
			}
			p, ok := at[key]
			if !ok {
				p = sec.pos
			}
			fail(p, key, err)
		}
	}
	if failed {
		return nil
	}
	return em
}

// splitJoined undoes errors.Join.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// email decodes gafferd's [email] section.
func (b *builder) email(sec *section) {
	b.cfg.Email = emailSection(sec,
		func(key string) (string, *entry, bool) { return b.value(sec, key) },
		func(p pos, key string, err error) { b.fail(p, sec.name, key, err) },
		func(p pos, key, text string) { b.warn(p, sec.name, key, text) })
}

// email decodes [email] of a supervisord.conf. Its values see %(here)s and
// %(ENV_X)s of gafferd's environment, so that a password can stay out of
// the file: password = %(ENV_SMTP_PASSWORD)s.
func (b *sbuilder) email(sec *section) {
	x := b.expander(map[string]any{}, []map[string]string{b.h.env}, []string{"gafferd's environment"})
	b.cfg.Email = emailSection(sec,
		func(key string) (string, *entry, bool) { return b.value(sec, key, x) },
		func(p pos, key string, err error) { b.fail(p, sec.name, key, err) },
		func(p pos, key, text string) { b.warn(p, sec.name, key, text) })
}
