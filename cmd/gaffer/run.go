package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/internal/config/procfile"
	"github.com/gafferhq/gaffer/supervisor"
)

func (a *app) runCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "run COMMAND [ARG...] | run TYPE",
		Aliases: []string{"dev:run"},
		Short:   "Run a one-off command with the app's environment",
		Long: `Run COMMAND in the app root with the environment plus the app's .env
files (which win), its terminal attached; gaffer's exit status is the
command's (128+N when killed by signal N). A single word naming a process
type runs that type's command, with PORT and PS of its first process.
The Procfile is optional here.`,
		Args: nargs(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.runOnce(args) },
	}
	cmd.Flags().SetInterspersed(false) // flags after COMMAND are the command's
	cmd.Flags().IntVarP(&a.port, "port", "p", 0, "base port for a process type (default: .env PORT, else $PORT, else 5000)")
	return cmd
}

// runOnce replaces gaffer with the command: its stdio, signals and exit
// status are then exactly the command's.
func (a *app) runOnce(args []string) error {
	pa, err := procfile.Load(procfile.Options{Root: a.root, Procfile: a.procfile, EnvFiles: a.envFiles,
		Name: a.name, Port: a.port, LookupEnv: os.LookupEnv, ProcfileOptional: true})
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	maps.Copy(env, pa.Env)
	argv := args
	if t := pa.Type(args[0]); t != nil && len(args) == 1 {
		env["PORT"] = strconv.Itoa(pa.Port(t.Name, 1))
		env["PS"] = t.Name + ".1"
		words, err := supervisor.SplitCommand(t.Command)
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", pa.Procfile, t.Line, t.Name, err)
		}
		// As gaffer start would: $NAME in the arguments from the environment.
		argv = words[:1]
		for _, w := range words[1:] {
			argv = append(argv, os.Expand(w, func(k string) string {
				if k == "$" {
					return "$"
				}
				return env[k]
			}))
		}
	}
	if err := os.Chdir(pa.Root); err != nil {
		return err
	}
	// Look the program up in the command's PATH, as its shell would.
	if err := os.Setenv("PATH", env["PATH"]); err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	envv := make([]string, 0, len(env))
	for k, v := range env {
		envv = append(envv, k+"="+v)
	}
	err = syscall.Exec(path, argv, envv)
	return fmt.Errorf("run %s: %w", argv[0], err)
}
