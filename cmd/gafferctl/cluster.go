package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/supervisor"
)

// Cluster mode. gafferctl always talks to one gafferd (the local one); a
// clustered gafferd forwards /cluster/<node>/<path> to the node named
// <node> and lists every node at /cluster/nodes. So:
//
//   - "gafferctl --cluster jobs" lists the jobs of every node, with a NODE
//     column;
//   - a JOB or PID argument written NODE:JOB or NODE:PID sends the command
//     to that node. A job name may itself contain ':', so the prefix is a
//     node only when the cluster has a node of that name (asked only when
//     an argument contains ':'); with --cluster an unknown node, or a
//     gafferd that cannot list its nodes, is an error; without it the
//     argument is left as a job name.

// addClusterSupport adds --cluster and the NODE: argument resolution to
// root.
func (a *app) addClusterSupport(root *cobra.Command) {
	root.PersistentFlags().BoolVar(&a.cluster, "cluster", false,
		"cluster mode: jobs lists every node's jobs; NODE:JOB and NODE:PID must name a node")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		return a.resolveNode(cmd, args)
	}
}

// splitNodeArg splits "NODE:REST" into its node and the rest; ok is false
// when arg has no such form (no ':', or an empty side).
func splitNodeArg(arg string) (node, rest string, ok bool) {
	node, rest, found := strings.Cut(arg, ":")
	if !found || node == "" || rest == "" || strings.ContainsAny(node, "/ \t\r\n") {
		return "", "", false
	}
	return node, rest, true
}

// resolveNode rewrites NODE:X arguments to X and points the client at
// NODE. Every node-prefixed argument of one command must name the same
// node.
func (a *app) resolveNode(cmd *cobra.Command, args []string) error {
	if cmd.DisableFlagParsing || cmd.Name() == cobra.ShellCompRequestCmd || cmd.Name() == cobra.ShellCompNoDescRequestCmd {
		return nil // completion: args are the raw command line
	}
	var candidates []int
	for i, arg := range args {
		if _, _, ok := splitNodeArg(arg); ok {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	nodes, err := c.ClusterNodes(cmd.Context())
	if err != nil {
		if !a.cluster {
			// Not clustered, or no answer (a key without manage on "*" may
			// not list nodes): "a:b" is a job name, and the command itself
			// reports what is wrong.
			return nil
		}
		return fmt.Errorf("listing the cluster's nodes: %w", err)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	target := ""
	for _, i := range candidates {
		node, rest, _ := splitNodeArg(args[i])
		if !slices.Contains(names, node) {
			if a.cluster {
				slices.Sort(names)
				return usageErrorf("%q: no node %q in the cluster (nodes: %s)", args[i], node, strings.Join(names, ", "))
			}
			continue
		}
		if target != "" && node != target {
			return usageErrorf("arguments name two nodes, %q and %q: one node per command", target, node)
		}
		target = node
		args[i] = rest // RunE receives this same slice
	}
	if target == "" {
		return nil
	}
	nc, err := c.Node(target)
	if err != nil {
		return usageError{err}
	}
	a.c = nc
	return nil
}

// notClustered reports an answer of a gafferd without clustering: 404 on
// /cluster/nodes.
func notClustered(err error) bool {
	e, ok := errors.AsType[*client.Error](err)
	return ok && e.Status == http.StatusNotFound
}

// clusterJob is one row of "gafferctl --cluster jobs".
type clusterJob struct {
	Node string `json:"node"`
	client.NodeJob
}

// clusterJobs prints every node's jobs (of session, when given).
func (a *app) clusterJobs(cmd *cobra.Command, session string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	nodes, err := c.ClusterNodes(cmd.Context())
	if notClustered(err) {
		return fmt.Errorf("gafferd at %s is not in a cluster (GET /cluster/nodes: not found)", c.Address())
	}
	if err != nil {
		return err
	}
	slices.SortFunc(nodes, func(x, y client.NodeInfo) int { return strings.Compare(x.Name, y.Name) })
	rows := []clusterJob{}
	for _, n := range nodes {
		jobs := slices.Clone(n.Jobs)
		slices.SortFunc(jobs, func(x, y client.NodeJob) int { return strings.Compare(x.Name, y.Name) })
		for _, j := range jobs {
			if s, _ := supervisor.ParseName(j.Name); session != "" && s != session {
				continue
			}
			if j.Pids == nil {
				j.Pids = []int{}
			}
			rows = append(rows, clusterJob{Node: n.Name, NodeJob: j})
		}
	}
	return a.emit(rows, func(w io.Writer) {
		var lines []string
		for _, r := range rows {
			lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%s",
				r.Node, r.Name, firstOf(r.State, "-"), r.Running, r.Target, joinInts(r.Pids, ",")))
		}
		table(w, "NODE\tNAME\tSTATE\tRUNNING\tTARGET\tPIDS", lines)
	})
}
