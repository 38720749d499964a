package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/supervisor"
)

func (a *app) depsCmd() *cobra.Command {
	return &cobra.Command{
		GroupID: "jobs",
		Use:     "deps",
		Short:   "Show the jobs' dependency graph as a tree",
		Long: `Show the jobs' dependency graph as a tree: the roots are the jobs nothing
depends on, below each job the jobs it depends on, with the condition and
whether it holds now. Each line is NAME  STATE  [why it waits]:

  default.web  WAITING  [waiting for db: healthy]
  └─ default.db  RUNNING  (healthy: unmet)`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			view, err := c.Dependencies(cmd.Context())
			if err != nil {
				return err
			}
			return a.emit(view, func(w io.Writer) { printDepTree(w, view) })
		},
	}
}

// printDepTree prints every job once as a root if nothing depends on it,
// and under each job the jobs it depends on. A job reached by several
// paths is printed under each of them.
func printDepTree(w io.Writer, view []supervisor.DependencyInfo) {
	byName := make(map[string]*supervisor.DependencyInfo, len(view))
	depended := map[string]bool{}
	for i := range view {
		byName[view[i].Name] = &view[i]
		for _, d := range view[i].DependsOn {
			depended[d.Job] = true
		}
	}
	line := func(name string) string {
		j := byName[name]
		if j == nil {
			return name + "  NOT LOADED"
		}
		s := name + "  " + j.State
		if j.Health != "" {
			s += "  " + j.Health
		}
		if j.Waiting != "" {
			s += "  [" + j.Waiting + "]"
		}
		return s
	}
	var walk func(name, prefix string, path map[string]bool)
	walk = func(name, prefix string, path map[string]bool) {
		j := byName[name]
		if j == nil || path[name] {
			return
		}
		path[name] = true
		defer delete(path, name)
		for i, d := range j.DependsOn {
			branch, next := "├─ ", "│  "
			if i == len(j.DependsOn)-1 {
				branch, next = "└─ ", "   "
			}
			met := "unmet"
			if d.Satisfied {
				met = "met"
			}
			fmt.Fprintf(w, "%s%s%s  (%s: %s)\n", prefix, branch, line(d.Job), d.Condition, met)
			walk(d.Job, prefix+next, path)
		}
	}
	roots := 0
	for _, j := range view {
		if depended[j.Name] {
			continue
		}
		roots++
		fmt.Fprintln(w, line(j.Name))
		walk(j.Name, "", map[string]bool{})
	}
	if roots == 0 && len(view) > 0 {
		fmt.Fprintln(w, strings.TrimSpace("(every job is depended on: the graph has a cycle)"))
	}
}
