package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

// TLSFiles are the client's TLS settings, as PEM files: the CA that signed
// gafferd's certificate (empty: the system's roots) and, when gafferd asks
// for one, the client's certificate and key.
type TLSFiles struct {
	CAFile   string
	CertFile string
	KeyFile  string // empty: the key is in CertFile
}

// Config loads the files into a tls.Config (TLS 1.2 at least).
func (f TLSFiles) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", f.CAFile)
		}
		c.RootCAs = pool
	}
	if f.CertFile != "" {
		key := f.KeyFile
		if key == "" {
			key = f.CertFile
		}
		cert, err := tls.LoadX509KeyPair(f.CertFile, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	} else if f.KeyFile != "" {
		return nil, fmt.Errorf("a client key file needs its certificate file")
	}
	return c, nil
}

// WithTLS makes https requests (and wss channels) with cfg. Give it after
// WithHTTPClient, whose transport it then copies.
func WithTLS(cfg *tls.Config) Option {
	return func(c *Client) {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if c.hc != nil {
			if ht, ok := c.hc.Transport.(*http.Transport); ok {
				t = ht.Clone()
			}
			hc := *c.hc
			c.hc = &hc
		} else {
			c.hc = &http.Client{}
		}
		t.TLSClientConfig = cfg
		c.hc.Transport = t
	}
}

// Permissions is an API key's permission object (gaffer-http-api.md §3):
// Manage, Write and Read list sessions, full job names or "*".
type Permissions struct {
	Admin      bool     `json:"admin"`
	CreateKey  bool     `json:"create_key"`
	CreateUser bool     `json:"create_user"`
	Manage     []string `json:"manage"`
	Write      []string `json:"write"`
	Read       []string `json:"read"`
}

// Key is an API key.
type Key struct {
	Key         string      `json:"key"`
	Label       string      `json:"label"`
	Permissions Permissions `json:"permissions"`
	Parent      string      `json:"parent,omitempty"`
	Keys        []Key       `json:"keys,omitempty"` // sub-keys, when asked for
}

// User is a user of gafferd, without its password.
type User struct {
	Username string         `json:"username"`
	UserType int            `json:"user_type"` // 0 user, 1 application
	Key      string         `json:"key"`
	Extra    map[string]any `json:"-"`
}

// UnmarshalJSON keeps the fields beyond username, user_type and key in Extra.
func (u *User) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	type plain User
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*u = User(p)
	for _, k := range []string{"username", "user_type", "key"} {
		delete(m, k)
	}
	if len(m) > 0 {
		u.Extra = m
	}
	return nil
}

// Caller is what GET /auth/permissions says about the client's key.
type Caller struct {
	Permissions Permissions `json:"permissions"`
	RequireKey  bool        `json:"require_key"`
	Key         string      `json:"key"`
	Username    string      `json:"username"`
}

// Login exchanges a username and password for the user's API key (GET
// /auth). "" with no error: the user has no key.
func (c *Client) Login(ctx context.Context, username, password string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/auth", nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(username, password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gaffer-client")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode != http.StatusOK {
		return "", errorOf(resp.StatusCode, data)
	}
	var out struct {
		APIKey *string `json:"api_key"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("GET /auth: decoding the answer: %w", err)
	}
	if out.APIKey == nil {
		return "", nil
	}
	return *out.APIKey, nil
}

// Permissions returns what the client's key may do.
func (c *Client) Permissions(ctx context.Context) (Caller, error) {
	var out Caller
	err := c.do(ctx, http.MethodGet, "/auth/permissions", nil, &out)
	return out, err
}

// Keys lists every key (admin only).
func (c *Client) Keys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	err := c.do(ctx, http.MethodGet, "/keys?include_keys=true", nil, &out)
	return out.Keys, err
}

// Key returns one key with its sub-keys.
func (c *Client) Key(ctx context.Context, key string) (Key, error) {
	var out Key
	err := c.do(ctx, http.MethodGet, "/keys/"+url.PathEscape(key)+"?include_keys=true", nil, &out)
	return out, err
}

// CreateKey makes a key and returns it. parent "" = none (for an admin;
// another key's new keys always hang under it).
func (c *Client) CreateKey(ctx context.Context, perms Permissions, label, parent string) (string, error) {
	body := map[string]any{"permissions": perms, "label": label}
	if parent != "" {
		body["parent"] = parent
	}
	var out struct {
		APIKey string `json:"api_key"`
	}
	err := c.do(ctx, http.MethodPost, "/keys", body, &out)
	return out.APIKey, err
}

// DeleteKey deletes a key and every key made under it.
func (c *Client) DeleteKey(ctx context.Context, key string) error {
	return c.do(ctx, http.MethodDelete, "/keys/"+url.PathEscape(key), nil, nil)
}

// Users lists every user (admin only).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out struct {
		Users []User `json:"users"`
	}
	err := c.do(ctx, http.MethodGet, "/users?include_user=true", nil, &out)
	return out.Users, err
}

// User returns one user.
func (c *Client) User(ctx context.Context, name string) (User, error) {
	var out User
	err := c.do(ctx, http.MethodGet, "/users/"+url.PathEscape(name), nil, &out)
	return out, err
}

func userBody(u User, password string) map[string]any {
	body := map[string]any{}
	for k, v := range u.Extra {
		body[k] = v
	}
	body["username"], body["password"], body["user_type"] = u.Username, password, u.UserType
	if u.Key != "" {
		body["key"] = u.Key
	}
	return body
}

// CreateUser adds a user (user_type 0 needs an admin key).
func (c *Client) CreateUser(ctx context.Context, u User, password string) error {
	return c.do(ctx, http.MethodPost, "/users", userBody(u, password), nil)
}

// UpdateUser replaces a user's fields and password.
func (c *Client) UpdateUser(ctx context.Context, u User, password string) error {
	return c.do(ctx, http.MethodPut, "/users/"+url.PathEscape(u.Username), userBody(u, password), nil)
}

// DeleteUser removes a user.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/users/"+url.PathEscape(name), nil, nil)
}

// SetUserPassword changes a user's password.
func (c *Client) SetUserPassword(ctx context.Context, name, password string) error {
	return c.do(ctx, http.MethodPut, "/users/"+url.PathEscape(name)+"/password", map[string]string{"password": password}, nil)
}

// SetUserKey changes the key a user acts with.
func (c *Client) SetUserKey(ctx context.Context, name, key string) error {
	return c.do(ctx, http.MethodPut, "/users/"+url.PathEscape(name)+"/key", map[string]string{"key": key}, nil)
}
