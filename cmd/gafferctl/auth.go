package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/auth"
)

// authFlags are the global TLS flags.
type authFlags struct {
	cacert, certfile, keyfile string
}

// addAuthCommands adds the TLS flags and the key and user commands.
func (a *app) addAuthCommands(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.StringVar(&a.sec.cacert, "cacert", "", "CA certificate (PEM) that signed gafferd's certificate")
	pf.StringVar(&a.sec.certfile, "certfile", "", "client certificate (PEM), when gafferd asks for one")
	pf.StringVar(&a.sec.keyfile, "keyfile", "", "client certificate's key (PEM)")
	root.AddGroup(&cobra.Group{ID: "auth", Title: "Keys and users:"})
	for _, c := range []*cobra.Command{a.loginCmd(), a.keyCmd(), a.keyCreateCmd(), a.keyDeleteCmd(),
		a.userCmd(), a.userAddCmd(), a.userDelCmd(), a.userSetPasswordCmd(), a.userSetKeyCmd()} {
		c.GroupID = "auth"
		root.AddCommand(c)
	}
}

// userConfigPath is $GAFFER_CONFIG, else ~/.gaffer/gaffer.ini.
func userConfigPath() (string, error) {
	if p := os.Getenv("GAFFER_CONFIG"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("user config: %w (set $GAFFER_CONFIG)", err)
	}
	return filepath.Join(home, ".gaffer", "gaffer.ini"), nil
}

// authOptions are the client options from the TLS flags and, for a
// client without a key from --api-key or $GAFFER_API_KEY, from the user
// config's [node "<address>"] section (key, cacert, certfile, keyfile).
func (a *app) authOptions(addr string, haveKey bool) ([]client.Option, error) {
	tf := client.TLSFiles{CAFile: a.sec.cacert, CertFile: a.sec.certfile, KeyFile: a.sec.keyfile}
	var opts []client.Option
	if path, err := userConfigPath(); err == nil {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("user config: %w", err)
		}
		nodes, err := parseUserConfig(data)
		if err != nil {
			return nil, fmt.Errorf("user config %s: %w", path, err)
		}
		node := nodes[nodeName(addr)]
		if k := node["key"]; k != "" && !haveKey {
			opts = append(opts, client.WithAPIKey(k))
		}
		for _, f := range []struct {
			dst *string
			key string
		}{{&tf.CAFile, "cacert"}, {&tf.CertFile, "certfile"}, {&tf.KeyFile, "keyfile"}} {
			if *f.dst == "" {
				*f.dst = node[f.key]
			}
		}
	}
	if tf != (client.TLSFiles{}) {
		cfg, err := tf.Config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	return opts, nil
}

// nodeName is the user config's name of a gafferd address: its URL
// without a trailing slash.
func nodeName(addr string) string {
	if !strings.Contains(addr, "://") && !strings.HasPrefix(addr, "unix:") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/")
}

