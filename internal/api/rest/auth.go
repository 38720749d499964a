package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gafferhq/gaffer/internal/auth"
)

// ---- the permission hooks of every transport ---------------------------------

// AuthLevel maps a route's permission and target onto internal/auth's: a
// ManageAll route needs manage on "*".
func AuthLevel(need Permission, target string) (auth.Level, string) {
	switch need {
	case Read:
		return auth.LevelRead, target
	case Write:
		return auth.LevelWrite, target
	case Manage:
		return auth.LevelManage, target
	case ManageAll:
		return auth.LevelManage, "*"
	}
	return auth.LevelAdmin, ""
}

// refusal turns an auth refusal into ErrUnauthorized (401: who are you?)
// or ErrForbidden (403: you may not).
func refusal(err error) error {
	switch {
	case err == nil:
		return nil
	case auth.Unauthenticated(err):
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return fmt.Errorf("%w: %w", ErrForbidden, err)
}

// AuthorizeWith returns the Options.Authorize hook (also that of the
// websocket and 0.4 APIs) that checks the request's caller as az resolves
// it: a missing or malformed credential is 401, an unknown key or a key
// without the permission 403.
func AuthorizeWith(az *auth.Authorizer) func(*http.Request, Permission, string) error {
	return func(r *http.Request, need Permission, target string) error {
		if need == Public {
			return nil
		}
		level, t := AuthLevel(need, target)
		return refusal(az.Caller(r).Check(level, t))
	}
}

// KeyAuthWith returns the websocket KeyAuth hook: the key of a channel's
// "AUTH:<key>" message must exist, and each later subscription or command
// is checked against the key as it is then, so a deleted key stops
// working at once.
func KeyAuthWith(az *auth.Authorizer) func(string) (func(Permission, string) error, error) {
	return func(key string) (func(Permission, string) error, error) {
		if c := az.KeyCaller(key); c.Err != nil {
			return nil, refusal(c.Err)
		}
		return func(need Permission, target string) error {
			if need == Public {
				return nil
			}
			level, t := AuthLevel(need, target)
			return refusal(az.KeyCaller(key).Check(level, t))
		}, nil
	}
}

// ---- /auth, /keys, /users (gaffer-http-api.md §7) ----------------------------

var (
	errAuthOff  = &apiError{Status: http.StatusNotFound, Code: "not_found", Reason: "API keys are not required on this server (require_key is off)"}
	errKeyGone  = &apiError{Status: http.StatusNotFound, Code: "not_found", Reason: "no such key"}
	errUserGone = &apiError{Status: http.StatusNotFound, Code: "not_found", Reason: "no such user"}
)

// keysOn returns the authorizer when keys are required, else errAuthOff:
// without keys there are no key and user stores.
func (a *api) keysOn() (*auth.Authorizer, error) {
	if a.auth == nil || !a.auth.RequireKey || a.auth.Keys == nil || a.auth.Users == nil {
		return nil, errAuthOff
	}
	return a.auth, nil
}

// caller is the request's caller, a dummy when the handler has no
// authorizer.
func (a *api) caller(r *http.Request) auth.Caller {
	if a.auth == nil {
		return auth.Caller{Dummy: true}
	}
	return a.auth.Caller(r)
}

// storeError maps the stores' errors.
func storeError(err error) error {
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Reason: err.Error(), Err: err}
	case errors.Is(err, auth.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Reason: err.Error(), Err: err}
	}
	return err
}

// authKey is GET /auth: Basic credentials in, the user's key out.
func (a *api) authKey(w http.ResponseWriter, r *http.Request) error {
	az, err := a.keysOn()
	if err != nil {
		return err
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="gaffer"`)
		return fmt.Errorf("%w: Basic credentials required", ErrUnauthorized)
	}
	user, pass, err := auth.ParseBasic(h)
	if err != nil {
		return refusal(err)
	}
	c := az.UserCaller(user, pass)
	if c.Err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="gaffer"`)
		return refusal(c.Err)
	}
	var key any
	if c.Key != "" {
		key = c.Key
		w.Header().Set("X-Api-Key", c.Key)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"api_key": key})
}

