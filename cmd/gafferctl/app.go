package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/cli/cliargs"
	"github.com/gafferhq/gaffer/internal/cli/conn"
	"github.com/gafferhq/gaffer/internal/cli/output"
)

// app is one gafferctl invocation: its streams, global flags and client.
type app struct {
	in  io.Reader
	out io.Writer

	conn    conn.Flags // --host, --unix, --api-key
	json    bool
	cluster bool            // --cluster (cluster.go)
	sec     client.TLSFiles // --cacert, --certfile, --keyfile (auth.go)

	c *client.Client // made on first use: help and completion need none
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "gafferctl",
		Short: "Control gafferd, the gaffer process supervisor",
		Long: `gafferctl controls a running gafferd.

gafferd is found at --host URL or --unix PATH, else at $GAFFERD_ADDRESS
(http://host:port or unix:///path), else at its default unix socket if it
exists, else at http://127.0.0.1:5000.

Jobs are named SESSION.JOB; a name without a session is in session
"default". A PID is gaffer's process id (see "info"), not the OS's; an
all-digit argument where a job or a pid is allowed is a pid.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable, so that an unknown command reaches Args (exit 2) instead
		// of cobra printing the help and exiting 0.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				return usageErrorf("unknown command %q; did you mean %s?", args[0], strings.Join(s, " or "))
			}
			return usageErrorf("unknown command %q (see \"gafferctl help\")", args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := root.PersistentFlags()
	a.conn.AddFlags(root, "API key sent as X-Api-Key (default $GAFFER_API_KEY)")
	pf.StringVar(&a.conn.Host, "connect", "", "same as --host (gafferctl 0.4)")
	pf.MarkHidden("connect")
	pf.BoolVar(&a.json, "json", false, "print JSON instead of text")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddGroup(&cobra.Group{ID: "jobs", Title: "Job commands:"},
		&cobra.Group{ID: "legacy", Title: "gafferctl 0.4 commands (on jobs):"})
	for _, c := range a.jobCommands() {
		c.GroupID = "jobs"
		root.AddCommand(c)
	}
	for _, c := range a.legacyCommands() {
		c.GroupID = "legacy"
		root.AddCommand(c)
	}
	a.addLiveCommands(root)
	a.addAuthCommands(root)
	root.AddCommand(a.depsCmd())
	a.addClusterSupport(root)
	return root
}

// client connects to gafferd as the flags say.
func (a *app) client() (*client.Client, error) {
	return a.conn.Client(&a.c, a.sec, func(err error) error { return usageError{err} })
}

// explain makes transport and auth errors say what to do.
func (a *app) explain(err error) error {
	return conn.Explain(err, a.c, "--api-key or $GAFFER_API_KEY")
}

// ---- argument checks -------------------------------------------------------

// nargs accepts between min and max arguments (max < 0: no limit).
func nargs(min, max int) cobra.PositionalArgs { return cliargs.N(min, max, usageErrorf) }

// isPid reports whether a JOB|PID argument is a pid (all digits).
func isPid(s string) bool {
	return s != "" && strings.TrimLeft(s, "0123456789") == ""
}

// completeJobs offers the loaded jobs' names for the first argument.
func (a *app) completeJobs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	names, _ := c.Jobs(ctx, "")
	return names, cobra.ShellCompDirectiveNoFileComp
}

// ---- output ----------------------------------------------------------------

// emit prints v as JSON with --json, else runs text.
func (a *app) emit(v any, text func(w io.Writer)) error {
	return output.Emit(a.out, a.json, v, text)
}

// ok is the answer of a command with nothing to show.
func (a *app) ok() error { return output.OK(a.out, a.json) }

// lines prints one item per line (a JSON array with --json).
func lines[T any](a *app, items []T) error {
	if items == nil {
		items = []T{}
	}
	return a.emit(items, func(w io.Writer) {
		for _, it := range items {
			fmt.Fprintln(w, it)
		}
	})
}

// table writes aligned columns; rows are tab-separated.
func table(w io.Writer, header string, rows []string) { output.Table(w, header, rows) }

func joinInts(ns []int, sep string) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, sep)
}

// jobCmd is a command taking one job name that calls one client method and
// prints ok.
func (a *app) jobCmd(use, short string, call func(*client.Client, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := call(c, cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.ok()
		},
	}
}
