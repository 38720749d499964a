// Package authcmd holds what gafferctl and gaffer share to talk to a gafferd
// that wants API keys or TLS: the --api-key, --cacert, --certfile and
// --keyfile options, the user config's stored keys (internal/cli/userconfig),
// and the login, key and user commands.
//
// A program gives the commands an Env: how to get its client and where to
// read and write. The commands are cobra commands, so each program keeps its
// own root command, global flags and error reporting.
package authcmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/cli/cliargs"
	"github.com/gafferhq/gaffer/internal/cli/output"
	"github.com/gafferhq/gaffer/internal/cli/userconfig"
)

// Env is what the commands need from the program that runs them.
type Env struct {
	// Program is the program's name, used in the commands' examples.
	Program string
	// Client returns the program's client of gafferd, made from its flags.
	Client func() (*client.Client, error)
	// In is where passwords are read from when no flag gives one.
	In io.Reader
	// Out receives the commands' output.
	Out io.Writer
	// JSON, when not nil and true at run time, makes the commands print
	// JSON instead of text.
	JSON *bool
	// Usage marks an error as a bad command line (the program exits 2).
	Usage func(error) error
}

// AddTLSFlags adds --cacert, --certfile and --keyfile to root and its
// subcommands, set in tls.
func AddTLSFlags(root *cobra.Command, tls *client.TLSFiles) {
	fs := root.PersistentFlags()
	fs.StringVar(&tls.CAFile, "cacert", "", "CA certificate (PEM) that signed gafferd's certificate")
	fs.StringVar(&tls.CertFile, "certfile", "", "client certificate (PEM), when gafferd asks for one")
	fs.StringVar(&tls.KeyFile, "keyfile", "", "client certificate's key (PEM)")
}

// ClientOptions are the options of a client of the gafferd at addr. The
// API key is apiKey (--api-key), else $GAFFER_API_KEY, else the key stored
// by login in the user config's [node "<addr>"] section. Each TLS file is
// the flag's, else the section's cacert, certfile or keyfile.
func ClientOptions(addr, apiKey string, tls client.TLSFiles) ([]client.Option, error) {
	if apiKey == "" {
		apiKey = os.Getenv("GAFFER_API_KEY")
	}
	nodes, err := userconfig.Read()
	if err != nil {
		return nil, err
	}
	node := nodes[userconfig.NodeName(addr)]
	if apiKey == "" {
		apiKey = node["key"]
	}
	var opts []client.Option
	if apiKey != "" {
		opts = append(opts, client.WithAPIKey(apiKey))
	}
	for _, f := range []struct {
		dst *string
		key string
	}{{&tls.CAFile, "cacert"}, {&tls.CertFile, "certfile"}, {&tls.KeyFile, "keyfile"}} {
		if *f.dst == "" {
			*f.dst = node[f.key]
		}
	}
	if tls != (client.TLSFiles{}) {
		cfg, err := tls.Config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	return opts, nil
}

// AddCommands adds the login, key and user commands to root, in a group
// "Keys and users:".
func AddCommands(root *cobra.Command, env Env) {
	root.AddGroup(&cobra.Group{ID: "auth", Title: "Keys and users:"})
	for _, c := range Commands(env) {
		c.GroupID = "auth"
		root.AddCommand(c)
	}
}

// Commands are login, key, key:create, key:delete, user, user:add,
// user:del, user:setpassword and user:setkey.
func Commands(env Env) []*cobra.Command {
	e := &cmds{env}
	return []*cobra.Command{e.loginCmd(), e.keyCmd(), e.keyCreateCmd(), e.keyDeleteCmd(),
		e.userCmd(), e.userAddCmd(), e.userDelCmd(), e.userSetPasswordCmd(), e.userSetKeyCmd()}
}

type cmds struct{ Env }

func (e *cmds) usagef(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if e.Usage != nil {
		return e.Usage(err)
	}
	return err
}

// nargs accepts between min and max arguments (max < 0: no limit).
func (e *cmds) nargs(min, max int) cobra.PositionalArgs { return cliargs.N(min, max, e.usagef) }

func (e *cmds) json() bool { return e.JSON != nil && *e.JSON }

// emit prints v as JSON when asked, else runs text.
func (e *cmds) emit(v any, text func(w io.Writer)) error {
	return output.Emit(e.Out, e.json(), v, text)
}

// ok is the answer of a command with nothing to show.
func (e *cmds) ok() error { return output.OK(e.Out, e.json()) }

// table writes aligned columns; rows are tab-separated.
func table(w io.Writer, header string, rows []string) { output.Table(w, header, rows) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// password reads a password: the -p flag, else --password-file ("-" or
// none: the first line of standard input).
func (e *cmds) password(flagValue, file string) (string, error) {
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
		in := e.In
		if in == nil {
			in = strings.NewReader("")
		}
		l, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		line = l
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", e.usagef("no password: give -p PASSWORD, --password-file FILE, or one line on standard input")
	}
	return line, nil
}

// withClient is the RunE of a command that needs the client.
func (e *cmds) withClient(fn func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := e.Client()
		if err != nil {
			return err
		}
		return fn(cmd, c, args)
	}
}

// passwordFlags adds -p (described by help) and --password-file to cmd.
func passwordFlags(cmd *cobra.Command, pass, file *string, help string) {
	cmd.Flags().StringVarP(pass, "password", "p", "", help)
	cmd.Flags().StringVar(file, "password-file", "", "read the password from this file's first line (- = standard input)")
}