// parseUserConfig reads the user config's [node "<url>"] sections: "key =
// value" lines, ";" and "#" comments. Other sections are skipped.
func parseUserConfig(data []byte) (map[string]map[string]string, error) {
	nodes := map[string]map[string]string{}
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

// setNodeKey returns the user config data with key = value set in node's
// section, keeping every other line; the section is added when missing.
func setNodeKey(data []byte, node, key, value string) []byte {
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

// saveNodeKey stores key = value for node in the user config, mode 0600.
func saveNodeKey(node, key, value string) (string, error) {
	path, err := userConfigPath()
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
	if err := os.WriteFile(tmp, setNodeKey(data, node, key, value), 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// password reads a password: the -p flag, else --password-file ("-" or
// none: the first line of standard input).
func (a *app) password(flagValue, file string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	var line string
	if file != "" && file != "-" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		line, _, _ = strings.Cut(string(b), "\n")
	} else {
		l, err := bufio.NewReader(a.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		line = l
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageErrorf("no password: give -p PASSWORD, --password-file FILE, or one line on standard input")
	}
	return line, nil
}

// runWith is the RunE of a command that needs the client.
func (a *app) runWith(fn func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		return fn(cmd, c, args)
	}
}

func (a *app) loginCmd() *cobra.Command {
	var user, pass, file string
	cmd := &cobra.Command{
		Use:   "login [-u USER] [-p PASSWORD | --password-file FILE]",
		Short: "Get your API key with your username and password, and store it in ~/.gaffer/gaffer.ini",
		Long: `login asks gafferd for the API key of a user (GET /auth) and stores it in
the user config ($GAFFER_CONFIG, else ~/.gaffer/gaffer.ini, mode 0600) under
[node "<gafferd URL>"], where later commands to that gafferd find it.
Without -p or --password-file the password is read from standard input.`,
		Args: nargs(0, 0),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			if user == "" {
				user = os.Getenv("USER")
			}
			pw, err := a.password(pass, file)
			if err != nil {
				return err
			}
			key, err := c.Login(cmd.Context(), user, pw)
			if err != nil {
				return err
			}
			if key == "" {
				return fmt.Errorf("user %q has no API key (an admin can give one with user:setkey)", user)
			}
			path, err := saveNodeKey(nodeName(c.Address()), "key", key)
			if err != nil {
				return fmt.Errorf("storing the key: %w", err)
			}
			return a.emit(map[string]string{"api_key": key, "config": path}, func(w io.Writer) {
				fmt.Fprintf(w, "Logged in as %s; key stored in %s\n", user, path)
			})
		}),
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "username (default $USER)")
	cmd.Flags().StringVarP(&pass, "password", "p", "", "password (visible to other local users in ps: prefer --password-file)")
	cmd.Flags().StringVar(&file, "password-file", "", "read the password from this file's first line (- = standard input)")
	return cmd
}

// permText renders permissions in the key:create syntax.
func permText(p client.Permissions) string {
	var parts []string
	flags := ""
	if p.Admin {
		flags += "a"
	}
	if p.CreateKey {
		flags += "k"
	}
	if p.CreateUser {
		flags += "u"
	}
	if flags != "" {
		parts = append(parts, "+"+flags)
	}
	grants := map[string]string{}
	var order []string
	for _, g := range []struct {
		flag    string
		targets []string
	}{{"r", p.Read}, {"w", p.Write}, {"m", p.Manage}} {
		for _, t := range g.targets {
			if _, ok := grants[t]; !ok {
				order = append(order, t)
			}
			grants[t] += g.flag
		}
	}
	for _, t := range order {
		parts = append(parts, t+"+"+grants[t])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func (a *app) keyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key [KEY]",
		Short: "List API keys (admin), or show one key and its sub-keys",
		Args:  nargs(0, 1),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			var keys []client.Key
			if len(args) == 1 {
				k, err := c.Key(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				keys = append([]client.Key{k}, k.Keys...)
				if a.json {
					return a.emit(k, nil)
				}
			} else {
				var err error
				if keys, err = c.Keys(cmd.Context()); err != nil {
					return err
				}
			}
			return a.emit(keys, func(w io.Writer) {
				var rows []string
				for _, k := range keys {
					rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s", k.Key, orDash(k.Label), permText(k.Permissions), orDash(k.Parent)))
				}
				table(w, "KEY\tLABEL\tPERMISSIONS\tPARENT", rows)
			})
		}),
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) keyCreateCmd() *cobra.Command {
	var label, parent string
	cmd := &cobra.Command{
		Use:   "key:create PERMISSION... [--label L] [--parent KEY]",
		Short: "Create an API key and print it",
		Long: `key:create makes an API key with the permissions given, one argument each:

  +a            admin (everything)
  +k            create keys        +u   create users
  +m            manage everything
  TARGET+rwm    read, write and/or manage a session ("app") or a job
                ("app.web"); "*" is every job

Examples:
  gafferctl key:create +a --label ops
  gafferctl key:create app+r app.web+rwm --label deploy`,
		Args: nargs(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := auth.ParsePermissions(args)
			if err != nil {
				return usageError{err}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			perms := client.Permissions{Admin: p.Admin, CreateKey: p.CreateKey, CreateUser: p.CreateUser,
				Manage: p.Manage, Write: p.Write, Read: p.Read}
			key, err := c.CreateKey(cmd.Context(), perms, label, parent)
			if err != nil {
				return err
			}
			return a.emit(map[string]string{"api_key": key}, func(w io.Writer) { fmt.Fprintln(w, key) })
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "what the key is for")
	cmd.Flags().StringVar(&parent, "parent", "", "make the key under KEY: it is deleted with it")
	return cmd
}

func (a *app) keyDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key:delete KEY",
		Short: "Delete an API key and the keys made under it",
		Args:  nargs(1, 1),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.DeleteKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.ok()
		}),
	}
}

