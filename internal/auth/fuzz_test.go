package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzParsePermissions(f *testing.F) {
	for _, s := range []string{"+a", "+kum", "app+r", "app.web+rw", "*+rwm", "+", "a+b+c", "app web+r", "x+rrr"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		p, err := ParsePermissions(strings.Fields(arg))
		if err != nil {
			return
		}
		// Whatever is granted is exactly what Can then allows.
		for _, tgt := range p.Read {
			if !Can(p, LevelRead, tgt) {
				t.Fatalf("%q: read on %q granted but refused", arg, tgt)
			}
		}
		for _, tgt := range p.Manage {
			if !Can(p, LevelManage, tgt) || !Can(p, LevelWrite, tgt) {
				t.Fatalf("%q: manage on %q granted but refused", arg, tgt)
			}
		}
		if !p.Admin && Can(p, LevelAdmin, "") {
			t.Fatalf("%q: admin without +a", arg)
		}
	})
}

func FuzzCredentials(f *testing.F) {
	keys, _ := OpenKeys(Memory)
	users, _ := OpenUsers(Memory)
	k, _ := keys.Create("", Permissions{Read: []string{"app"}}, "")
	users.importUser(User{Username: "bob", Key: k.Key}, legacyHash("pw", "salt", 1)) // cheap to verify
	az := &Authorizer{RequireKey: true, Keys: keys, Users: users}
	f.Add(k.Key, "")
	f.Add("", "Basic Ym9iOnB3")
	f.Add("  x ", "basic ")
	f.Add("\x00", "Basic Og==")
	f.Add("", "Basic OnB3")
	f.Fuzz(func(t *testing.T, key, authorization string) {
		r := httptest.NewRequest("GET", "/", nil)
		if key != "" {
			r.Header["X-Api-Key"] = []string{key}
		}
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		c := az.Caller(r)
		if c.Err == nil && c.Key != k.Key {
			t.Fatalf("X-Api-Key %q, Authorization %q: identified as key %q", key, authorization, c.Key)
		}
		if c.Err == nil && c.Can(LevelManage, "app") {
			t.Fatal("more than the key allows")
		}
	})
}
