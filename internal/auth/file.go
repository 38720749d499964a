package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Memory is the store path of a store that is never written (gaffer's
// ":memory:" database).
const Memory = ":memory:"

// storeVersion is written in every store file; a newer one is refused
// rather than misread.
const storeVersion = 1

// loadFile decodes the JSON store at path into v; a missing file leaves v
// as it is. An SQLite database (gaffer 0.5's auth.db/keys.db) is named as
// such, since it cannot be read here.
func loadFile(path string, v any) error {
	if path == Memory {
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
		return fmt.Errorf("%s is an SQLite database (gaffer 0.5); gafferd keeps its keys and users in JSON: move it away, or convert it", path)
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if head.Version != storeVersion {
		return fmt.Errorf("%s: store version %d, want %d", path, head.Version, storeVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// saveFile writes v as JSON to path atomically: a 0600 temporary file in
// the same directory, fsynced, renamed over path, then the directory
// fsynced so that the rename itself survives a crash.
func saveFile(path string, v any) (err error) {
	if path == Memory {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
