package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Errors of the stores, for errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("already exists")
	ErrBadCredentials = errors.New("bad username or password")
	ErrUnknownKey     = errors.New("unknown API key")
)

// Key is an API key.
type Key struct {
	Key         string      `json:"key"`
	Label       string      `json:"label"`
	Permissions Permissions `json:"permissions"`
	Parent      string      `json:"parent,omitempty"` // the key it was made under; deleted with it
}

// KeyStore holds the API keys. Safe for concurrent use.
type KeyStore struct {
	path string
	mu   sync.RWMutex
	keys []Key // creation order; guarded by mu, replaced (never mutated) on change
}

type keysFile struct {
	Version int   `json:"version"`
	Keys    []Key `json:"keys"`
}

// OpenKeys loads the key store at path (Memory: never written). A missing
// file is an empty store, created on the first change.
func OpenKeys(path string) (*KeyStore, error) {
	var f keysFile
	if err := loadFile(path, &f); err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	for i := range f.Keys {
		f.Keys[i].Permissions = f.Keys[i].Permissions.normalize()
	}
	return &KeyStore{path: path, keys: f.Keys}, nil
}

// NewKey returns a random 32-hex key.
func NewKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// commit saves keys and makes them current, or changes nothing.
func (s *KeyStore) commit(keys []Key) error {
	if err := saveFile(s.path, keysFile{Version: storeVersion, Keys: keys}); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	s.keys = keys
	return nil
}

// Create adds a key with a fresh random value. A parent must exist.
func (s *KeyStore) Create(label string, perms Permissions, parent string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if parent != "" && s.index(parent) < 0 {
		return Key{}, fmt.Errorf("parent key %q: %w", parent, ErrNotFound)
	}
	k := Key{Key: NewKey(), Label: label, Permissions: perms.normalize(), Parent: parent}
	if err := s.commit(append(slices.Clone(s.keys), k)); err != nil {
		return Key{}, err
	}
	return k, nil
}

func (s *KeyStore) index(key string) int {
	return slices.IndexFunc(s.keys, func(k Key) bool { return k.Key == key })
}

// Get returns the key, or ErrUnknownKey.
func (s *KeyStore) Get(key string) (Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i := s.index(key); i >= 0 && key != "" {
		return s.keys[i], nil
	}
	return Key{}, ErrUnknownKey
}

// List returns every key, in creation order.
func (s *KeyStore) List() []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.keys)
}

// Children returns the keys made directly under key.
func (s *KeyStore) Children(key string) []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Key
	for _, k := range s.keys {
		if k.Parent == key {
			out = append(out, k)
		}
	}
	return out
}

// Delete removes key and, recursively, every key made under it.
func (s *KeyStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" || s.index(key) < 0 {
		return fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	gone := map[string]bool{key: true}
	for changed := true; changed; { // at most one pass per level of descent
		changed = false
		for _, k := range s.keys {
			if !gone[k.Key] && gone[k.Parent] {
				gone[k.Key], changed = true, true
			}
		}
	}
	return s.commit(slices.DeleteFunc(slices.Clone(s.keys), func(k Key) bool { return gone[k.Key] }))
}
