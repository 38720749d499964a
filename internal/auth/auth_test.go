package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCan(t *testing.T) {
	p := func(args ...string) Permissions {
		t.Helper()
		perms, err := ParsePermissions(args)
		if err != nil {
			t.Fatal(err)
		}
		return perms
	}
	for _, tt := range []struct {
		perms  Permissions
		need   Level
		target string
		want   bool
	}{
		{p("+a"), LevelManage, "*", true},
		{p("+a"), LevelCreateKey, "", true},
		{p("+m"), LevelManage, "*", true},
		{p("+m"), LevelManage, "app.web", true},
		{p("+m"), LevelAdmin, "", false},
		{p("+m"), LevelCreateKey, "", false},
		{p("app+m"), LevelManage, "app", true},
		{p("app+m"), LevelManage, "app.web", true},
		{p("app+m"), LevelRead, "app.web.v2", true}, // the session is before the first dot
		{p("app+m"), LevelManage, "*", false},
		{p("app+m"), LevelManage, "other.web", false},
		{p("app.web+m"), LevelManage, "app", false},
		{p("app.web+m"), LevelRead, "app.web", true},
		{p("app.web+w"), LevelWrite, "app.web", true},
		{p("app.web+w"), LevelRead, "app.web", true},
		{p("app.web+w"), LevelManage, "app.web", false},
		{p("app.web+r"), LevelRead, "app.web", true},
		{p("app.web+r"), LevelWrite, "app.web", false},
		{p("app.web+r"), LevelRead, "app.worker", false},
		{p("*+r"), LevelRead, "any.job", true},
		{p("*+r"), LevelWrite, "any.job", false},
		{p("+k"), LevelCreateKey, "", true},
		{p("+k"), LevelCreateUser, "", false},
		{p("+u"), LevelCreateUser, "", true},
		{Permissions{}, LevelRead, "app.web", false},
	} {
		if got := Can(tt.perms, tt.need, tt.target); got != tt.want {
			t.Errorf("Can(%+v, %d, %q) = %v, want %v", tt.perms, tt.need, tt.target, got, tt.want)
		}
	}
}

func TestParsePermissions(t *testing.T) {
	got, err := ParsePermissions([]string{"+ak", "+u", "+m", "app+r", "app.web+rwm", "app+r"})
	want := Permissions{Admin: true, CreateKey: true, CreateUser: true, Manage: []string{"*", "app.web"},
		Write: []string{"app.web"}, Read: []string{"app", "app.web"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"a", "+", "+x", "+r", "app+a", "app+", "app web+r", ".app+r", "app/x+r"} {
		if _, err := ParsePermissions([]string{bad}); !errors.Is(err, ErrBadPermission) || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParsePermissions(%q): %v, want ErrBadPermission naming it", bad, err)
		}
	}
}

func TestPasswords(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || h == HashPassword("correct horse") {
		t.Fatalf("hash %q: want argon2id with a random salt", h)
	}
	for _, tt := range []struct {
		hash, pw   string
		ok, rehash bool
		unreadable bool
	}{
		{h, "correct horse", true, false, false},
		{h, "correct horsE", false, false, false},
		{legacyHash("pw", "0123456789abcdef0123456789abcdef", 1000), "pw", true, true, false},
		{legacyHash("pw", "0123456789abcdef0123456789abcdef", 1000), "pW", false, false, false},
		{"PBKDF2-256$salt:0$00", "x", false, false, true},
		{"PBKDF2-256$salt:99999999999$00", "x", false, false, true},
		{"$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA", "x", false, false, true},
		{"plain", "plain", false, false, true},
	} {
		ok, rehash, err := VerifyPassword(tt.hash, tt.pw)
		if ok != tt.ok || rehash != tt.rehash || (err != nil) != tt.unreadable || (err != nil && !errors.Is(err, ErrBadHash)) {
			t.Errorf("VerifyPassword(%q, %q) = %v, %v, %v", tt.hash, tt.pw, ok, rehash, err)
		}
	}
	// A known vector of gaffer 0.5's scheme: PBKDF2-HMAC-SHA1, 24 bytes,
	// the salt's text as bytes (RFC 6070's "password"/"salt"/1 prefix).
	if ok, _, _ := VerifyPassword("PBKDF2-256$salt:1$0c60c80f961f0e71f3a9b524af6012062fe037a6e0f0eb94", "password"); !ok {
		t.Error("RFC 6070 vector does not verify")
	}
}

func TestStoresSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	kp, up := filepath.Join(dir, "keys.db"), filepath.Join(dir, "auth.db")
	keys, err := OpenKeys(kp)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := keys.Create("root", Permissions{Admin: true}, "")
	child, _ := keys.Create("child", Permissions{Read: []string{"app"}}, root.Key)
	grandchild, _ := keys.Create("grandchild", Permissions{}, child.Key)
	other, _ := keys.Create("other", Permissions{}, "")
	if _, err := keys.Create("orphan", Permissions{}, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("parent that does not exist: %v", err)
	}
	users, err := OpenUsers(up)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Create(User{Username: "bob", Key: root.Key, Extra: map[string]any{"team": "ops", "password": "x"}}, "pw"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{kp, up} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", p, err, fi.Mode())
		}
	}

	keys, err = OpenKeys(kp)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.List(); len(got) != 4 || got[1].Parent != root.Key || got[1].Permissions.Read[0] != "app" {
		t.Fatalf("reopened keys: %+v", got)
	}
	if err := keys.Delete(root.Key); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{root.Key, child.Key, grandchild.Key} {
		if _, err := keys.Get(k); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("key %s survives its ancestor's deletion", k)
		}
	}
	if _, err := keys.Get(other.Key); err != nil {
		t.Errorf("unrelated key deleted: %v", err)
	}
	if err := keys.Delete(root.Key); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}

	users, err = OpenUsers(up)
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.Authenticate("bob", "pw")
	if err != nil || u.Key != root.Key || u.Extra["team"] != "ops" || u.Extra["password"] != nil {
		t.Fatalf("reopened user: %+v, %v", u, err)
	}
	if _, err := users.Authenticate("bob", "nope"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := users.Authenticate("eve", "pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown user: %v", err)
	}
	b, _ := os.ReadFile(up)
	if strings.Contains(string(b), `"pw"`) || !strings.Contains(string(b), "$argon2id$") {
		t.Errorf("user store holds %s", b)
	}
}

