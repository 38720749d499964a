package main

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/auth"
)

// gafferStdin runs one gaffer command in-process with stdin.
func gafferStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// keyedGafferd is a gafferd that requires API keys, with the user root
// (password rootpw) acting with an admin key. Over https, ca is the PEM
// file of its certificate.
func keyedGafferd(t *testing.T, tls bool) (url, adminKey, ca string, users *auth.UserStore) {
	t.Helper()
	keys, err := auth.OpenKeys(auth.Memory)
	if err != nil {
		t.Fatal(err)
	}
	users, err = auth.OpenUsers(auth.Memory)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := keys.Create("admin", auth.Permissions{Admin: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Create(auth.User{Username: "root", UserType: auth.TypeUser, Key: admin.Key}, "rootpw"); err != nil {
		t.Fatal(err)
	}
	az := &auth.Authorizer{RequireKey: true, Keys: keys, Users: users}
	_, ts := gafferdWith(t, rest.Options{Authorize: rest.AuthorizeWith(az), Auth: az}, tls)
	if tls {
		ca = filepath.Join(t.TempDir(), "ca.pem")
		pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
		if err := os.WriteFile(ca, pemData, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ts.URL, admin.Key, ca, users
}

func TestLoginKeysUsersAndStoredKey(t *testing.T) {
	url, adminKey, _, users := keyedGafferd(t, false)
	conf := filepath.Join(t.TempDir(), "gaffer.ini")
	t.Setenv("GAFFER_CONFIG", conf)
	t.Setenv("GAFFER_API_KEY", "")
	os.WriteFile(conf, []byte("; mine\n[node \"http://elsewhere:5000\"]\nkey = other\n"), 0o644)
	dir := writeApp(t, "shop", "web: sleep 60\n", "")
	g := []string{"--host", url, "-d", dir}
	gaffer := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return gafferStdin(t, stdin, append(g, args...)...)
	}
	mustOK := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := gaffer(stdin, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("gaffer %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	mustFail := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := gaffer("", args...)
		if code != want || !strings.HasPrefix(errOut, "gaffer: ") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("gaffer %s: exit %d (want %d), stdout %q, stderr %q", strings.Join(args, " "), code, want, out, errOut)
		}
		return errOut
	}

	if got := mustFail(1, "load"); !strings.Contains(got, "unauthorized") || !strings.Contains(got, "gaffer login") {
		t.Errorf("load before login: %s", got)
	}
	if got := mustFail(1, "login", "-u", "root", "-p", "wrong"); !strings.Contains(got, "unauthorized") {
		t.Errorf("login with a wrong password: %s", got)
	}
	if got := mustFail(2, "login", "-u", "root"); !strings.Contains(got, "no password") {
		t.Errorf("login without a password: %s", got)
	}
	// The password from standard input.
	if out := mustOK("rootpw\n", "login", "-u", "root"); out != "Logged in as root; key stored in "+conf+"\n" {
		t.Errorf("login: %q", out)
	}
	b, _ := os.ReadFile(conf)
	fi, _ := os.Stat(conf)
	if string(b) != "; mine\n[node \"http://elsewhere:5000\"]\nkey = other\n\n[node \""+url+"\"]\nkey = "+adminKey+"\n" ||
		fi.Mode().Perm() != 0o600 {
		t.Errorf("user config after login (mode %v):\n%s", fi.Mode(), b)
	}

	// The remote commands use the stored key, over TCP.
	if out := mustOK("", "load"); out != "'shop' has been loaded in "+url+"\n" {
		t.Errorf("load: %q", out)
	}
	psRe := regexp.MustCompile("^=== web: `sleep 60`\nTotal CPU: [0-9.]+ Total MEM: [0-9.]+\n\nweb\\.\\d+: up for \\d+s\n$")
	if out := mustOK("", "ps"); !psRe.MatchString(out) {
		t.Errorf("ps with the stored key:\n%s", out)
	}

	ro := strings.TrimSpace(mustOK("", "key:create", "shop+r", "--label", "ro"))
	if len(ro) != 32 {
		t.Fatalf("key:create printed %q", ro)
	}
	if out := mustOK("", "key"); !regexp.MustCompile(`(?m)^`+ro+`\s+ro\s+shop\+r\s+-$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+adminKey+`\s+admin\s+\+a\s+-$`).MatchString(out) {
		t.Errorf("key:\n%s", out)
	}
	if got := mustFail(2, "key:create", "shop+x"); !strings.Contains(got, `"shop+x"`) {
		t.Errorf("bad permission: %s", got)
	}

	if out := mustOK("", "user:add", "viewer", "-p", "pw", "--key", ro); out != "ok\n" {
		t.Errorf("user:add: %q", out)
	}
	if u, err := users.Authenticate("viewer", "pw"); err != nil || u.Key != ro || u.UserType != auth.TypeApplication {
		t.Errorf("viewer after user:add: %+v %v", u, err)
	}
	if out := mustOK("", "user"); !regexp.MustCompile(`(?m)^viewer\s+application\s+` + ro + `$`).MatchString(out) {
		t.Errorf("user:\n%s", out)
	}

	// --api-key and $GAFFER_API_KEY win over the stored (admin) key: listing
	// a session's jobs needs manage.
	if got := mustFail(1, "--api-key", ro, "status"); !strings.Contains(got, "forbidden") {
		t.Errorf("status with the read-only key: %s", got)
	}
	t.Setenv("GAFFER_API_KEY", ro)
	if got := mustFail(1, "unload"); !strings.Contains(got, "forbidden") {
		t.Errorf("unload with $GAFFER_API_KEY read-only: %s", got)
	}
	t.Setenv("GAFFER_API_KEY", "")

	if out := mustOK("", "key:delete", ro); out != "ok\n" {
		t.Errorf("key:delete: %q", out)
	}
	if out := mustOK("", "key"); strings.Contains(out, ro) {
		t.Errorf("key after key:delete:\n%s", out)
	}
	if got := mustFail(1, "key:delete", ro); !strings.Contains(got, "no such key") {
		t.Errorf("deleting a key twice: %s", got)
	}
	mustOK("", "user:del", "viewer")
	if out := mustOK("", "unload"); out != "'shop' unloaded\n" {
		t.Errorf("unload: %q", out)
	}
}

func TestStoredKeyAndCAOverHTTPS(t *testing.T) {
	url, adminKey, ca, _ := keyedGafferd(t, true)
	conf := filepath.Join(t.TempDir(), "gaffer.ini")
	t.Setenv("GAFFER_CONFIG", conf)
	t.Setenv("GAFFER_API_KEY", "")
	dir := writeApp(t, "shop", "web: sleep 60\n", "")

	// Without the CA the certificate is refused.
	code, _, errOut := gafferStdin(t, "", "--host", url, "-d", dir, "status")
	if code != 1 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("status without the CA: %d %q", code, errOut)
	}
	// --cacert on the command line, then login stores the key.
	code, _, errOut = gafferStdin(t, "rootpw\n", "--host", url, "--cacert", ca, "login", "-u", "root")
	if code != 0 {
		t.Fatalf("login over https: %d %q", code, errOut)
	}
	// With the CA in the node's section too, a bare command works.
	os.WriteFile(conf, []byte("[node \""+url+"\"]\nkey = "+adminKey+"\ncacert = "+ca+"\n"), 0o600)
	code, out, errOut := gafferStdin(t, "", "--host", url, "-d", dir, "load", "--nostart")
	if code != 0 || out != "'shop' has been loaded in "+url+"\n" {
		t.Fatalf("load over https with the stored key and CA: %d %q %q", code, out, errOut)
	}

	// A CA file that is missing is named.
	missing := filepath.Join(t.TempDir(), "nope.pem")
	code, _, errOut = gafferStdin(t, "", "--host", url, "--cacert", missing, "-d", dir, "status")
	if code != 2 || !strings.Contains(errOut, "nope.pem") {
		t.Fatalf("missing CA: %d %q", code, errOut)
	}
	// A broken user config is named, with its line.
	os.WriteFile(conf, []byte("[node \""+url+"\"]\nbroken\n"), 0o600)
	code, _, errOut = gafferStdin(t, "", "--host", url, "-d", dir, "status")
	if code != 2 || !strings.Contains(errOut, conf) || !strings.Contains(errOut, "line 2") {
		t.Fatalf("broken user config: %d %q", code, errOut)
	}
}