// permissions is GET /auth/permissions: {"permissions": {...},
// "require_key": bool, "key", "username"}, what the caller may do, so a
// dashboard can hide what it may not.
func (a *api) permissions(w http.ResponseWriter, r *http.Request) error {
	c := a.caller(r)
	if c.Err != nil {
		return refusal(c.Err)
	}
	requireKey := a.auth != nil && a.auth.RequireKey
	return writeJSON(w, http.StatusOK, struct {
		Permissions auth.Permissions `json:"permissions"`
		RequireKey  bool             `json:"require_key"`
		Key         string           `json:"key,omitempty"`
		Username    string           `json:"username,omitempty"`
	}{c.Effective(), requireKey, c.Key, c.Username})
}

// keyView is a key as the API shows it, with its sub-keys on request.
type keyView struct {
	auth.Key
	Keys []auth.Key `json:"keys,omitempty"`
}

func (a *api) listKeys(w http.ResponseWriter, r *http.Request) error {
	az, err := a.keysOn()
	if err != nil {
		return err
	}
	keys := az.Keys.List()
	if flag(r, "include_keys") {
		return writeJSON(w, http.StatusOK, map[string][]auth.Key{"keys": nonNil(keys)})
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, k.Key)
	}
	return writeJSON(w, http.StatusOK, map[string][]string{"keys": names})
}

// grantable reports whether caller c may give perms to a new key: an admin
// may give anything; another key only what it has itself, so that
// create_key never escalates.
func grantable(c auth.Caller, perms auth.Permissions) error {
	if c.Can(auth.LevelAdmin, "") {
		return nil
	}
	if perms.Admin {
		return fmt.Errorf("%w: only an admin may create an admin key", ErrForbidden)
	}
	if perms.CreateUser && !c.Can(auth.LevelCreateUser, "") {
		return fmt.Errorf("%w: create_user is not yours to give", ErrForbidden)
	}
	for _, g := range []struct {
		level   auth.Level
		name    string
		targets []string
	}{{auth.LevelManage, "manage", perms.Manage}, {auth.LevelWrite, "write", perms.Write}, {auth.LevelRead, "read", perms.Read}} {
		for _, t := range g.targets {
			if !c.Can(g.level, t) {
				return fmt.Errorf("%w: %s on %q is not yours to give", ErrForbidden, g.name, t)
			}
		}
	}
	return nil
}

func (a *api) createKey(w http.ResponseWriter, r *http.Request) error {
	az, err := a.keysOn()
	if err != nil {
		return err
	}
	c := a.caller(r)
	if err := c.Check(auth.LevelCreateKey, ""); err != nil {
		return refusal(err)
	}
	var body struct {
		Permissions *auth.Permissions `json:"permissions"`
		Label       string            `json:"label"`
		Parent      string            `json:"parent"`
	}
	if err := decodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.Permissions == nil {
		return badRequest(`"permissions" is required`)
	}
	if err := grantable(c, *body.Permissions); err != nil {
		return err
	}
	parent := body.Parent
	if !c.Can(auth.LevelAdmin, "") {
		// A non-admin's keys hang under its own, and go with it.
		if parent != "" && parent != c.Key {
			return fmt.Errorf("%w: a key may only be created under your own key", ErrForbidden)
		}
		parent = c.Key
	}
	k, err := az.Keys.Create(body.Label, *body.Permissions, parent)
	if errors.Is(err, auth.ErrNotFound) {
		return badRequest(err.Error())
	}
	if err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.Header().Set("X-Api-Key", k.Key)
	w.Header().Set("Location", scheme+"://"+r.Host+"/keys/"+k.Key)
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "api_key": k.Key})
}

// ownKey checks that the caller may see or delete key: a create_key holder,
// or the key itself.
func ownKey(c auth.Caller, key string) error {
	if c.Err == nil && c.Key != "" && c.Key == key {
		return nil
	}
	return refusal(c.Check(auth.LevelCreateKey, ""))
}

