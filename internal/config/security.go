package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// SSL is [ssl]: TLS on gafferd's TCP listeners (gaffer-config.md §3.2).
// Relative paths are relative to the directory of the file that names them.
type SSL struct {
	CertFile string // certfile: server certificate chain (PEM); required
	KeyFile  string // keyfile: its private key (PEM); default: in CertFile
	CACerts  string // ca_certs: CAs that sign client certificates (PEM)
	CertReqs int    // cert_reqs: 0 none, 1 optional, 2 required (Python's ssl.CERT_*)
}

// Client certificate policies of SSL.CertReqs.
const (
	CertNone     = 0
	CertOptional = 1
	CertRequired = 2
)

// Auth is [auth]: where the key and user stores live. Empty names mean
// the defaults, keys.db and auth.db in the config directory.
type Auth struct {
	AuthDBName string // auth_dbname: the user store (":memory:" = not saved)
	KeysDBName string // keys_dbname: the key store
}

// ssl decodes [ssl].
func (b *builder) ssl(sec *section) {
	s := &SSL{}
	b.eachValue(sec, func(k string, e *entry, v string) {
		if p := tlsFile(k, &s.CertFile, &s.KeyFile, &s.CACerts); p != nil {
			*p = relPath(e, v)
			return
		}
		switch k {
		case "cert_reqs":
			n, err := parseCertReqs(v)
			if err != nil {
				b.fail(e.pos, sec.name, e.name, err)
			}
			s.CertReqs = n
		default:
			b.warn(e.pos, sec.name, e.name, "unknown key, ignored")
		}
	})
	if s.CertFile == "" {
		b.fail(sec.pos, sec.name, "certfile", fmt.Errorf("%w: [ssl] needs certfile (and keyfile unless the key is in it)", ErrMissing))
		return
	}
	if s.CertReqs != CertNone && s.CACerts == "" {
		b.fail(sec.pos, sec.name, "ca_certs", fmt.Errorf("%w: cert_reqs asks for client certificates, so ca_certs must name the CAs that sign them", ErrMissing))
	}
	b.cfg.SSL = s
}

// tlsFile is where the TLS file key k of [ssl] or [cluster] goes: certfile,
// keyfile or ca_certs; nil for any other key.
func tlsFile(k string, certFile, keyFile, caCerts *string) *string {
	switch k {
	case "certfile":
		return certFile
	case "keyfile":
		return keyFile
	case "ca_certs":
		return caCerts
	}
	return nil
}

// parseCertReqs reads cert_reqs: 0/1/2, none/optional/required, or
// Python's names CERT_NONE/CERT_OPTIONAL/CERT_REQUIRED.
func parseCertReqs(v string) (int, error) {
	switch strings.TrimPrefix(strings.ToLower(v), "cert_") {
	case "0", "none", "":
		return CertNone, nil
	case "1", "optional":
		return CertOptional, nil
	case "2", "required":
		return CertRequired, nil
	}
	return 0, fmt.Errorf("%w %s: want 0 (none), 1 (optional) or 2 (required)", ErrInvalidValue, strconv.Quote(v))
}

// auth decodes [auth]. Only the default (file) backends exist.
func (b *builder) auth(sec *section) {
	b.eachValue(sec, func(k string, e *entry, v string) {
		switch k {
		case "auth_dbname":
			b.cfg.Auth.AuthDBName = v
		case "keys_dbname":
			b.cfg.Auth.KeysDBName = v
		case "auth_backend", "keys_backend":
			if v != "default" && v != "" {
				b.fail(e.pos, sec.name, e.name, fmt.Errorf("%w: backend %q; only \"default\" exists", ErrUnsupported, v))
			}
		default:
			b.warn(e.pos, sec.name, e.name, "unknown key, ignored")
		}
	})
}

// eachValue calls fn with each key of sec (lower-cased, first defined
// first), its entry and its value trimmed of spaces. A value that cannot
// be read fails and is skipped.
func (b *builder) eachValue(sec *section, fn func(k string, e *entry, v string)) {
	for _, k := range sec.order {
		e := sec.keys[k]
		v, err := b.doc.get(sec, e)
		if err != nil {
			b.fail(e.pos, sec.name, e.name, err)
			continue
		}
		fn(k, e, strings.TrimSpace(v))
	}
}

// relPath is the path v relative to the directory of the file that set e;
// empty and absolute paths stay as they are.
func relPath(e *entry, v string) string {
	if v == "" || filepath.IsAbs(v) {
		return v
	}
	return filepath.Join(filepath.Dir(e.pos.file), v)
}

// allowedOrigins decodes [gaffer] allowed_origins: space- or
// comma-separated origins ("https://dash.example.com") or host patterns
// ("*.example.com") whose web pages may call the API.
func (b *builder) allowedOrigins(sec *section) {
	v, _, ok := b.value(sec, "allowed_origins")
	if !ok {
		return
	}
	b.cfg.Global.AllowedOrigins = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}
