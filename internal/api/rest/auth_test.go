package rest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// authServer is the REST API with keys required, over memory stores.
type authServer struct {
	*server
	az *auth.Authorizer
}

func newAuthServer(t *testing.T) *authServer {
	t.Helper()
	keys, err := auth.OpenKeys(auth.Memory)
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.OpenUsers(auth.Memory)
	if err != nil {
		t.Fatal(err)
	}
	az := &auth.Authorizer{RequireKey: true, Keys: keys, Users: users}
	return &authServer{server: newServer(t, rest.Options{Authorize: rest.AuthorizeWith(az), Auth: az}), az: az}
}

// key makes a key with permissions in gafferctl's syntax.
func (s *authServer) key(perms ...string) string {
	s.t.Helper()
	p, err := auth.ParsePermissions(perms)
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := s.az.Keys.Create(strings.Join(perms, " "), p, "")
	if err != nil {
		s.t.Fatal(err)
	}
	return k.Key
}

// req sends a request with an X-Api-Key (none when key is "") and
// optional extra headers; it returns the status and body.
func (s *authServer) req(method, path, body, key string, hdr ...string) (int, http.Header, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestEveryRouteUnderEveryPermission checks the table of
// gaffer-http-api.md §3 route by route: without a key 401, with an
// unknown key 403, with a key lacking the permission 403, and with one
// having it anything but 401/403.
func TestEveryRouteUnderEveryPermission(t *testing.T) {
	s := newAuthServer(t)
	sub := s.subscribe("spawn")
	root := s.key("+a")
	for _, j := range []struct {
		session, name string
		start         bool
	}{{"app", "web", true}, {"other", "db", false}} {
		if status, _, body := s.req("POST", "/jobs/"+j.session, jobBody(t, j.name, "sleep", j.start, nil), root); status != 200 {
			t.Fatalf("load %s.%s: %d %s", j.session, j.name, status, body)
		}
	}
	pid := gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.Type == "spawn" && e.Name == "app.web" }).Pid

	perms := [][]string{{"+a"}, {"+m"}, {"app+m"}, {"app.web+m"}, {"app.web+w"}, {"app.web+r"}, {"app+r"}, {"other+rwm"}, {"+ku"}}
	keys := map[string]string{}
	parsed := map[string]auth.Permissions{}
	for _, p := range perms {
		name := strings.Join(p, " ")
		keys[name] = s.key(p...)
		parsed[name], _ = auth.ParsePermissions(p)
	}
	P := fmt.Sprint(pid)
	type rt struct {
		method, path, body string
		level              auth.Level
		target             string
		destructive        bool // allowed only once, with the last allowed key
	}
	routes := []rt{
		{"GET", "/sessions", "", auth.LevelManage, "*", false},
		{"GET", "/jobs", "", auth.LevelManage, "*", false},
		{"GET", "/pids", "", auth.LevelManage, "*", false},
		{"GET", "/jobs/app", "", auth.LevelManage, "app", false},
		{"POST", "/jobs/app", `{"name":"web","cmd":"x"}`, auth.LevelManage, "app", false}, // 409 when allowed
		{"HEAD", "/jobs/app/web", "", auth.LevelRead, "app.web", false},
		{"GET", "/jobs/app/web", "", auth.LevelRead, "app.web", false},
		{"GET", "/jobs/app/web/stats", "", auth.LevelRead, "app.web", false},
		{"GET", "/jobs/app/web/pids", "", auth.LevelRead, "app.web", false},
		{"GET", "/jobs/app/web/numprocesses", "", auth.LevelRead, "app.web", false},
		{"GET", "/jobs/app/web/state", "", auth.LevelRead, "app.web", false},
		{"PUT", "/jobs/app/web", `{"name":"other"}`, auth.LevelManage, "app.web", false}, // 400 when allowed
		{"POST", "/jobs/app/web/numprocesses", `{"scale":"=1"}`, auth.LevelManage, "app.web", false},
		{"POST", "/jobs/app/web/signal", `{"signal":"NOPE"}`, auth.LevelManage, "app.web", false}, // 400
		{"POST", "/jobs/app/web/state", "9", auth.LevelManage, "app.web", false},                  // 400
		{"POST", "/jobs/app/web/commit", `{"graceful_timeout":"x"}`, auth.LevelManage, "app", false},
		{"HEAD", "/" + P, "", auth.LevelRead, "app.web", false},
		{"GET", "/" + P, "", auth.LevelRead, "app.web", false},
		{"GET", "/" + P + "/stats", "", auth.LevelRead, "app.web", false},
		{"POST", "/" + P + "/signal", `{"signal":"NOPE"}`, auth.LevelManage, "app.web", false},
		{"GET", "/jobs/other/db", "", auth.LevelRead, "other.db", false},
		{"GET", "/keys", "", auth.LevelAdmin, "", false},
		{"GET", "/users", "", auth.LevelAdmin, "", false},
		{"DELETE", "/" + P, "", auth.LevelManage, "app.web", true},
		{"DELETE", "/jobs/other/db", "", auth.LevelManage, "other.db", true},
	}
	for _, r := range routes {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			s := *s
			s.server = &server{t: t, sup: s.sup, url: s.url}
			if status, _, body := s.req(r.method, r.path, r.body, ""); status != http.StatusUnauthorized {
				t.Errorf("no key: %d %s, want 401", status, body)
			}
			if status, _, body := s.req(r.method, r.path, r.body, "0123456789abcdef0123456789abcdef"); status != http.StatusForbidden {
				t.Errorf("unknown key: %d %s, want 403", status, body)
			}
			var allowed []string
			for _, p := range perms {
				name := strings.Join(p, " ")
				if !auth.Can(parsed[name], r.level, r.target) {
					if status, _, body := s.req(r.method, r.path, r.body, keys[name]); status != http.StatusForbidden {
						t.Errorf("key %s: %d %s, want 403", name, status, body)
					}
					continue
				}
				allowed = append(allowed, name)
			}
			if len(allowed) == 0 {
				t.Fatal("no key may use this route: the table is wrong")
			}
			if r.destructive {
				allowed = allowed[len(allowed)-1:]
			}
			for _, name := range allowed {
				status, _, body := s.req(r.method, r.path, r.body, keys[name])
				if status == http.StatusUnauthorized || status == http.StatusForbidden || status >= 500 {
					t.Errorf("key %s: %d %s, want the route's own answer", name, status, body)
				}
			}
		})
	}
	// Public routes and CORS preflights need no key.
	for _, p := range []string{"/", "/version", "/ping"} {
		if status, _, _ := s.req("GET", p, "", ""); status != http.StatusOK {
			t.Errorf("GET %s without a key: %d", p, status)
		}
	}
	if status, _, _ := s.req("OPTIONS", "/jobs", "", ""); status != http.StatusNoContent {
		t.Errorf("OPTIONS /jobs without a key: %d, want 204", status)
	}
}

