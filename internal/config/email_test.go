package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEmailSection(t *testing.T) {
	c := mustParse(t, `
[DEFAULT]
domain = example.com
[email]
host = smtp.example.com
port = 587
username = gaffer
password = s3cr%%t
from = Gaffer <gaffer@%(domain)s>
to = ops@example.com, , oncall@example.com
events = exit, FLAP, recovered, exit
batch = 2.5
subject_prefix = [prod]
helo = node1.example.com
`)
	want := &Email{Host: "smtp.example.com", Port: 587, TLS: EmailStartTLS, Username: "gaffer", Password: "s3cr%t",
		From: "Gaffer <gaffer@example.com>", To: []string{"ops@example.com", "oncall@example.com"},
		Events: []string{"exit", "flap", "recovered"}, Batch: 2500 * time.Millisecond,
		SubjectPrefix: "[prod]", Helo: "node1.example.com"}
	if !reflect.DeepEqual(c.Email, want) {
		t.Errorf("email = %+v\nwant    %+v", c.Email, want)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	if c := mustParse(t, "[job:web]\ncmd = x\n"); c.Email != nil {
		t.Errorf("no [email], yet Email = %+v", c.Email)
	}
}

func TestEmailDefaults(t *testing.T) {
	for _, tt := range []struct {
		extra   string
		port    int
		tls     string
		batch   time.Duration
		warning string
	}{
		{"", 587, EmailStartTLS, DefaultEmailBatch, ""},
		{"port = 465\n", 465, EmailTLS, DefaultEmailBatch, ""},
		{"port = 25\n", 25, EmailNoTLS, DefaultEmailBatch, ""},
		{"tls = TLS\n", 465, EmailTLS, DefaultEmailBatch, ""},
		{"tls = none\nbatch = 0\n", 25, EmailNoTLS, 0, ""},
		{"port = 2525\nbtach = 3\n", 2525, EmailStartTLS, DefaultEmailBatch, "[email] btach: unknown key, ignored (did you mean batch?)"},
	} {
		c := mustParse(t, "[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\n"+tt.extra)
		e := c.Email
		if e.Port != tt.port || e.TLS != tt.tls || e.Batch != tt.batch {
			t.Errorf("%q: port %d tls %q batch %v, want %d %q %v", tt.extra, e.Port, e.TLS, e.Batch, tt.port, tt.tls, tt.batch)
		}
		if !reflect.DeepEqual(e.Events, DefaultEmailEvents) || e.SubjectPrefix != DefaultEmailSubjectPrefix || e.Helo != "" {
			t.Errorf("%q: events %q prefix %q helo %q", tt.extra, e.Events, e.SubjectPrefix, e.Helo)
		}
		got := strings.Join(c.Warnings, "\n")
		if tt.warning == "" && got != "" || !strings.Contains(got, tt.warning) {
			t.Errorf("%q: warnings %q, want %q", tt.extra, got, tt.warning)
		}
	}
}

func TestEmailErrorsNameFileSectionAndKey(t *testing.T) {
	for _, tt := range []struct {
		src      string
		key      string
		line     int
		want     error
		contains string
	}{
		{"[email]\nfrom = a@b.c\nto = d@e.f\n", "host", 1, ErrMissing, "required"},
		{"[email]\nhost = mail\nto = d@e.f\n", "from", 1, ErrMissing, "required"},
		{"[email]\nhost = mail\nfrom = a@b.c\n", "to", 1, ErrMissing, "required"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nport = 70000\n", "port", 5, ErrInvalidValue, "1 to 65535"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nport = smtp\n", "port", 5, ErrInvalidInt, `"smtp"`},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\ntls = ssl\n", "tls", 5, ErrInvalidValue, "starttls, tls or none"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nevents = exit, crash\n", "events", 5, ErrInvalidValue, `unknown event "crash"`},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nevents = ,\n", "events", 5, ErrInvalidValue, "empty list"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nbatch = -1\n", "batch", 5, ErrInvalidValue, "negative"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nbatch = soon\n", "batch", 5, ErrInvalidNumber, `"soon"`},
		{"[email]\nhost = mail\nfrom = not an address\nto = d@e.f\n", "from", 3, ErrInvalidValue, "not an e-mail address"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f, ops\n", "to", 4, ErrInvalidValue, `"ops"`},
		{"[email]\nhost = smtp.example.com:25\nfrom = a@b.c\nto = d@e.f\n", "host", 2, ErrInvalidValue, "port ="},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\npassword = x\n", "password", 5, ErrInvalidValue, "without username"},
		{"[email]\nhost = mail.example.com\ntls = none\nusername = u\nfrom = a@b.c\nto = d@e.f\n", "username", 4, ErrInvalidValue, "cleartext"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nhelo = two words\n", "helo", 5, ErrInvalidValue, "host name"},
		{"[email]\nhost = mail\nfrom = a@b.c\nto = %(nope)s\n", "to", 4, ErrInterpolation, ""},
	} {
		ps := problems(t, tt.src)
		if len(ps) != 1 {
			t.Errorf("%q: %d problems, want 1: %v", tt.src, len(ps), ps)
			continue
		}
		p := ps[0]
		if p.File != "gaffer.ini" || p.Section != "email" || p.Key != tt.key || p.Line != tt.line ||
			!errors.Is(p, tt.want) || !strings.Contains(p.Error(), tt.contains) {
			t.Errorf("%q: got %q (file %q line %d section %q key %q), want key %s line %d, %v, containing %q",
				tt.src, p, p.File, p.Line, p.Section, p.Key, tt.key, tt.line, tt.want, tt.contains)
		}
	}
}

func TestEmailCleartextAuthOnlyToLoopback(t *testing.T) {
	for host, ok := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.0.0.2": true, "::1": true,
		"mail.example.com": false, "10.0.0.1": false} {
		e := &Email{Host: host, TLS: EmailNoTLS, Username: "u", Password: "p", From: "a@b.c", To: []string{"d@e.f"}}
		e.ApplyDefaults()
		if err := e.Validate(); (err == nil) != ok {
			t.Errorf("%s: Validate = %v, want ok=%v", host, err, ok)
		}
		e.TLS = EmailStartTLS
		if err := e.Validate(); err != nil {
			t.Errorf("%s with STARTTLS: %v", host, err)
		}
	}
}

func TestEmailInSupervisordConf(t *testing.T) {
	h := testHost(memFS(nil))
	h.env["SMTP_PASSWORD"], h.env["MAILDOMAIN"] = "from-env", "example.org"
	c, err := h.parseSupervisord(testConf, []byte(`
[supervisord]
[program:web]
command = /bin/sleep 1
[email]
host = smtp.example.com
username = ops
password = %(ENV_SMTP_PASSWORD)s
from = gaffer@%(ENV_MAILDOMAIN)s
to = ops@example.com
events = fatal
`))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Email
	if e == nil || e.Password != "from-env" || e.From != "gaffer@example.org" || !reflect.DeepEqual(e.Events, []string{"fatal"}) {
		t.Fatalf("email = %+v", e)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "[email]") {
			t.Errorf("warning about [email]: %s", w)
		}
	}
	ps := sproblems(t, "[supervisord]\n[program:web]\ncommand = /bin/sleep 1\n[email]\nhost = mail\nfrom = a@b.c\nto = d@e.f\nport = 0\n")
	if len(ps) != 1 || ps[0].Section != "email" || ps[0].Key != "port" || ps[0].Line != 8 || ps[0].File != testConf {
		t.Errorf("problems %v, want one at %s:8 [email] port", ps, testConf)
	}
}

