package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/cli/authcmd"
	"github.com/gafferhq/gaffer/internal/cli/cliargs"
	"github.com/gafferhq/gaffer/internal/cli/conn"
	"github.com/gafferhq/gaffer/internal/config/procfile"
)

// app is one gaffer invocation: its streams, global flags and client.
type app struct {
	in          io.Reader
	out, errOut io.Writer

	procfile, root, name string
	envFiles             []string
	concurrency          []string
	port                 int

	conn conn.Flags      // --host, --unix, --api-key
	sec  client.TLSFiles // --cacert, --certfile, --keyfile

	c *client.Client // made on first use
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "gaffer",
		Short: "Run and manage Procfile applications",
		Long: `gaffer runs a Procfile application in the foreground (start, run) with
gaffer's supervisor built in, loads it into a running gafferd (load, unload,
scale, ps, status), or writes it as gafferd, JSON, supervisord or systemd
configuration (export).

The app is the Procfile in the root directory (-d, default "."), with the
root's .env and each -e FILE as its environment. Its name, the gafferd
session of its jobs, is the root directory's base name unless --app says.

gafferd is found at --host URL or --unix PATH, else at $GAFFERD_ADDRESS,
else at its default unix socket if it exists, else at http://127.0.0.1:5000.
Its API key is --api-key, else $GAFFER_API_KEY, else the key "gaffer login"
stored for that URL in the user config ($GAFFER_CONFIG, else
~/.gaffer/gaffer.ini), which may also name its TLS files.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return usageErrorf("unknown command %q (see \"gaffer help\")", args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&a.procfile, "procfile", "f", "", "Procfile path (default ROOT/Procfile)")
	pf.StringVarP(&a.root, "root", "d", ".", "app root: working directory of the processes")
	pf.StringVar(&a.root, "directory", ".", "same as --root (gaffer 0.4)")
	pf.MarkHidden("directory")
	pf.StringArrayVarP(&a.envFiles, "env", "e", nil, "extra .env file, read after ROOT/.env (repeatable)")
	pf.StringVar(&a.name, "app", "", "app name, the gafferd session (default: the root's base name)")
	a.conn.AddFlags(root, "API key sent as X-Api-Key (default $GAFFER_API_KEY, else the key stored by login)")
	pf.StringVarP(&a.conn.Host, "gafferd-http-address", "g", "", "same as --host (gaffer 0.5)")
	pf.MarkHidden("gafferd-http-address")
	authcmd.AddTLSFlags(root, &a.sec)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddGroup(&cobra.Group{ID: "local", Title: "Run the app here:"},
		&cobra.Group{ID: "remote", Title: "Manage the app in gafferd:"},
		&cobra.Group{ID: "export", Title: "Write configuration:"})
	for _, c := range []*cobra.Command{a.startCmd(), a.runCmd()} {
		c.GroupID = "local"
		root.AddCommand(c)
	}
	for _, c := range a.remoteCommands() {
		c.GroupID = "remote"
		root.AddCommand(c)
	}
	ex := a.exportCmd()
	ex.GroupID = "export"
	root.AddCommand(ex)
	a.addLookupCommands(root)
	authcmd.AddCommands(root, authcmd.Env{
		Program: "gaffer",
		Client:  a.client,
		In:      a.in,
		Out:     a.out,
		Usage:   func(err error) error { return usageError{err} },
	})
	return root
}

// concurrencyFlag adds -c to a command.
func (a *app) concurrencyFlag(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&a.concurrency, "concurrency", "c", nil,
		"processes per type: TYPE=N[,TYPE=N]… or all=N (repeatable; default 1 each)")
}

// loadApp reads the Procfile and the .env files.
func (a *app) loadApp() (*procfile.App, error) {
	return procfile.Load(procfile.Options{Root: a.root, Procfile: a.procfile, EnvFiles: a.envFiles,
		Name: a.name, Port: a.port, LookupEnv: os.LookupEnv})
}

// loadAppConcurrency is loadApp and the -c flags' processes per type.
func (a *app) loadAppConcurrency() (*procfile.App, map[string]int, error) {
	pa, err := a.loadApp()
	if err != nil {
		return nil, nil, err
	}
	conc, err := pa.ParseConcurrency(a.concurrency)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return pa, conc, nil
}

// client connects to gafferd as the flags say (gafferctl's conventions).
func (a *app) client() (*client.Client, error) {
	return a.conn.Client(&a.c, a.sec, func(err error) error { return usageError{err} })
}

// explain makes transport and auth errors say what to do.
func (a *app) explain(err error) error {
	return conn.Explain(err, a.c, `--api-key, $GAFFER_API_KEY, or "gaffer login"`)
}

// nargs accepts between min and max arguments (max < 0: no limit).
func nargs(min, max int) cobra.PositionalArgs { return cliargs.N(min, max, usageErrorf) }

// plural is "1 process" / "2 processes".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
