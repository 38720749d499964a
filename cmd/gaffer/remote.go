package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/config/procfile"
	"github.com/gafferhq/gaffer/supervisor"
)

func (a *app) remoteCommands() []*cobra.Command {
	return []*cobra.Command{a.loadCmd(), a.unloadCmd(), a.scaleCmd(), a.psCmd(), a.statusCmd()}
}

// appName is the session of the app: --app, else the root's base name. The
// remote commands other than load need no Procfile.
func (a *app) appName() (string, error) {
	name := a.name
	if name == "" {
		abs, err := filepath.Abs(a.root)
		if err != nil {
			return "", err
		}
		name = filepath.Base(abs)
	}
	return name, procfile.ValidAppName(name)
}

// appClient is the app's name and the client to reach its gafferd.
func (a *app) appClient() (string, *client.Client, error) {
	name, err := a.appName()
	if err != nil {
		return "", nil, err
	}
	c, err := a.client()
	return name, c, err
}

// notLoaded says that gafferd has no session name when err is its not-found.
func notLoaded(name string, err error) error {
	if errors.Is(err, supervisor.ErrNotFound) {
		return fmt.Errorf("app %q is not loaded", name)
	}
	return err
}

func (a *app) loadCmd() *cobra.Command {
	var nostart bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load the app's process types into gafferd as jobs APP.TYPE",
		Long: `Load every process type as the job APP.TYPE of gafferd, with -c processes
(default 1), the .env files as its environment (PORT = the type's first
port, gafferd's own environment under it), the app root as working
directory, and both output streams captured. The jobs start unless
--nostart. A job already loaded is reported and left as it is.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pa, conc, err := a.loadAppConcurrency()
			if err != nil {
				return err
			}
			jobs, err := pa.Jobs(conc)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var errs []error
			loaded := 0
			for _, j := range jobs {
				err := c.Load(cmd.Context(), pa.Name, j, !nostart)
				switch {
				case errors.Is(err, supervisor.ErrConflict):
					fmt.Fprintf(a.out, "'%s.%s' already loaded\n", pa.Name, j.Name)
					errs = append(errs, fmt.Errorf("%s.%s already loaded (unload it first)", pa.Name, j.Name))
				case err != nil:
					return err
				default:
					loaded++
				}
			}
			if loaded > 0 {
				fmt.Fprintf(a.out, "'%s' has been loaded in %s\n", pa.Name, c.Address())
			}
			return errors.Join(errs...)
		},
	}
	a.concurrencyFlag(cmd)
	cmd.Flags().BoolVar(&nostart, "nostart", false, "load the jobs without starting them")
	return cmd
}

func (a *app) unloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unload [TYPE...]",
		Short: "Stop and remove the app's jobs (or some types) from gafferd",
		RunE: func(cmd *cobra.Command, args []string) error {
			name, c, err := a.appClient()
			if err != nil {
				return err
			}
			var jobs []string
			if len(args) == 0 {
				if jobs, err = c.Jobs(cmd.Context(), name); err != nil {
					return notLoaded(name, err)
				}
			}
			for _, t := range args {
				jobs = append(jobs, name+"."+t)
			}
			for _, j := range jobs {
				if err := c.Unload(cmd.Context(), j); err != nil {
					return err
				}
				if len(args) > 0 {
					fmt.Fprintf(a.out, "'%s' unloaded\n", j)
				}
			}
			if len(args) == 0 {
				fmt.Fprintf(a.out, "'%s' unloaded\n", name)
			}
			return nil
		},
	}
}

// parseScale reads TYPE=N, TYPE+N or TYPE-N. The operator is the last
// '=', '+' or '-' followed only by digits, as type names may hold '-'.
func parseScale(s string) (typ, op string, err error) {
	for i := len(s) - 2; i > 0; i-- {
		if strings.IndexByte("=+-", s[i]) < 0 {
			continue
		}
		if n := s[i+1:]; strings.Trim(n, "0123456789") == "" && len(n) <= 6 {
			return s[:i], string(s[i]) + n, nil
		}
		break
	}
	return "", "", usageErrorf("scale %q: want TYPE=N, TYPE+N or TYPE-N", s)
}

func (a *app) scaleCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "scale TYPE=N|TYPE+N|TYPE-N...",
		Aliases: []string{"ps:scale"},
		Short:   "Set, add or remove processes of the app's jobs in gafferd",
		Args:    nargs(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := a.appName()
			if err != nil {
				return err
			}
			type step struct{ job, op string }
			var steps []step
			for _, arg := range args {
				t, op, err := parseScale(arg)
				if err != nil {
					return err
				}
				steps = append(steps, step{name + "." + t, op})
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			for _, s := range steps {
				fmt.Fprintf(a.out, "Scaling %s processes... ", s.job)
				n, err := c.Scale(cmd.Context(), s.job, s.op)
				if err != nil {
					fmt.Fprintln(a.out, "failed")
					return err
				}
				fmt.Fprintf(a.out, "done, now running %d\n", n)
			}
			return nil
		},
	}
}

func (a *app) psCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ps",
		Short: "Show the app's processes in gafferd, with their usage",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, c, err := a.appClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			infos, err := c.JobsInfo(ctx, name)
			if err != nil {
				return notLoaded(name, err)
			}
			for k, info := range infos {
				_, typ := supervisor.ParseName(info.Name)
				if k > 0 {
					fmt.Fprintln(a.out)
				}
				fmt.Fprintf(a.out, "=== %s: `%s`\n", typ, commandLine(info.Config))
				st, err := c.Stats(ctx, info.Name)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "Total CPU: %s Total MEM: %s\n\n", pct(st.CPU), pct(st.Mem))
				for _, pid := range info.Processes {
					p, err := c.Process(ctx, pid)
					if errors.Is(err, supervisor.ErrNotFound) {
						continue // exited meanwhile
					} else if err != nil {
						return err
					}
					started := time.UnixMicro(int64(p.CreateTime * 1e6))
					fmt.Fprintf(a.out, "%s.%d: up for %s\n", typ, pid, humanDuration(time.Since(started)))
				}
			}
			return nil
		},
	}
}

// commandLine shows a job's command as one line.
func commandLine(cfg supervisor.JobConfig) string {
	parts := []string{cfg.Cmd}
	for _, a := range cfg.Args {
		parts = append(parts, procfile.ShellQuote(a))
	}
	return strings.Join(parts, " ")
}

func pct(v client.Value) string {
	if !v.OK {
		return "N/A"
	}
	return fmt.Sprintf("%.2f", v.V)
}

// humanDuration is an uptime as people say it: 42s, 3m12s, 5h04m, 2d03h.
func humanDuration(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the state of the app's jobs in gafferd",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, c, err := a.appClient()
			if err != nil {
				return err
			}
			infos, err := c.JobsInfo(cmd.Context(), name)
			if err != nil {
				return notLoaded(name, err)
			}
			width := 0
			for _, info := range infos {
				width = max(width, len(info.Name))
			}
			for _, info := range infos {
				state := "running"
				switch {
				case info.Waiting != "":
					state = info.Waiting
				case info.Stopped:
					state = "stopped"
				}
				line := fmt.Sprintf("%-*s  %s, %d/%d processes", width, info.Name, state, info.Running-info.RunningOut, info.MaxProcesses)
				if info.RunningOut > 0 {
					line += fmt.Sprintf(" (+%d one-off)", info.RunningOut)
				}
				if info.LastError != "" {
					line += "; last error: " + info.LastError
				}
				fmt.Fprintln(a.out, line)
			}
			return nil
		},
	}
}