func TestAuthReturnsTheUsersKey(t *testing.T) {
	s := newAuthServer(t)
	admin := s.key("+a")
	if err := s.az.Users.Create(auth.User{Username: "bob", UserType: auth.TypeUser, Key: admin}, "s3cret"); err != nil {
		t.Fatal(err)
	}
	status, h, body := s.req("GET", "/auth", "", "", "Authorization", basic("bob", "s3cret"))
	if status != 200 || h.Get("X-Api-Key") != admin || !strings.Contains(body, `"api_key":"`+admin+`"`) {
		t.Fatalf("GET /auth: %d %q %s", status, h.Get("X-Api-Key"), body)
	}
	for _, hdr := range [][]string{{}, {"Authorization", basic("bob", "wrong")}, {"Authorization", basic("eve", "s3cret")}, {"Authorization", "Bearer x"}} {
		if status, _, body := s.req("GET", "/auth", "", "", hdr...); status != http.StatusUnauthorized {
			t.Errorf("GET /auth with %q: %d %s, want 401", hdr, status, body)
		}
	}
}

func TestKeysRoutes(t *testing.T) {
	s := newAuthServer(t)
	admin, creator, reader := s.key("+a"), s.key("+k", "app+m"), s.key("app.web+r")

	// Creating an admin key needs admin; a creator gives only what it has.
	for _, tt := range []struct {
		key, body string
		want      int
	}{
		{creator, `{"permissions":{"admin":true}}`, 403},
		{creator, `{"permissions":{"manage":["*"]}}`, 403},
		{creator, `{"permissions":{"create_user":true}}`, 403},
		{reader, `{"permissions":{"read":["app.web"]}}`, 403},
		{creator, `{"permissions":`, 400},
		{creator, `{"label":"x"}`, 400},
		{admin, `{"permissions":{"admin":true},"parent":"nope"}`, 400},
	} {
		if status, _, body := s.req("POST", "/keys", tt.body, tt.key); status != tt.want {
			t.Errorf("POST /keys %s: %d %s, want %d", tt.body, status, body, tt.want)
		}
	}
	status, h, body := s.req("POST", "/keys", `{"permissions":{"read":["app.web"]},"label":"ro","key":"chosen"}`, creator)
	var out struct {
		OK     bool   `json:"ok"`
		APIKey string `json:"api_key"`
	}
	json.Unmarshal([]byte(body), &out)
	if status != 200 || !out.OK || len(out.APIKey) != 32 || out.APIKey == "chosen" || h.Get("X-Api-Key") != out.APIKey ||
		h.Get("Location") != s.url+"/keys/"+out.APIKey {
		t.Fatalf("POST /keys: %d %v %s", status, h, body)
	}
	sub := out.APIKey
	// The new key hangs under its creator: it goes when the creator goes.
	if status, _, body := s.req("GET", "/keys/"+creator+"?include_keys=true", "", creator); status != 200 || !strings.Contains(body, sub) || !strings.Contains(body, `"label":"ro"`) {
		t.Errorf("GET own key with sub-keys: %d %s", status, body)
	}
	if status, _, _ := s.req("GET", "/keys/"+sub, "", sub); status != 200 {
		t.Errorf("a key reading itself: %d", status)
	}
	if status, _, _ := s.req("GET", "/keys/"+admin, "", reader); status != 403 {
		t.Errorf("a key reading another: %d, want 403", status)
	}
	if status, _, _ := s.req("GET", "/keys/"+strings.Repeat("0", 32), "", admin); status != 404 {
		t.Errorf("GET unknown key: %d, want 404", status)
	}
	if status, _, _ := s.req("DELETE", "/keys/"+strings.Repeat("0", 32), "", admin); status != 404 {
		t.Errorf("DELETE unknown key: %d, want 404 (the reference answers 200)", status)
	}
	if status, _, body := s.req("DELETE", "/keys/"+creator, "", admin); status != 200 || body != `{"ok":true}` {
		t.Fatalf("DELETE key: %d %s", status, body)
	}
	if status, _, _ := s.req("GET", "/jobs/app/web", "", sub); status != 403 {
		t.Errorf("a sub-key of a deleted key still works: %d", status)
	}
	if status, _, body := s.req("GET", "/keys?include_keys=true", "", admin); status != 200 || strings.Contains(body, sub) {
		t.Errorf("GET /keys after deleting the parent: %d %s", status, body)
	}
}