func FuzzEmailSection(f *testing.F) {
	for _, s := range []string{
		"host = mail\nfrom = a@b.c\nto = d@e.f\n",
		"host = smtp.example.com\nport = 465\ntls = tls\nusername = u\npassword = p\nfrom = \"Ops\" <a@b.c>\nto = d@e.f, g@h.i\nevents = exit, fatal\nbatch = 0.5\nsubject_prefix = [x]\nhelo = me\n",
		"host = ::1\ntls = none\nusername = u\nfrom = a@b.c\nto = d@e.f\nbatch = 1e3\n",
		"host = [x]\nport = -1\nto = ,\nevents = nope\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := noFS.parse("fuzz.ini", []byte("[email]\n"+body))
		if err != nil {
			for _, e := range splitErrors(err) {
				var ce *Error
				if !errors.As(e, &ce) || ce.File != "fuzz.ini" {
					t.Fatalf("problem without location: %v", e)
				}
			}
			return
		}
		e := c.Email
		if e == nil {
			t.Fatal("[email] accepted, yet Email is nil")
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("invalid settings accepted: %+v: %v", e, err)
		}
		if e.Port < 1 || e.Port > 65535 || e.Batch < 0 || len(e.To) == 0 || len(e.Events) == 0 || e.SubjectPrefix == "" {
			t.Fatalf("defaults not applied: %+v", e)
		}
		if e.Username != "" && e.TLS == EmailNoTLS && !IsLoopbackHost(e.Host) {
			t.Fatalf("cleartext AUTH to %s accepted", e.Host)
		}
	})
}
