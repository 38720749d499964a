package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/internal/config/procfile"
	"github.com/gafferhq/gaffer/supervisor"
)

// systemName is the console name of gaffer's own messages.
const systemName = "system"

// defaultFlapping is gaffer start's crash-loop rule: 3 exits within 5 s
// pause a process for 1 s; the 3rd pause in a row gives up. The window is
// longer than the pause, so a process that keeps crashing does give up
// (with gafferd's defaults, 1 s window and 7 s pause, it would cycle
// forever; gaffer-config.md §8.2).
const defaultFlapping = "3 5 1 3"

// instance is one process of a type: one single-process job, so that it
// has its own PORT.
type instance struct {
	typ     procfile.Type
	n       int    // from 1
	display string // "web.1"
	job     string // engine job name, "web_1"
	port    int
}

func (a *app) startCmd() *cobra.Command {
	var (
		timeout  time.Duration
		flapping string
	)
	cmd := &cobra.Command{
		Use:     "start [TYPE]",
		Aliases: []string{"dev:start"},
		Short:   "Run the app (or one process type) in the foreground",
		Long: `Run every process type of the Procfile (or only TYPE) in the foreground,
with gaffer's supervisor built in: no gafferd is needed.

Each process prints its output as "HH:MM:SS web.1 | line". It gets PORT as
foreman numbers them: the base port (--port, else the .env's PORT, else
$PORT, else 5000), plus 100 per process type before its own in the
Procfile, plus 1 per instance; and PS=web.1.

A process that exits is restarted at once. One that keeps crashing is
paused, then stopped (--flapping); gaffer exits when no process is left.
Ctrl-C (SIGINT) or SIGTERM stops every process gracefully: SIGTERM to its
process group, SIGKILL after --timeout; a second Ctrl-C kills them at once.
The exit status is 0 after a clean stop, 1 if a process type gave up.`,
		Args: nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFlapping(flapping)
			if err != nil {
				return usageError{err}
			}
			if timeout < 0 {
				return usageErrorf("--timeout %v: must not be negative", timeout)
			}
			return a.start(cmd.Context(), args, timeout, f)
		},
	}
	a.concurrencyFlag(cmd)
	cmd.Flags().IntVarP(&a.port, "port", "p", 0, "base port (default: .env PORT, else $PORT, else 5000)")
	cmd.Flags().DurationVarP(&timeout, "timeout", "t", 5*time.Second, "graceful stop: SIGKILL after this long")
	cmd.Flags().StringVar(&flapping, "flapping", defaultFlapping, `crash-loop rule "ATTEMPTS WINDOW RETRY_IN MAX_RETRY" (seconds), or "off"`)
	return cmd
}

// parseFlapping reads the --flapping value: gafferd's INI form, four numbers.
func parseFlapping(s string) (*supervisor.Flapping, error) {
	if strings.TrimSpace(s) == "off" {
		return nil, nil
	}
	parts := strings.Fields(s)
	if len(parts) != 4 {
		return nil, fmt.Errorf("--flapping %q: want ATTEMPTS WINDOW RETRY_IN MAX_RETRY, e.g. %q, or off", s, defaultFlapping)
	}
	attempts, err1 := strconv.Atoi(parts[0])
	window, err2 := strconv.ParseFloat(parts[1], 64)
	retry, err3 := strconv.ParseFloat(parts[2], 64)
	maxRetry, err4 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || attempts < 1 || maxRetry < 0 ||
		window < 0 || retry < 0 || window > 3600 || retry > 3600 || attempts > 1000 || maxRetry > 1000 {
		return nil, fmt.Errorf("--flapping %q: want whole ATTEMPTS >= 1 and MAX_RETRY >= 0, seconds WINDOW and RETRY_IN up to 3600", s)
	}
	return &supervisor.Flapping{Attempts: attempts, Window: time.Duration(window * float64(time.Second)),
		RetryIn: time.Duration(retry * float64(time.Second)), MaxRetry: maxRetry}, nil
}