func TestLegacyHashIsReplacedOnLogin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	users, _ := OpenUsers(path)
	old := legacyHash("secret", "00112233445566778899aabbccddeeff", 1000)
	if err := users.importUser(User{Username: "ann", UserType: TypeUser}, old); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Authenticate("ann", "secret"); err != nil {
		t.Fatal(err)
	}
	users, _ = OpenUsers(path)
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "PBKDF2") || !strings.Contains(string(b), "$argon2id$") {
		t.Fatalf("legacy hash kept after login: %s", b)
	}
	if _, err := users.Authenticate("ann", "secret"); err != nil {
		t.Fatalf("login with the rehashed password: %v", err)
	}
}

func TestStoreRefusesSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	os.WriteFile(path, []byte("SQLite format 3\x00rest"), 0o600)
	if _, err := OpenKeys(path); err == nil || !strings.Contains(err.Error(), "SQLite") {
		t.Errorf("OpenKeys of an SQLite file: %v", err)
	}
}

func TestCaller(t *testing.T) {
	keys, _ := OpenKeys(Memory)
	users, _ := OpenUsers(Memory)
	k, _ := keys.Create("", Permissions{Read: []string{"app"}}, "")
	users.Create(User{Username: "bob", Key: k.Key}, "pw")
	az := &Authorizer{RequireKey: true, Keys: keys, Users: users}
	req := func(hdr ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		return r
	}
	basic := func(s string) string { r := req(); r.SetBasicAuth(s, "pw"); return r.Header.Get("Authorization") }
	for _, tt := range []struct {
		r       *http.Request
		wantErr error
		read    bool
	}{
		{req(), ErrNoCredentials, false},
		{req("X-Api-Key", k.Key), nil, true},
		{req("X-Api-Key", " "+k.Key+" "), nil, true},
		{req("X-Api-Key", "nope"), ErrUnknownKey, false},
		{req("X-Api-Key", k.Key, "X-Api-Key", k.Key), ErrBadHeader, false},
		{req("X-Api-Key", ""), ErrBadHeader, false},
		{req("Authorization", basic("bob")), nil, true},
		{req("Authorization", basic("eve")), ErrBadCredentials, false},
		{req("Authorization", "Basic !!!"), ErrBadHeader, false},
	} {
		c := az.Caller(tt.r)
		if !errors.Is(c.Err, tt.wantErr) || c.Can(LevelRead, "app.web") != tt.read || c.Can(LevelWrite, "app.web") {
			t.Errorf("%v: caller %+v", tt.r.Header, c)
		}
	}
	trusted := req().WithContext(WithTrusted(req().Context()))
	if c := az.Caller(trusted); !c.Can(LevelAdmin, "") || !c.Can(LevelCreateKey, "") {
		t.Errorf("trusted caller: %+v", c)
	}
	off := &Authorizer{}
	if c := off.Caller(req()); !c.Can(LevelAdmin, "") || c.Can(LevelCreateKey, "") || c.Can(LevelCreateUser, "") {
		t.Errorf("keys off: %+v", c)
	}
}

func TestGuard(t *testing.T) {
	g := &Guard{Hosts: LoopbackHosts("127.0.0.1"), Origins: []string{"https://dash.example.com", "*.corp.example"}}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	for _, tt := range []struct {
		method, host, origin string
		want                 int
	}{
		{"GET", "127.0.0.1:5000", "", 200},
		{"GET", "localhost:5000", "", 200},
		{"GET", "LOCALHOST", "", 200},
		{"GET", "[::1]:5000", "", 200},
		{"GET", "evil.example:5000", "", http.StatusMisdirectedRequest},
		{"GET", "127.0.0.1.evil.example", "", http.StatusMisdirectedRequest},
		{"POST", "127.0.0.1:5000", "http://127.0.0.1:5000", 200},
		{"POST", "127.0.0.1:5000", "http://evil.example", 403},
		{"GET", "127.0.0.1:5000", "http://evil.example", 403},
		{"POST", "127.0.0.1:5000", "null", 403},
		{"POST", "127.0.0.1:5000", "http://127.0.0.1:5001", 403},
		{"POST", "127.0.0.1:5000", "https://dash.example.com", 200},
		{"POST", "127.0.0.1:5000", "http://dash.example.com", 403},
		{"POST", "127.0.0.1:5000", "https://a.corp.example", 200},
		{"OPTIONS", "127.0.0.1:5000", "http://evil.example", 200},
	} {
		r := httptest.NewRequest(tt.method, "/", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s Host %q Origin %q: %d %s, want %d", tt.method, tt.host, tt.origin, w.Code, w.Body, tt.want)
		}
	}
}