// ownedKey is key {key} when keys are on and the caller may see it.
func (a *api) ownedKey(r *http.Request) (*auth.Authorizer, string, error) {
	az, err := a.keysOn()
	if err != nil {
		return nil, "", err
	}
	key := r.PathValue("key")
	if err := ownKey(a.caller(r), key); err != nil {
		return nil, "", err
	}
	return az, key, nil
}

func (a *api) getKey(w http.ResponseWriter, r *http.Request) error {
	az, key, err := a.ownedKey(r)
	if err != nil {
		return err
	}
	k, err := az.Keys.Get(key)
	if err != nil {
		return errKeyGone
	}
	v := keyView{Key: k}
	if flag(r, "include_keys") {
		v.Keys = nonNil(az.Keys.Children(key))
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *api) deleteKey(w http.ResponseWriter, r *http.Request) error {
	az, key, err := a.ownedKey(r)
	if err != nil {
		return err
	}
	if err := az.Keys.Delete(key); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return errKeyGone
		}
		return err
	}
	return writeJSON(w, http.StatusOK, okBody)
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) error {
	az, err := a.keysOn()
	if err != nil {
		return err
	}
	users := az.Users.List()
	if flag(r, "include_user") || flag(r, "include_users") {
		return writeJSON(w, http.StatusOK, map[string][]auth.User{"users": nonNil(users)})
	}
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, u.Username)
	}
	return writeJSON(w, http.StatusOK, map[string][]string{"users": names})
}

// userBody reads a user object: username, password, user_type (default
// application), key, and any other fields.
func userBody(r *http.Request) (u auth.User, password string, hasPassword bool, err error) {
	var m map[string]any
	if err := decodeJSON(r, &m, false); err != nil {
		return u, "", false, err
	}
	if m == nil {
		return u, "", false, badRequest("want a JSON object")
	}
	str := func(k string) (string, bool, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return "", false, nil
		}
		s, isStr := v.(string)
		if !isStr {
			return "", false, badRequest(fmt.Sprintf("%q must be a string", k))
		}
		return s, true, nil
	}
	if u.Username, _, err = str("username"); err != nil {
		return u, "", false, err
	}
	if password, hasPassword, err = str("password"); err != nil {
		return u, "", false, err
	}
	if u.Key, _, err = str("key"); err != nil {
		return u, "", false, err
	}
	u.UserType = auth.TypeApplication
	if v, ok := m["user_type"]; ok && v != nil {
		n, isNum := v.(json.Number)
		t, convErr := strconv.Atoi(string(n))
		if !isNum || convErr != nil || (t != auth.TypeUser && t != auth.TypeApplication) {
			return u, "", false, badRequest(`"user_type" must be 0 (user) or 1 (application)`)
		}
		u.UserType = t
	}
	for _, k := range []string{"username", "password", "key", "user_type"} {
		delete(m, k)
	}
	if len(m) > 0 {
		u.Extra = m
	}
	return u, password, hasPassword, nil
}

// checkUserFields refuses what only an admin may set, and unknown keys.
func checkUserFields(az *auth.Authorizer, c auth.Caller, u auth.User) error {
	if u.UserType == auth.TypeUser && !c.Can(auth.LevelAdmin, "") {
		return fmt.Errorf("%w: only an admin may create or make a user of type 0", ErrForbidden)
	}
	if u.Key != "" {
		if _, err := az.Keys.Get(u.Key); err != nil {
			return badRequest("key " + strconv.Quote(u.Key) + " does not exist")
		}
	}
	return nil
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) error {
	az, err := a.keysOn()
	if err != nil {
		return err
	}
	c := a.caller(r)
	if err := c.Check(auth.LevelCreateUser, ""); err != nil {
		return refusal(err)
	}
	u, password, hasPassword, err := userBody(r)
	if err != nil {
		return err
	}
	if u.Username == "" || !hasPassword || password == "" {
		return badRequest(`"username" and "password" are required`)
	}
	if slices.ContainsFunc([]rune(u.Username), func(r rune) bool { return r <= ' ' || r == '/' || r == ':' }) {
		return badRequest("username must not contain spaces, '/' or ':'")
	}
	if err := checkUserFields(az, c, u); err != nil {
		return err
	}
	if err := az.Users.Create(u, password); err != nil {
		return storeError(err)
	}
	return writeJSON(w, http.StatusOK, okBody)
}

