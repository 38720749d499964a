package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// User types (gaffer-http-api.md §7).
const (
	TypeUser        = 0 // a person, created by an admin
	TypeApplication = 1 // the API's default
)

// User is a user as the API shows it: never with its password.
type User struct {
	Username string
	UserType int
	Key      string         // the API key the user acts with; "" = none
	Extra    map[string]any // other fields given at creation, echoed back
}

// reserved are the fields of a user object that Extra may not hold.
var reserved = []string{"username", "user_type", "key", "password"}

// MarshalJSON writes the extra fields and username, user_type and key
// (null when none).
func (u User) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(u.Extra)+3)
	for k, v := range u.Extra {
		if !slices.Contains(reserved, k) {
			m[k] = v
		}
	}
	m["username"], m["user_type"], m["key"] = u.Username, u.UserType, nil
	if u.Key != "" {
		m["key"] = u.Key
	}
	return json.Marshal(m)
}

// storedUser is a user with its password hash, as written to the file.
type storedUser struct {
	Username string         `json:"username"`
	UserType int            `json:"user_type"`
	Key      string         `json:"key,omitempty"`
	Password string         `json:"password"`
	Extra    map[string]any `json:"extra,omitempty"`
}

func (s storedUser) user() User {
	return User{Username: s.Username, UserType: s.UserType, Key: s.Key, Extra: maps.Clone(s.Extra)}
}

type usersFile struct {
	Version int          `json:"version"`
	Users   []storedUser `json:"users"`
}

// UserStore holds the users. Safe for concurrent use.
type UserStore struct {
	path string
	mu   sync.Mutex
	// users in creation order; guarded by mu, replaced (never mutated).
	users []storedUser
	// verified caches, per user, an HMAC of the last password that
	// verified, so that a client sending Basic credentials with every
	// request (supervisorctl) pays the argon2 cost once. Cleared for a user
	// whenever its password changes. Guarded by mu; memory only.
	verified map[string][]byte
	secret   []byte // the HMAC key, random per process
}

// OpenUsers loads the user store at path (Memory: never written). A
// missing file is an empty store, created on the first change.
func OpenUsers(path string) (*UserStore, error) {
	var f usersFile
	if err := loadFile(path, &f); err != nil {
		return nil, fmt.Errorf("user store: %w", err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	return &UserStore{path: path, users: f.Users, verified: map[string][]byte{}, secret: secret}, nil
}

func (s *UserStore) commit(users []storedUser) error {
	if err := saveFile(s.path, usersFile{Version: storeVersion, Users: users}); err != nil {
		return fmt.Errorf("user store: %w", err)
	}
	s.users = users
	return nil
}

func (s *UserStore) index(name string) int {
	return slices.IndexFunc(s.users, func(u storedUser) bool { return u.Username == name })
}

func cleanExtra(extra map[string]any) map[string]any {
	out := maps.Clone(extra)
	for _, k := range reserved {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Create adds a user with password (hashed with argon2id).
func (s *UserStore) Create(u User, password string) error {
	if u.Username == "" {
		return fmt.Errorf("user: empty username")
	}
	hash := HashPassword(password) // outside the lock: it is slow on purpose
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index(u.Username) >= 0 {
		return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	su := storedUser{Username: u.Username, UserType: u.UserType, Key: u.Key, Password: hash, Extra: cleanExtra(u.Extra)}
	return s.commit(append(slices.Clone(s.users), su))
}

// Get returns the user, or ErrNotFound.
func (s *UserStore) Get(name string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(name); i >= 0 {
		return s.users[i].user(), nil
	}
	return User{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
}

// List returns every user, in creation order.
func (s *UserStore) List() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.user())
	}
	return out
}

// change applies fn to a copy of user name and saves it.
func (s *UserStore) change(name string, fn func(*storedUser)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.index(name)
	if i < 0 {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	users := slices.Clone(s.users)
	fn(&users[i])
	if users[i].Password != s.users[i].Password {
		delete(s.verified, name)
	}
	return s.commit(users)
}

// Update replaces every field of user u.Username, and its password.
func (s *UserStore) Update(u User, password string) error {
	hash := HashPassword(password)
	return s.change(u.Username, func(su *storedUser) {
		*su = storedUser{Username: u.Username, UserType: u.UserType, Key: u.Key, Password: hash, Extra: cleanExtra(u.Extra)}
	})
}

// SetPassword changes the user's password.
func (s *UserStore) SetPassword(name, password string) error {
	hash := HashPassword(password)
	return s.change(name, func(su *storedUser) { su.Password = hash })
}

// SetKey changes the key the user acts with.
func (s *UserStore) SetKey(name, key string) error {
	return s.change(name, func(su *storedUser) { su.Key = key })
}

// Delete removes the user.
func (s *UserStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index(name) < 0 {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	delete(s.verified, name)
	return s.commit(slices.DeleteFunc(slices.Clone(s.users), func(u storedUser) bool { return u.Username == name }))
}

// importUser adds a user with a hash made elsewhere (gaffer 0.5's store).
func (s *UserStore) importUser(u User, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index(u.Username) >= 0 {
		return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	return s.commit(append(slices.Clone(s.users), storedUser{Username: u.Username, UserType: u.UserType, Key: u.Key, Password: hash}))
}

// Authenticate checks a username and password and returns the user, or
// ErrBadCredentials (an unknown user and a wrong password are not told
// apart). A gaffer 0.5 PBKDF2 hash that verifies is replaced by an
// argon2id one.
func (s *UserStore) Authenticate(name, password string) (User, error) {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(name + "\x00" + password))
	tag := mac.Sum(nil)
	s.mu.Lock()
	i := s.index(name)
	if i < 0 {
		s.mu.Unlock()
		// Spend the time of a verification, so that timing does not tell
		// which usernames exist.
		VerifyPassword(dummyHash(), password)
		return User{}, ErrBadCredentials
	}
	su := s.users[i]
	if prev := s.verified[name]; prev != nil && subtle.ConstantTimeCompare(prev, tag) == 1 {
		s.mu.Unlock()
		return su.user(), nil
	}
	s.mu.Unlock()
	ok, rehash, err := VerifyPassword(su.Password, password)
	if err != nil || !ok {
		return User{}, ErrBadCredentials
	}
	if rehash {
		hash := HashPassword(password)
		// Only if the hash is still the one verified: a concurrent
		// password change wins.
		s.change(name, func(cur *storedUser) {
			if cur.Password == su.Password {
				cur.Password = hash
			}
		})
	}
	s.mu.Lock()
	if j := s.index(name); j >= 0 && !rehash && s.users[j].Password == su.Password {
		s.verified[name] = tag
	}
	s.mu.Unlock()
	return su.user(), nil
}

// dummyHash is verified for unknown users (its password is unknowable);
// made on first use, so that programs never logging anyone in skip it.
var dummyHash = sync.OnceValue(func() string { return HashPassword(NewKey()) })
