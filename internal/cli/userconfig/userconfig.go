// Package userconfig reads and writes the gaffer user config, the INI file
// ($GAFFER_CONFIG, else ~/.gaffer/gaffer.ini) where gafferctl and gaffer
// keep, per gafferd, the API key from "login" and the TLS files to use:
//
//	[node "http://127.0.0.1:5000"]
//	key = 0123456789abcdef0123456789abcdef
//	cacert = /etc/gaffer/ca.pem
//	certfile = /home/me/.gaffer/me.pem
//	keyfile = /home/me/.gaffer/me-key.pem
//
// Only [node "<url>"] sections are read; other sections, comments (";" and
// "#") and their lines are kept as they are when a key is stored.
package userconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Nodes are the [node "<url>"] sections of a user config: URL → key → value.
// Keys are lower case.
type Nodes map[string]map[string]string

// Path is $GAFFER_CONFIG, else ~/.gaffer/gaffer.ini.
func Path() (string, error) {
	if p := os.Getenv("GAFFER_CONFIG"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("user config: %w (set $GAFFER_CONFIG)", err)
	}
	return filepath.Join(home, ".gaffer", "gaffer.ini"), nil
}

// NodeName is the user config's name of a gafferd address: its URL
// without a trailing slash; a bare host:port is an http URL.
func NodeName(addr string) string {
	if !strings.Contains(addr, "://") && !strings.HasPrefix(addr, "unix:") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/")
}

// Read parses the user config at Path. A missing file has no nodes; a
// user config that cannot be found (no $GAFFER_CONFIG, no home) neither.
func Read() (Nodes, error) {
	path, err := Path()
	if err != nil {
		return Nodes{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("user config: %w", err)
	}
	nodes, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("user config %s: %w", path, err)
	}
	return nodes, nil
}

// Parse reads the user config's [node "<url>"] sections: "key = value"
// lines, ";" and "#" comments. Other sections are skipped.
func Parse(data []byte) (Nodes, error) {
	nodes := Nodes{}
	var cur map[string]string
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == ';' || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			if !strings.HasSuffix(t, "]") {
				return nil, fmt.Errorf("line %d: section header without ']'", i+1)
			}
			cur = nil
			if name, ok := nodeSection(t); ok {
				if cur = nodes[name]; cur == nil {
					cur = map[string]string{}
					nodes[name] = cur
				}
			}
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value", i+1)
		}
		if cur != nil {
			cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return nodes, nil
}

// nodeSection reads a `[node "<url>"]` header.
func nodeSection(header string) (string, bool) {
	inner := strings.TrimSpace(header[1 : len(header)-1])
	rest, ok := strings.CutPrefix(inner, "node ")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(strings.TrimSpace(rest))
	if err != nil {
		return "", false
	}
	return name, true
}

// SetNodeKey returns the user config data with key = value set in node's
// section, keeping every other line; the section is added when missing.
func SetNodeKey(data []byte, node, key, value string) []byte {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(data) == 0 {
		lines = nil
	}
	entry := key + " = " + value
	in, header := false, -1
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			name, ok := nodeSection(t)
			in = ok && name == node
			if in && header < 0 {
				header = i
			}
			continue
		}
		if k, _, ok := strings.Cut(t, "="); in && ok && strings.EqualFold(strings.TrimSpace(k), key) {
			lines[i] = entry
			return []byte(strings.Join(lines, "\n") + "\n")
		}
	}
	if header < 0 {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, "[node "+strconv.Quote(node)+"]", entry)
	} else {
		lines = append(lines[:header+1], append([]string{entry}, lines[header+1:]...)...)
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// SaveNodeKey stores key = value for node in the user config, mode 0600,
// and returns the file's path. The file is replaced by a rename, so a
// reader never sees half of it.
func SaveNodeKey(node, key, value string) (string, error) {
	path, err := Path()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, SetNodeKey(data, node, key, value), 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}
