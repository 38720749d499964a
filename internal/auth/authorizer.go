package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Why a caller is refused. ErrNoCredentials and ErrBadCredentials mean "who
// are you?" (HTTP 401); ErrUnknownKey and ErrForbidden mean "you may not"
// (HTTP 403).
var (
	ErrNoCredentials = errors.New("no API key or credentials")
	ErrForbidden     = errors.New("forbidden")
	ErrBadHeader     = errors.New("malformed credentials")
)

// Unauthenticated reports whether err (from Caller.Check) means the caller
// is not identified (401) rather than not allowed (403).
func Unauthenticated(err error) bool {
	return errors.Is(err, ErrNoCredentials) || errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrBadHeader)
}

// Caller is who made a request, resolved once per request.
type Caller struct {
	// Trusted is a connection on gafferd's private unix socket: the
	// operating system already checked who may connect, so it is admin.
	Trusted bool
	// Dummy is any caller while keys are not required: everything is
	// allowed except creating keys and users (gaffer's DummyKey).
	Dummy bool
	// Key is the API key the caller used (directly, or as its user's key).
	Key string
	// Username is set when the caller sent Basic credentials.
	Username string
	// Perms are the key's permissions (admin for Trusted).
	Perms Permissions
	// Err is why the caller has no permissions (nil when identified).
	Err error
}

// Can reports whether the caller may do something needing need on target.
func (c Caller) Can(need Level, target string) bool { return c.Check(need, target) == nil }

// Check is Can with the reason of a refusal.
func (c Caller) Check(need Level, target string) error {
	switch {
	case c.Err != nil:
		return c.Err
	case c.Dummy:
		if need == LevelCreateKey || need == LevelCreateUser {
			return fmt.Errorf("%w: keys are not required, so no key or user can be created", ErrForbidden)
		}
		return nil
	case Can(c.Perms, need, target):
		return nil
	}
	return ErrForbidden
}

// Effective is the permission object the caller acts with, as GET
// /auth/permissions shows it.
func (c Caller) Effective() Permissions {
	switch {
	case c.Err != nil:
		return Permissions{}.normalize()
	case c.Dummy:
		all := []string{"*"}
		return Permissions{Admin: true, Manage: all, Write: all, Read: all}
	}
	return c.Perms.normalize()
}

type ctxKey int

const (
	trustedKey ctxKey = iota
	callerKey
)

// WithTrusted marks a context (a listener's base context) as coming from a
// trusted connection: gafferd's unix socket, mode 0600 in a 0700 directory.
func WithTrusted(ctx context.Context) context.Context {
	return context.WithValue(ctx, trustedKey, true)
}

// IsTrusted reports whether ctx was marked by WithTrusted.
func IsTrusted(ctx context.Context) bool {
	v, _ := ctx.Value(trustedKey).(bool)
	return v
}

// Authorizer resolves callers from their requests. Immutable after
// creation; safe for concurrent use.
type Authorizer struct {
	// RequireKey switches keys on; when off every caller is Dummy.
	RequireKey bool
	// Keys and Users are the stores; both are needed when RequireKey is on.
	Keys  *KeyStore
	Users *UserStore
}

// Caller resolves the caller of r, in this order: a trusted connection;
// anyone when keys are not required; the X-Api-Key header; Basic
// credentials, whose user's key gives the permissions. The result is
// cached in r's context by Middleware.
func (a *Authorizer) Caller(r *http.Request) Caller {
	if c, ok := r.Context().Value(callerKey).(Caller); ok {
		return c
	}
	if IsTrusted(r.Context()) {
		return Caller{Trusted: true, Perms: Permissions{Admin: true}.normalize()}
	}
	if !a.RequireKey {
		return Caller{Dummy: true}
	}
	if vals := r.Header.Values("X-Api-Key"); len(vals) > 0 {
		key, err := ParseAPIKey(vals)
		if err != nil {
			return Caller{Err: err}
		}
		return a.KeyCaller(key)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		user, pass, err := ParseBasic(h)
		if err != nil {
			return Caller{Err: err}
		}
		return a.UserCaller(user, pass)
	}
	return Caller{Err: ErrNoCredentials}
}

// KeyCaller is the caller acting with key.
func (a *Authorizer) KeyCaller(key string) Caller {
	k, err := a.Keys.Get(key)
	if err != nil {
		return Caller{Err: ErrUnknownKey}
	}
	return Caller{Key: k.Key, Perms: k.Permissions}
}

// UserCaller is the caller logging in as user with pass; it acts with the
// user's key (no key: identified, but allowed nothing).
func (a *Authorizer) UserCaller(user, pass string) Caller {
	u, err := a.Users.Authenticate(user, pass)
	if err != nil {
		return Caller{Err: ErrBadCredentials}
	}
	c := Caller{Username: u.Username, Key: u.Key, Perms: Permissions{}.normalize()}
	if k, err := a.Keys.Get(u.Key); err == nil {
		c.Perms = k.Permissions
	}
	return c
}

// Middleware resolves each request's caller once and keeps it in the
// request's context for every later check.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := a.Caller(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey, c)))
	})
}

// CallerFrom returns the caller Middleware stored in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey).(Caller)
	return c, ok
}

// maxKeyLen bounds an X-Api-Key value; gaffer's keys are 32 characters.
const maxKeyLen = 128

// ParseAPIKey reads the X-Api-Key header's values: exactly one, of 1 to
// 128 visible ASCII characters after trimming spaces.
func ParseAPIKey(values []string) (string, error) {
	if len(values) != 1 {
		return "", fmt.Errorf("%w: %d X-Api-Key headers", ErrBadHeader, len(values))
	}
	key := strings.TrimSpace(values[0])
	if key == "" || len(key) > maxKeyLen {
		return "", fmt.Errorf("%w: X-Api-Key must have 1 to %d characters", ErrBadHeader, maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return "", fmt.Errorf("%w: X-Api-Key has a character that is not visible ASCII", ErrBadHeader)
		}
	}
	return key, nil
}

// ParseBasic reads an Authorization header of the Basic scheme.
func ParseBasic(h string) (user, pass string, err error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", fmt.Errorf("%w: Authorization is not Basic", ErrBadHeader)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", fmt.Errorf("%w: Basic credentials are not base64", ErrBadHeader)
	}
	user, pass, ok = strings.Cut(string(b), ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("%w: Basic credentials are not user:password", ErrBadHeader)
	}
	return user, pass, nil
}