func (a *app) start(ctx context.Context, args []string, timeout time.Duration, flapping *supervisor.Flapping) error {
	pa, conc, err := a.loadAppConcurrency()
	if err != nil {
		return err
	}
	if len(args) == 1 {
		if pa.Type(args[0]) == nil {
			return usageErrorf("no process type %q in %s (types: %s)", args[0], pa.Procfile, strings.Join(pa.TypeNames(), ", "))
		}
		for k := range conc {
			if k != args[0] {
				conc[k] = 0
			}
		}
	}
	var insts []instance
	byJob := map[string]*instance{}
	names := []string{systemName}
	for _, t := range pa.Types {
		for n := 1; n <= conc[t.Name]; n++ {
			insts = append(insts, instance{typ: t, n: n, display: t.Name + "." + strconv.Itoa(n),
				job: t.Name + "_" + strconv.Itoa(n), port: pa.Port(t.Name, n)})
		}
	}
	if len(insts) == 0 {
		return usageErrorf("nothing to start: every process type has concurrency 0")
	}
	for i := range insts {
		byJob[pa.Name+"."+insts[i].job] = &insts[i]
		names = append(names, insts[i].display)
	}
	con := newConsole(a.out, names)
	display := func(job string) string {
		if in := byJob[job]; in != nil {
			return in.display
		}
		return job
	}

	// gaffer start owns every child in this process, so it reaps them all
	// and is their subreaper: a daemonizing grandchild is reaped here, not
	// left to init, and is killed with its process when that stops.
	sup := supervisor.New(supervisor.Options{
		ReapAll: true,
		Logger:  slog.New(slog.DiscardHandler),
		OutputSinks: func(job string, pid int, label string) []io.Writer {
			return []io.Writer{con.stream(display(job), pid, label)}
		},
	})
	evs := sup.Subscribe(4096, supervisor.DropOldest, "spawn", "exit", "flap", "spawn_error")
	defer evs.Close()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	runCtx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	go sup.Run(runCtx)

	failed := map[string]string{} // job -> why it was given up
	for _, in := range insts {
		cfg, err := pa.Job(in.typ, 1)
		if err == nil {
			cfg.Name = in.job
			cfg.Env = nil // the environment is the session's, so that .env beats gaffer's own
			cfg.RedirectInput = false
			cfg.GracefulTimeout = timeout
			cfg.Flapping = flapping
			env := maps.Clone(pa.Env)
			env["PORT"] = strconv.Itoa(in.port)
			env["PS"] = in.display
			err = sup.LoadEnv(ctx, pa.Name, cfg, env, true)
		}
		if err != nil {
			con.linef(systemName, "cannot start %s: %v", in.display, err)
			shutdown()
			<-sup.Done()
			con.flush(0)
			return exitStatus(exitError)
		}
	}

	live := map[int]int{} // OS pid -> gaffer pid, to kill on a second Ctrl-C
	stopping := false
	stop := func(why string) {
		stopping = true
		con.linef(systemName, "%s: sending SIGTERM to all processes (SIGKILL after %v)", why, timeout)
		shutdown()
	}
	handle := func(e supervisor.Event) {
		name := display(e.Name)
		switch e.Type {
		case "spawn":
			live[e.OSPid] = e.Pid
			con.spawned(name, e.Pid, "spawn process with pid %d", e.OSPid)
		case "exit":
			delete(live, e.OSPid)
			con.flush(e.Pid)
			con.linef(name, "exit process with pid %d (%s)", e.OSPid, exitText(e))
		case "flap":
			if e.Reason == supervisor.FlapGaveUp {
				failed[e.Name] = "crashing repeatedly"
				con.linef(name, "crashing repeatedly: stopped (flapping)")
			} else {
				con.linef(name, "crashing repeatedly: restarting in %v (flapping)", flapping.RetryIn)
			}
		case "spawn_error":
			failed[e.Name] = "cannot start"
			con.linef(name, "cannot start: %s", e.Reason)
			_ = sup.StopJob(ctx, e.Name)
		}
	}
	for {
		select {
		case <-sup.Done():
			// The last exits were published before Run returned: print them.
			for drained := false; !drained; {
				select {
				case e := <-evs.C():
					handle(e)
				default:
					drained = true
				}
			}
			con.flush(0)
			if len(failed) > 0 {
				con.linef(systemName, "exiting with status 1: %s", failedList(failed, display))
				return exitStatus(exitError)
			}
			return nil
		case sig := <-sigs:
			name := strings.ToUpper(strings.TrimPrefix(sigName(sig), "SIG"))
			if !stopping {
				stop("SIG" + name + " received")
				continue
			}
			con.linef(systemName, "SIG%s received again: sending SIGKILL to all processes", name)
			for osPid := range live {
				_ = syscall.Kill(-osPid, syscall.SIGKILL) // each process leads its own group
			}
		case e := <-evs.C():
			handle(e)
			if !stopping && len(failed) == len(insts) {
				stop("every process gave up")
			}
		}
	}
}

// exitText says how a process ended.
func exitText(e supervisor.Event) string {
	if e.TermSignal != 0 {
		return "killed by " + sigName(syscall.Signal(e.TermSignal))
	}
	return fmt.Sprintf("exit status %d", e.ExitStatus)
}

func sigName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	if n, ok := s.(syscall.Signal); ok {
		return fmt.Sprintf("signal %d", int(n))
	}
	return s.String()
}

func failedList(failed map[string]string, display func(string) string) string {
	var parts []string
	for job, why := range failed {
		parts = append(parts, display(job)+" "+why)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