// ownUser finds user {u} for a caller allowed to act on it: a create_user
// holder, or the user whose key the caller uses (or who logged in). Others
// are refused before the user is looked up, so that they cannot probe
// names; HEAD answers them 404.
func (a *api) ownUser(r *http.Request) (*auth.Authorizer, auth.Caller, auth.User, error) {
	az, err := a.keysOn()
	if err != nil {
		return nil, auth.Caller{}, auth.User{}, err
	}
	c := a.caller(r)
	name := r.PathValue("u")
	if err := c.Check(auth.LevelCreateUser, ""); err != nil {
		u, lookErr := az.Users.Get(name)
		mine := c.Err == nil && lookErr == nil &&
			(c.Username == name || (c.Key != "" && u.Key == c.Key))
		if !mine {
			if r.Method == http.MethodHead && !auth.Unauthenticated(err) {
				return nil, c, auth.User{}, errUserGone
			}
			return nil, c, auth.User{}, refusal(err)
		}
		return az, c, u, nil
	}
	u, err := az.Users.Get(name)
	if err != nil {
		return nil, c, auth.User{}, errUserGone
	}
	return az, c, u, nil
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) error {
	_, _, u, err := a.ownUser(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (a *api) updateUser(w http.ResponseWriter, r *http.Request) error {
	az, c, old, err := a.ownUser(r)
	if err != nil {
		return err
	}
	u, password, hasPassword, err := userBody(r)
	if err != nil {
		return err
	}
	if !hasPassword || password == "" {
		return badRequest(`"password" is required`)
	}
	if u.Username != "" && u.Username != old.Username {
		return badRequest(`"username" cannot be changed`)
	}
	u.Username = old.Username
	if err := checkUserFields(az, c, u); err != nil {
		return err
	}
	if err := az.Users.Update(u, password); err != nil {
		return storeError(err)
	}
	return writeJSON(w, http.StatusOK, okBody)
}

func (a *api) deleteUser(w http.ResponseWriter, r *http.Request) error {
	az, _, u, err := a.ownUser(r)
	if err != nil {
		return err
	}
	if err := az.Users.Delete(u.Username); err != nil {
		return storeError(err)
	}
	return writeJSON(w, http.StatusOK, okBody)
}

func (a *api) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Password *string `json:"password"`
	}
	return a.setUserString(w, r, &body, "password", &body.Password,
		func(az *auth.Authorizer, username, password string) error {
			return az.Users.SetPassword(username, password)
		})
}

func (a *api) setUserKey(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Key *string `json:"key"`
	}
	return a.setUserString(w, r, &body, "key", &body.Key,
		func(az *auth.Authorizer, username, key string) error {
			if _, err := az.Keys.Get(key); err != nil {
				return badRequest("key " + strconv.Quote(key) + " does not exist")
			}
			return az.Users.SetKey(username, key)
		})
}

// setUserString changes one thing of user {u}: body is decoded, its
// required non-empty string field (value, named field in JSON) given to
// set.
func (a *api) setUserString(w http.ResponseWriter, r *http.Request, body any, field string, value **string,
	set func(az *auth.Authorizer, username, value string) error) error {
	az, _, u, err := a.ownUser(r)
	if err != nil {
		return err
	}
	if err := decodeJSON(r, body, false); err != nil {
		return err
	}
	if *value == nil || **value == "" {
		return badRequest(strconv.Quote(field) + " is required")
	}
	if err := set(az, u.Username, **value); err != nil {
		return storeError(err)
	}
	return writeJSON(w, http.StatusOK, okBody)
}
