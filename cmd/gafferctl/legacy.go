package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/gafferhq/gaffer/client"
	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/supervisor"
)

// legacyCommands are the seed's gafferctl 0.4 commands. 0.4 had process
// templates where 0.5 has jobs: a NAME is a job ("session.job" or, in
// session default, "job") and every command maps onto the job API.
func (a *app) legacyCommands() []*cobra.Command {
	return []*cobra.Command{
		a.processesCmd(), a.addProcessCmd(), a.loadProcessCmd(), a.getProcessCmd(), a.delProcessCmd(),
		a.startCmd(), a.stopCmd(), a.addSubCmd("add", '+'), a.addSubCmd("sub", '-'), a.killCmd(),
		a.statusCmd(), a.numProcessesCmd(), a.runningCmd(), a.pidsCmd(),
	}
}

func (a *app) processesCmd() *cobra.Command {
	var running bool
	cmd := &cobra.Command{
		Use:   "processes [--running]",
		Short: "List jobs, or with --running the pids of every live process",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if running {
				pids, err := c.Pids(cmd.Context(), "")
				if err != nil {
					return err
				}
				return lines(a, pids)
			}
			jobs, err := c.Jobs(cmd.Context(), "")
			if err != nil {
				return err
			}
			return lines(a, jobs)
		},
	}
	cmd.Flags().BoolVar(&running, "running", false, "list the pids of live processes")
	return cmd
}

func (a *app) addProcessCmd() *cobra.Command {
	var start bool
	cmd := &cobra.Command{
		Use:   "add_process [--start] NAME CMD",
		Short: "Load a job running CMD (quote it); started only with --start",
		Args:  nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			session, job := supervisor.ParseName(args[0])
			cfg := supervisor.NewJobConfig(job, args[1])
			cfg.Given = []string{"cmd", "name"} // the server's defaults for the rest
			if err := c.Load(cmd.Context(), session, cfg, start); err != nil {
				return err
			}
			return a.ok()
		},
	}
	cmd.Flags().BoolVar(&start, "start", false, "start it at once")
	return cmd
}

func (a *app) loadProcessCmd() *cobra.Command {
	var start bool
	cmd := &cobra.Command{
		Use:   "load_process [--start] FILE|-",
		Short: "Load a job from a JSON file; started with --start or the file's \"start\": true",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := readJobFile(args[0], a.in)
			if err != nil {
				return err
			}
			if len(entries) != 1 {
				return fmt.Errorf("%s: want one job, found %d (see load)", args[0], len(entries))
			}
			e := entries[0]
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Load(cmd.Context(), e.session, e.cfg, start || (e.start != nil && *e.start)); err != nil {
				return err
			}
			return a.ok()
		},
	}
	cmd.Flags().BoolVar(&start, "start", false, "start it at once")
	return cmd
}

func (a *app) getProcessCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "get_process NAME",
		Short:             "Print a job's config as JSON",
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			info, err := c.Info(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(info.Config, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s\n", b)
			return nil
		},
	}
}

func (a *app) delProcessCmd() *cobra.Command {
	return a.jobCmd("del_process NAME", "Stop a job's processes and remove the job", (*client.Client).Unload)
}

func (a *app) startCmd() *cobra.Command {
	return a.jobCmd("start NAME", "Start a job with its configured number of processes", (*client.Client).Start)
}

func (a *app) stopCmd() *cobra.Command {
	return a.jobCmd("stop NAME", "Stop every process of a job and keep it stopped", (*client.Client).Stop)
}

// addSubCmd is "add NAME [N]" or "sub NAME [N]": scale by N (default 1).
func (a *app) addSubCmd(use string, op byte) *cobra.Command {
	what := "Add N processes to a job (default 1); prints the new number"
	if op == '-' {
		what = "Remove N processes from a job, oldest first (default 1); prints the new number"
	}
	return &cobra.Command{
		Use:               use + " NAME [N]",
		Short:             what,
		Args:              nargs(1, 2),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n := "1"
			if len(args) == 2 {
				n = args[1]
			}
			if v, err := strconv.Atoi(n); err != nil || v < 0 || !isPid(n) {
				return usageErrorf("%s %q: want a number of processes", use, n)
			}
			return a.scaleBy(cmd, args[0], string(op)+n)
		},
	}
}

func (a *app) killCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "kill NAME_OR_PID SIGNAL",
		Short:             "Send a signal (HUP, SIGHUP, 1) to a job's processes or to one process",
		Args:              nargs(2, 2),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.signal(cmd, args[0], args[1])
		},
	}
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "status NAME",
		Short:             `Print "active" if the job has a live process, else "stopped"`,
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.infoField(cmd, args[0], func(in supervisor.JobInfo) any {
				if in.Active {
					return "active"
				}
				return "stopped"
			})
		},
	}
}

func (a *app) numProcessesCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "numprocesses NAME",
		Short:             "Print a job's target number of processes",
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.infoField(cmd, args[0], func(in supervisor.JobInfo) any { return in.MaxProcesses })
		},
	}
}

func (a *app) runningCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "running NAME",
		Short:             "Print how many processes of a job are alive (committed ones too)",
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.infoField(cmd, args[0], func(in supervisor.JobInfo) any { return in.Running })
		},
	}
}

// infoField prints one value derived from a job's info.
func (a *app) infoField(cmd *cobra.Command, name string, field func(supervisor.JobInfo) any) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	info, err := c.Info(cmd.Context(), name)
	if err != nil {
		return err
	}
	v := field(info)
	return a.emit(v, func(w io.Writer) { fmt.Fprintln(w, v) })
}

func (a *app) pidsCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "pids NAME",
		Short:             "List the pids of a job's supervised processes",
		Args:              nargs(1, 1),
		ValidArgsFunction: a.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			pids, err := c.Pids(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return lines(a, pids)
		},
	}
}