func (e *cmds) loginCmd() *cobra.Command {
	var user, pass, file string
	cmd := &cobra.Command{
		Use:   "login [-u USER] [-p PASSWORD | --password-file FILE]",
		Short: "Get your API key with your username and password, and store it in ~/.gaffer/gaffer.ini",
		Long: `login asks gafferd for the API key of a user (GET /auth) and stores it in
the user config ($GAFFER_CONFIG, else ~/.gaffer/gaffer.ini, mode 0600) under
[node "<gafferd URL>"], where later commands to that gafferd find it.
Without -p or --password-file the password is read from standard input.`,
		Args: e.nargs(0, 0),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			if user == "" {
				user = os.Getenv("USER")
			}
			pw, err := e.password(pass, file)
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
			path, err := userconfig.SaveNodeKey(userconfig.NodeName(c.Address()), "key", key)
			if err != nil {
				return fmt.Errorf("storing the key: %w", err)
			}
			return e.emit(map[string]string{"api_key": key, "config": path}, func(w io.Writer) {
				fmt.Fprintf(w, "Logged in as %s; key stored in %s\n", user, path)
			})
		}),
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "username (default $USER)")
	passwordFlags(cmd, &pass, &file, "password (visible to other local users in ps: prefer --password-file)")
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

func (e *cmds) keyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key [KEY]",
		Short: "List API keys (admin), or show one key and its sub-keys",
		Args:  e.nargs(0, 1),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			var keys []client.Key
			if len(args) == 1 {
				k, err := c.Key(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				keys = append([]client.Key{k}, k.Keys...)
				if e.json() {
					return e.emit(k, nil)
				}
			} else {
				var err error
				if keys, err = c.Keys(cmd.Context()); err != nil {
					return err
				}
			}
			return e.emit(keys, func(w io.Writer) {
				var rows []string
				for _, k := range keys {
					rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s", k.Key, orDash(k.Label), permText(k.Permissions), orDash(k.Parent)))
				}
				table(w, "KEY\tLABEL\tPERMISSIONS\tPARENT", rows)
			})
		}),
	}
}

func (e *cmds) keyCreateCmd() *cobra.Command {
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
  ` + e.Program + ` key:create +a --label ops
  ` + e.Program + ` key:create app+r app.web+rwm --label deploy`,
		Args: e.nargs(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := auth.ParsePermissions(args)
			if err != nil {
				return e.usagef("%w", err)
			}
			c, err := e.Client()
			if err != nil {
				return err
			}
			perms := client.Permissions{Admin: p.Admin, CreateKey: p.CreateKey, CreateUser: p.CreateUser,
				Manage: p.Manage, Write: p.Write, Read: p.Read}
			key, err := c.CreateKey(cmd.Context(), perms, label, parent)
			if err != nil {
				return err
			}
			return e.emit(map[string]string{"api_key": key}, func(w io.Writer) { fmt.Fprintln(w, key) })
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "what the key is for")
	cmd.Flags().StringVar(&parent, "parent", "", "make the key under KEY: it is deleted with it")
	return cmd
}

func (e *cmds) keyDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key:delete KEY",
		Short: "Delete an API key and the keys made under it",
		Args:  e.nargs(1, 1),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.DeleteKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			return e.ok()
		}),
	}
}

func (e *cmds) userCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "user [NAME]",
		Short: "List users (admin), or show one",
		Args:  e.nargs(0, 1),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
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
			return e.emit(users, func(w io.Writer) {
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

func (e *cmds) userAddCmd() *cobra.Command {
	var pass, file, key string
	var typ int
	cmd := &cobra.Command{
		Use:   "user:add NAME [-p PASSWORD | --password-file FILE] [--key KEY] [--type 0|1]",
		Short: "Add a user (type 0 = user, needs an admin key; 1 = application, the default)",
		Args:  e.nargs(1, 1),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if typ != auth.TypeUser && typ != auth.TypeApplication {
				return e.usagef("--type must be 0 (user) or 1 (application)")
			}
			pw, err := e.password(pass, file)
			if err != nil {
				return err
			}
			if err := c.CreateUser(cmd.Context(), client.User{Username: args[0], UserType: typ, Key: key}, pw); err != nil {
				return err
			}
			return e.ok()
		}),
	}
	passwordFlags(cmd, &pass, &file, "password")
	cmd.Flags().StringVar(&key, "key", "", "API key the user acts with")
	cmd.Flags().IntVar(&typ, "type", auth.TypeApplication, "0 user, 1 application")
	return cmd
}

func (e *cmds) userDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "user:del NAME",
		Short: "Delete a user",
		Args:  e.nargs(1, 1),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			return e.ok()
		}),
	}
}

func (e *cmds) userSetPasswordCmd() *cobra.Command {
	var pass, file string
	cmd := &cobra.Command{
		Use:   "user:setpassword NAME [-p PASSWORD | --password-file FILE]",
		Short: "Change a user's password",
		Args:  e.nargs(1, 1),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			pw, err := e.password(pass, file)
			if err != nil {
				return err
			}
			if err := c.SetUserPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			return e.ok()
		}),
	}
	passwordFlags(cmd, &pass, &file, "new password")
	return cmd
}

func (e *cmds) userSetKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "user:setkey NAME KEY",
		Short: "Change the API key a user acts with",
		Args:  e.nargs(2, 2),
		RunE: e.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.SetUserKey(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return e.ok()
		}),
	}
}