func (a *app) userCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "user [NAME]",
		Short: "List users (admin), or show one",
		Args:  nargs(0, 1),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			var users []client.User
			if len(args) == 1 {
				u, err := c.User(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				users = []client.User{u}
			} else {
				var err error
				if users, err = c.Users(cmd.Context()); err != nil {
					return err
				}
			}
			return a.emit(users, func(w io.Writer) {
				var rows []string
				for _, u := range users {
					typ := "application"
					if u.UserType == auth.TypeUser {
						typ = "user"
					}
					rows = append(rows, fmt.Sprintf("%s\t%s\t%s", u.Username, typ, orDash(u.Key)))
				}
				table(w, "USERNAME\tTYPE\tKEY", rows)
			})
		}),
	}
}

func (a *app) userAddCmd() *cobra.Command {
	var pass, file, key string
	var typ int
	cmd := &cobra.Command{
		Use:   "user:add NAME [-p PASSWORD | --password-file FILE] [--key KEY] [--type 0|1]",
		Short: "Add a user (type 0 = user, needs an admin key; 1 = application, the default)",
		Args:  nargs(1, 1),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if typ != auth.TypeUser && typ != auth.TypeApplication {
				return usageErrorf("--type must be 0 (user) or 1 (application)")
			}
			pw, err := a.password(pass, file)
			if err != nil {
				return err
			}
			if err := c.CreateUser(cmd.Context(), client.User{Username: args[0], UserType: typ, Key: key}, pw); err != nil {
				return err
			}
			return a.ok()
		}),
	}
	cmd.Flags().StringVarP(&pass, "password", "p", "", "password")
	cmd.Flags().StringVar(&file, "password-file", "", "read the password from this file's first line (- = standard input)")
	cmd.Flags().StringVar(&key, "key", "", "API key the user acts with")
	cmd.Flags().IntVar(&typ, "type", auth.TypeApplication, "0 user, 1 application")
	return cmd
}

func (a *app) userDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "user:del NAME",
		Short: "Delete a user",
		Args:  nargs(1, 1),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.ok()
		}),
	}
}

func (a *app) userSetPasswordCmd() *cobra.Command {
	var pass, file string
	cmd := &cobra.Command{
		Use:   "user:setpassword NAME [-p PASSWORD | --password-file FILE]",
		Short: "Change a user's password",
		Args:  nargs(1, 1),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			pw, err := a.password(pass, file)
			if err != nil {
				return err
			}
			if err := c.SetUserPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			return a.ok()
		}),
	}
	cmd.Flags().StringVarP(&pass, "password", "p", "", "new password")
	cmd.Flags().StringVar(&file, "password-file", "", "read the password from this file's first line (- = standard input)")
	return cmd
}

func (a *app) userSetKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "user:setkey NAME KEY",
		Short: "Change the API key a user acts with",
		Args:  nargs(2, 2),
		RunE: a.runWith(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.SetUserKey(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return a.ok()
		}),
	}
}
