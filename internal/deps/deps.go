// Package deps is the dependency graph of jobs: built from each job's list of
// dependencies, it finds unknown names and cycles (with their path), orders
// start-up in levels that may start in parallel, and answers who depends on
// whom. It is pure: no processes, no clock.
package deps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

var (
	// ErrCycle: the graph has a cycle; the error text shows its path.
	ErrCycle = errors.New("dependency cycle")
	// ErrUnknown: a node depends on a name that is not in the graph.
	ErrUnknown = errors.New("unknown dependency")
)

// Graph is an immutable dependency graph. Node order is the order given to
// New, and every list it returns follows it, so results are deterministic.
type Graph struct {
	nodes []string
	index map[string]int
	deps  [][]int // deps[i]: the nodes i depends on
	rdeps [][]int // rdeps[i]: the nodes that depend on i
}

// New builds a graph of nodes, where deps[n] lists what n depends on. It
// returns every problem at once: names that are not nodes (ErrUnknown), and
// a cycle (ErrCycle, one per strongly connected group, naming its path).
// A node depending on itself is a cycle. Duplicate dependencies count once.
func New(nodes []string, deps map[string][]string) (*Graph, error) {
	g := &Graph{nodes: slices.Clone(nodes), index: make(map[string]int, len(nodes)),
		deps: make([][]int, len(nodes)), rdeps: make([][]int, len(nodes))}
	var errs []error
	for i, n := range nodes {
		if _, dup := g.index[n]; dup {
			errs = append(errs, fmt.Errorf("%q is listed twice", n))
			continue
		}
		g.index[n] = i
	}
	for i, n := range nodes {
		if g.index[n] != i {
			continue
		}
		for _, d := range deps[n] {
			j, ok := g.index[d]
			if !ok {
				errs = append(errs, fmt.Errorf("%s depends on %s: %w", n, d, ErrUnknown))
				continue
			}
			if !slices.Contains(g.deps[i], j) {
				g.deps[i] = append(g.deps[i], j)
				g.rdeps[j] = append(g.rdeps[j], i)
			}
		}
	}
	for n := range deps {
		if _, ok := g.index[n]; !ok {
			errs = append(errs, fmt.Errorf("dependencies given for %s, which is not a node: %w", n, ErrUnknown))
		}
	}
	for _, c := range g.cycles() {
		errs = append(errs, fmt.Errorf("%w: %s", ErrCycle, strings.Join(c, " -> ")))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return g, nil
}

// cycles returns one cycle path per cyclic group (first node repeated at
// the end), found by depth-first search in node order.
func (g *Graph) cycles() [][]string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.nodes))
	var out [][]string
	var stack []int
	var visit func(int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range g.deps[i] {
			switch color[j] {
			case white:
				visit(j)
			case grey:
				k := slices.Index(stack, j)
				path := make([]string, 0, len(stack)-k+1)
				for _, x := range stack[k:] {
					path = append(path, g.nodes[x])
				}
				out = append(out, append(path, g.nodes[j]))
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range g.nodes {
		if color[i] == white {
			visit(i)
		}
	}
	return out
}

// Nodes returns the nodes in the order given to New.
func (g *Graph) Nodes() []string { return slices.Clone(g.nodes) }

// Has reports whether n is a node.
func (g *Graph) Has(n string) bool { _, ok := g.index[n]; return ok }

// Dependencies returns what n depends on directly.
func (g *Graph) Dependencies(n string) []string { return g.names(g.deps, n) }

// Dependents returns the nodes that depend on n directly.
func (g *Graph) Dependents(n string) []string { return g.names(g.rdeps, n) }

func (g *Graph) names(adj [][]int, n string) []string {
	i, ok := g.index[n]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(adj[i]))
	for _, j := range adj[i] {
		out = append(out, g.nodes[j])
	}
	return out
}

// Levels returns the start order: level 0 holds the nodes without
// dependencies, level k the nodes whose deepest dependency is in level k-1.
// Nodes of one level may start in parallel; stopping goes in reverse.
func (g *Graph) Levels() [][]string {
	depth := make([]int, len(g.nodes))
	done := make([]bool, len(g.nodes))
	var walk func(int) int
	walk = func(i int) int {
		if done[i] {
			return depth[i]
		}
		d := 0
		for _, j := range g.deps[i] {
			d = max(d, walk(j)+1)
		}
		depth[i], done[i] = d, true
		return d
	}
	var levels [][]string
	for i := range g.nodes {
		d := walk(i)
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], g.nodes[i])
	}
	return levels
}

// Transitive returns every node that depends on n, directly or not, in
// breadth-first order (nearest first).
func (g *Graph) Transitive(n string) []string {
	i, ok := g.index[n]
	if !ok {
		return nil
	}
	seen := map[int]bool{i: true}
	queue := []int{i}
	var out []string
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, j := range g.rdeps[x] {
			if !seen[j] {
				seen[j] = true
				out = append(out, g.nodes[j])
				queue = append(queue, j)
			}
		}
	}
	return out
}