func TestUsersRoutes(t *testing.T) {
	s := newAuthServer(t)
	admin, maker, bobKey := s.key("+a"), s.key("+u"), s.key("app+r")
	for _, tt := range []struct {
		key, body string
		want      int
	}{
		{maker, `{"username":"bob","password":"pw","key":"` + bobKey + `","team":"ops"}`, 200},
		{maker, `{"username":"bob","password":"pw"}`, 409},
		{maker, `{"username":"boss","password":"pw","user_type":0}`, 403}, // type 0 needs admin
		{maker, `{"username":"x"}`, 400},
		{maker, `{"password":"x"}`, 400},
		{maker, `{"username":"x","password":"y","key":"nokey"}`, 400},
		{bobKey, `{"username":"x","password":"y"}`, 403},
		{admin, `{"username":"boss","password":"pw","user_type":0}`, 200},
	} {
		if status, _, body := s.req("POST", "/users", tt.body, tt.key); status != tt.want {
			t.Errorf("POST /users %s: %d %s, want %d", tt.body, status, body, tt.want)
		}
	}
	// No password, ever; extra fields are echoed.
	status, _, body := s.req("GET", "/users/bob", "", bobKey)
	if status != 200 || strings.Contains(body, "password") || strings.Contains(body, "argon2") || !strings.Contains(body, `"team":"ops"`) {
		t.Errorf("GET /users/bob as bob: %d %s", status, body)
	}
	if status, _, body := s.req("GET", "/users?include_user=true", "", admin); status != 200 || strings.Contains(body, "argon2") || !strings.Contains(body, `"boss"`) {
		t.Errorf("GET /users: %d %s", status, body)
	}
	// bob may not see boss; HEAD says 404 rather than 403.
	if status, _, _ := s.req("GET", "/users/boss", "", bobKey); status != 403 {
		t.Errorf("GET another user: %d, want 403", status)
	}
	if status, _, _ := s.req("HEAD", "/users/boss", "", bobKey); status != 404 {
		t.Errorf("HEAD another user: %d, want 404", status)
	}
	// Unknown users are 404 on every route (the reference: 500 or 200).
	for _, r := range [][2]string{{"GET", ""}, {"PUT", `{"password":"x"}`}, {"DELETE", ""}} {
		if status, _, body := s.req(r[0], "/users/ghost", r[1], admin); status != 404 {
			t.Errorf("%s /users/ghost: %d %s, want 404", r[0], status, body)
		}
	}
	for _, r := range [][2]string{{"/password", `{"password":"x"}`}, {"/key", `{"key":"` + bobKey + `"}`}} {
		if status, _, body := s.req("PUT", "/users/ghost"+r[0], r[1], admin); status != 404 {
			t.Errorf("PUT /users/ghost%s: %d %s, want 404", r[0], status, body)
		}
	}
	if status, _, _ := s.req("PUT", "/users/bob/password", `{}`, bobKey); status != 400 {
		t.Errorf("PUT password without one: %d, want 400", status)
	}
	// bob changes his own password; the old one stops working.
	if status, _, body := s.req("PUT", "/users/bob/password", `{"password":"new"}`, bobKey); status != 200 {
		t.Fatalf("PUT own password: %d %s", status, body)
	}
	if status, _, _ := s.req("GET", "/auth", "", "", "Authorization", basic("bob", "pw")); status != 401 {
		t.Errorf("old password still works: %d", status)
	}
	if status, _, body := s.req("GET", "/auth", "", "", "Authorization", basic("bob", "new")); status != 200 || !strings.Contains(body, bobKey) {
		t.Errorf("new password: %d %s", status, body)
	}
	// PUT replaces the user; a user may not make itself type 0.
	if status, _, _ := s.req("PUT", "/users/bob", `{"password":"p2","user_type":0}`, bobKey); status != 403 {
		t.Errorf("PUT user_type 0 as the user: %d, want 403", status)
	}
	if status, _, body := s.req("PUT", "/users/bob", `{"password":"p2","key":"`+bobKey+`"}`, maker); status != 200 {
		t.Errorf("PUT /users/bob: %d %s", status, body)
	}
	if _, _, body := s.req("GET", "/users/bob", "", maker); strings.Contains(body, "team") {
		t.Errorf("PUT kept a field it did not give: %s", body)
	}
	if status, _, body := s.req("DELETE", "/users/bob", "", maker); status != 200 {
		t.Errorf("DELETE /users/bob: %d %s", status, body)
	}
}

