package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Level is what an action needs from the caller. Manage implies Write,
// which implies Read; Admin implies everything.
type Level int

const (
	LevelRead       Level = iota + 1 // "read" on the target (or write, manage)
	LevelWrite                       // "write" on the target (or manage)
	LevelManage                      // "manage" on the target; target "*" = manage everything
	LevelAdmin                       // admin only
	LevelCreateKey                   // create_key (admin implies it)
	LevelCreateUser                  // create_user (admin implies it)
)

// Permissions is a key's permission object, as the API shows it.
type Permissions struct {
	Admin      bool     `json:"admin"`
	CreateKey  bool     `json:"create_key"`
	CreateUser bool     `json:"create_user"`
	Manage     []string `json:"manage"`
	Write      []string `json:"write"`
	Read       []string `json:"read"`
}

// normalize gives nil lists their JSON form [].
func (p Permissions) normalize() Permissions {
	for _, l := range []*[]string{&p.Manage, &p.Write, &p.Read} {
		if *l == nil {
			*l = []string{}
		}
	}
	return p
}

// covers is gaffer's can(p, what): "*" in list, or target in list, or the
// session part of a session.job target in list.
func covers(list []string, target string) bool {
	if slices.Contains(list, "*") || slices.Contains(list, target) {
		return true
	}
	if session, _, ok := strings.Cut(target, "."); ok {
		return slices.Contains(list, session)
	}
	return false
}

// Can reports whether p allows an action needing need on target: "*", a
// session name, or a full job name "session.job". Targets are ignored for
// Admin, CreateKey and CreateUser.
func Can(p Permissions, need Level, target string) bool {
	if p.Admin {
		return true
	}
	manage := covers(p.Manage, target)
	write := manage || covers(p.Write, target)
	switch need {
	case LevelRead:
		return write || covers(p.Read, target)
	case LevelWrite:
		return write
	case LevelManage:
		return manage
	case LevelCreateKey:
		return p.CreateKey
	case LevelCreateUser:
		return p.CreateUser
	}
	return false
}

// ErrBadPermission is wrapped by ParsePermissions' errors.
var ErrBadPermission = errors.New("bad permission")

// ParsePermissions reads gaffer's command-line permission syntax
// (gaffer-config.md §5.2), one argument per grant: "+a" admin, "+k"
// create_key, "+u" create_user, "+m" manage "*", and "<target>+<rwm…>" to
// read, write or manage a session or job ("app+r", "app.web+rw"). Flags
// combine ("+ku"); a grant may be repeated.
func ParsePermissions(args []string) (Permissions, error) {
	var p Permissions
	add := func(l *[]string, t string) {
		if !slices.Contains(*l, t) {
			*l = append(*l, t)
		}
	}
	for _, arg := range args {
		target, flags, ok := strings.Cut(arg, "+")
		if !ok || flags == "" {
			return Permissions{}, fmt.Errorf("%w %q: want +a, +k, +u, +m or TARGET+rwm", ErrBadPermission, arg)
		}
		if target != "" {
			if err := checkTarget(target); err != nil {
				return Permissions{}, fmt.Errorf("%w %q: %w", ErrBadPermission, arg, err)
			}
		}
		for _, f := range flags {
			switch {
			case target == "" && f == 'a':
				p.Admin = true
			case target == "" && f == 'k':
				p.CreateKey = true
			case target == "" && f == 'u':
				p.CreateUser = true
			case target == "" && f == 'm':
				add(&p.Manage, "*")
			case target != "" && f == 'r':
				add(&p.Read, target)
			case target != "" && f == 'w':
				add(&p.Write, target)
			case target != "" && f == 'm':
				add(&p.Manage, target)
			default:
				if target == "" {
					return Permissions{}, fmt.Errorf("%w %q: %q is not one of a, k, u, m", ErrBadPermission, arg, f)
				}
				return Permissions{}, fmt.Errorf("%w %q: %q is not one of r, w, m", ErrBadPermission, arg, f)
			}
		}
	}
	return p.normalize(), nil
}

// checkTarget accepts "*", a session, or session.job, in printable
// characters without spaces or "+".
func checkTarget(t string) error {
	if t == "*" {
		return nil
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f || r == '+' || r == '/' {
			return fmt.Errorf("target %q has a space, control character, '+' or '/'", t)
		}
	}
	if strings.HasPrefix(t, ".") || strings.HasSuffix(t, ".") {
		return fmt.Errorf("target %q: want SESSION or SESSION.JOB", t)
	}
	return nil
}
