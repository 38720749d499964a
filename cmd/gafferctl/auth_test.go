package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/auth"
)

func TestLoginStoresTheKeyAndKeyCommands(t *testing.T) {
	keys, _ := auth.OpenKeys(auth.Memory)
	users, _ := auth.OpenUsers(auth.Memory)
	admin, _ := keys.Create("admin", auth.Permissions{Admin: true}, "")
	users.Create(auth.User{Username: "root", UserType: auth.TypeUser, Key: admin.Key}, "rootpw")
	az := &auth.Authorizer{RequireKey: true, Keys: keys, Users: users}
	d := startDaemon(t, rest.Options{Authorize: rest.AuthorizeWith(az), Auth: az})
	conf := filepath.Join(t.TempDir(), "gaffer.ini")
	t.Setenv("GAFFER_CONFIG", conf)
	t.Setenv("GAFFER_API_KEY", "")
	os.WriteFile(conf, []byte("; mine\n[node \"http://elsewhere:5000\"]\nkey = other\n"), 0o644)

	if got := d.fail(1, "jobs"); !strings.Contains(got, "unauthorized") {
		t.Errorf("jobs before login: %s", got)
	}
	if got := d.fail(1, "login", "-u", "root", "-p", "wrong"); !strings.Contains(got, "unauthorized") {
		t.Errorf("login with a wrong password: %s", got)
	}
	// The password from standard input.
	if out := d.okIn("rootpw\n", "login", "-u", "root"); !strings.Contains(out, "Logged in as root") {
		t.Errorf("login: %q", out)
	}
	b, _ := os.ReadFile(conf)
	fi, _ := os.Stat(conf)
	if !strings.Contains(string(b), "[node \""+d.url+"\"]\nkey = "+admin.Key+"\n") || !strings.Contains(string(b), "key = other") ||
		!strings.HasPrefix(string(b), "; mine\n") || fi.Mode().Perm() != 0o600 {
		t.Errorf("user config after login (mode %v):\n%s", fi.Mode(), b)
	}
	// Later commands use the stored key.
	d.ok("jobs")
	ro := strings.TrimSpace(d.ok("key:create", "app.web+r", "--label", "ro"))
	if len(ro) != 32 {
		t.Fatalf("key:create printed %q", ro)
	}
	if out := d.ok("key"); !strings.Contains(out, ro+"  ro") || !strings.Contains(out, "app.web+r") || !strings.Contains(out, "+a") {
		t.Errorf("key:\n%s", out)
	}
	if got := d.fail(2, "key:create", "app+x"); !strings.Contains(got, `"app+x"`) {
		t.Errorf("bad permission: %s", got)
	}
	d.ok("user:add", "viewer", "-p", "pw", "--key", ro)
	if out := d.ok("user"); !strings.Contains(out, "viewer") || !strings.Contains(out, "root") {
		t.Errorf("user:\n%s", out)
	}
	d.okIn("pw2\n", "user:setpassword", "viewer")
	d.ok("user:setkey", "viewer", admin.Key)
	if u, _ := users.Authenticate("viewer", "pw2"); u.Key != admin.Key {
		t.Errorf("viewer after setpassword/setkey: %+v", u)
	}
	// --api-key wins over the stored key.
	if got := d.fail(1, "--api-key", ro, "jobs"); !strings.Contains(got, "forbidden") {
		t.Errorf("jobs with a read-only key: %s", got)
	}
	d.ok("user:del", "viewer")
	d.ok("key:delete", ro)
	if got := d.fail(1, "key:delete", ro); !strings.Contains(got, "no such key") {
		t.Errorf("deleting a key twice: %s", got)
	}
}

func TestSetNodeKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "[node \"u\"]\nkey = k\n"},
		{"[node \"u\"]\nkey = old\ncacert = c\n", "[node \"u\"]\nkey = k\ncacert = c\n"},
		{"[node \"u\"]\ncacert = c\n", "[node \"u\"]\nkey = k\ncacert = c\n"},
		{"[other]\nkey = x\n", "[other]\nkey = x\n\n[node \"u\"]\nkey = k\n"},
	} {
		if got := string(setNodeKey([]byte(tt.in), "u", "key", "k")); got != tt.want {
			t.Errorf("setNodeKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := parseUserConfig([]byte("[node \"u\"\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad header: %v", err)
	}
	if _, err := parseUserConfig([]byte("[node \"u\"]\nnonsense\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}

func FuzzUserConfig(f *testing.F) {
	f.Add("[node \"http://127.0.0.1:5000\"]\nkey = abc\ncacert = /x\n", "http://127.0.0.1:5000", "k1")
	f.Add("; c\n[other]\nx=y\n", "unix:///s", "k")
	f.Add("[node \"a\"]\n[node \"a\"]\nkey=1\n", "a", "2")
	f.Fuzz(func(t *testing.T, data, node, key string) {
		if _, err := parseUserConfig([]byte(data)); err != nil {
			return
		}
		if strings.ContainsAny(node+key, "\n\r") || strings.TrimSpace(key) != key || key == "" {
			return
		}
		out := setNodeKey([]byte(data), node, "key", key)
		nodes, err := parseUserConfig(out)
		if err != nil {
			t.Fatalf("setNodeKey made an unreadable file: %v\n%s", err, out)
		}
		if got := nodes[node]["key"]; got != key {
			t.Fatalf("key of %q = %q, want %q in\n%s", node, got, key, out)
		}
	})
}