func TestPermissionsRoute(t *testing.T) {
	s := newAuthServer(t)
	k := s.key("app.web+rw", "+k")
	status, _, body := s.req("GET", "/auth/permissions", "", k)
	var out struct {
		Permissions auth.Permissions `json:"permissions"`
		RequireKey  bool             `json:"require_key"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || status != 200 || !out.RequireKey || !out.Permissions.CreateKey ||
		out.Permissions.Admin || len(out.Permissions.Write) != 1 {
		t.Errorf("GET /auth/permissions: %d %s", status, body)
	}
	if status, _, _ := s.req("GET", "/auth/permissions", "", ""); status != 401 {
		t.Errorf("without a key: %d, want 401", status)
	}

	// Keys off: everything but creating keys and users; key routes 404.
	off := newServer(t, rest.Options{Authorize: rest.AuthorizeWith(&auth.Authorizer{}), Auth: &auth.Authorizer{}})
	m := off.call("GET", "/auth/permissions", "", 200)
	p := m["permissions"].(map[string]any)
	if m["require_key"] != false || p["admin"] != true || p["create_key"] != false || p["create_user"] != false {
		t.Errorf("keys off: %v", m)
	}
	for _, r := range [][2]string{{"GET", "/auth"}, {"GET", "/keys"}, {"POST", "/keys"}, {"GET", "/users"}, {"GET", "/users/x"}} {
		if status, _, body := off.do(r[0], r[1], `{"permissions":{}}`); status != 404 {
			t.Errorf("keys off: %s %s: %d %s, want 404", r[0], r[1], status, body)
		}
	}
}
