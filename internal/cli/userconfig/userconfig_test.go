package userconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetNodeKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "[node \"u\"]\nkey = k\n"},
		{"[node \"u\"]\nkey = old\ncacert = c\n", "[node \"u\"]\nkey = k\ncacert = c\n"},
		{"[node \"u\"]\ncacert = c\n", "[node \"u\"]\nkey = k\ncacert = c\n"},
		{"[other]\nkey = x\n", "[other]\nkey = x\n\n[node \"u\"]\nkey = k\n"},
		{"[node \"v\"]\nkey = x\n[node \"u\"]\nKEY = old\n", "[node \"v\"]\nkey = x\n[node \"u\"]\nkey = k\n"},
	} {
		if got := string(SetNodeKey([]byte(tt.in), "u", "key", "k")); got != tt.want {
			t.Errorf("SetNodeKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	nodes, err := Parse([]byte("; c\n# c\n[general]\nkey = no\n[node \"http://a:1\"]\n Key = abc \ncacert=/ca.pem\n[node bad]\nkey = x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes["http://a:1"]["key"] != "abc" || nodes["http://a:1"]["cacert"] != "/ca.pem" {
		t.Errorf("nodes: %v", nodes)
	}
	if _, err := Parse([]byte("[node \"u\"\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad header: %v", err)
	}
	if _, err := Parse([]byte("[node \"u\"]\nnonsense\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}

func TestNodeName(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":         "http://127.0.0.1:5000",
		"http://127.0.0.1:5000/": "http://127.0.0.1:5000",
		"https://h:1":            "https://h:1",
		"unix:///run/g.sock":     "unix:///run/g.sock",
	} {
		if got := NodeName(in); got != want {
			t.Errorf("NodeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSaveNodeKeyAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "gaffer.ini")
	t.Setenv("GAFFER_CONFIG", path)
	if nodes, err := Read(); err != nil || len(nodes) != 0 {
		t.Fatalf("Read of a missing file: %v %v", nodes, err)
	}
	got, err := SaveNodeKey("http://h:1", "key", "k1")
	if err != nil || got != path {
		t.Fatalf("SaveNodeKey: %q %v", got, err)
	}
	if _, err := SaveNodeKey("http://h:2", "key", "k2"); err != nil {
		t.Fatal(err)
	}
	if _, err := SaveNodeKey("http://h:1", "key", "k3"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	nodes, err := Read()
	if err != nil || nodes["http://h:1"]["key"] != "k3" || nodes["http://h:2"]["key"] != "k2" {
		t.Fatalf("Read: %v %v", nodes, err)
	}
	os.WriteFile(path, []byte("[node \"x\"]\nbroken\n"), 0o600)
	if _, err := Read(); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Read of a broken file: %v", err)
	}
}

func FuzzUserConfig(f *testing.F) {
	f.Add("[node \"http://127.0.0.1:5000\"]\nkey = abc\ncacert = /x\n", "http://127.0.0.1:5000", "k1")
	f.Add("; c\n[other]\nx=y\n", "unix:///s", "k")
	f.Add("[node \"a\"]\n[node \"a\"]\nkey=1\n", "a", "2")
	f.Add("[node \"a\"]\r\nkey = 1\r\n", "a", "2")
	f.Fuzz(func(t *testing.T, data, node, key string) {
		if _, err := Parse([]byte(data)); err != nil {
			return
		}
		if strings.ContainsAny(node+key, "\n\r") || strings.TrimSpace(key) != key || key == "" {
			return
		}
		out := SetNodeKey([]byte(data), node, "key", key)
		nodes, err := Parse(out)
		if err != nil {
			t.Fatalf("SetNodeKey made an unreadable file: %v\n%s", err, out)
		}
		if got := nodes[node]["key"]; got != key {
			t.Fatalf("key of %q = %q, want %q in\n%s", node, got, key, out)
		}
	})
}
