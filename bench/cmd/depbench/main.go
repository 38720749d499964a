// Command depbench measures what dependency scheduling costs at start-up:
// an in-process supervisor starts N jobs forming a dependency graph of a
// given depth (condition started, delay 0) and the same N jobs without
// dependencies, and prints the time until every job has a running process.
// Dependent jobs start one graph level per spawn batch, so the expected
// cost is about depth × one batch's spawn time.
//
//	go run ./bench/cmd/depbench -jobs 200 -depth 10 -runs 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

func main() {
	jobs := flag.Int("jobs", 200, "jobs per graph")
	depth := flag.Int("depth", 10, "levels of the dependency graph")
	runs := flag.Int("runs", 5, "runs of each scenario (the median is shown)")
	flag.Parse()
	if *jobs < *depth || *depth < 1 {
		fmt.Fprintln(os.Stderr, "depbench: need jobs >= depth >= 1")
		os.Exit(2)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		fmt.Fprintln(os.Stderr, "depbench: sleep(1) not found:", err)
		os.Exit(1)
	}
	fmt.Printf("| scenario (%d jobs) | median | min | max |\n|---|---|---|---|\n", *jobs)
	var flat, graph time.Duration
	for _, sc := range []struct {
		name  string
		depth int
		out   *time.Duration
	}{{"no dependencies", 1, &flat}, {fmt.Sprintf("depth %d, started", *depth), *depth, &graph}} {
		var ds []time.Duration
		for range *runs {
			d, err := run(sleep, *jobs, sc.depth)
			if err != nil {
				fmt.Fprintln(os.Stderr, "depbench:", err)
				os.Exit(1)
			}
			ds = append(ds, d)
		}
		slices.Sort(ds)
		*sc.out = ds[len(ds)/2]
		fmt.Printf("| %s | %v | %v | %v |\n", sc.name, ds[len(ds)/2].Round(time.Microsecond),
			ds[0].Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond))
	}
	fmt.Printf("\nextra cost of the graph: %v (%v per level)\n", (graph - flat).Round(time.Microsecond),
		((graph - flat) / time.Duration(*depth)).Round(time.Microsecond))
}

// run loads n jobs in levels (each job of level k>0 depends on one or two
// jobs of level k-1) and returns the time from the load until every job
// has spawned.
func run(sleep string, n, depth int) (time.Duration, error) {
	s := supervisor.New(supervisor.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-s.Done() }()
	go s.Run(ctx)
	sub := s.Subscribe(4*n, supervisor.CloseSub, "spawn")
	defer sub.Close()
	per := n / depth
	var specs []supervisor.JobSpec
	name := func(level, i int) string { return fmt.Sprintf("l%d-%d", level, i) }
	for k := range n {
		level, i := min(k/per, depth-1), k%per
		if k/per >= depth {
			i = per + k - depth*per
		}
		cfg := supervisor.NewJobConfig(name(level, i), sleep+" 600")
		cfg.GracefulTimeout = time.Second
		if level > 0 {
			cfg.DependsOn = []supervisor.Dependency{{Job: name(level-1, i%per)}}
			if per > 1 {
				cfg.DependsOn = append(cfg.DependsOn, supervisor.Dependency{Job: name(level-1, (i+1)%per)})
			}
		}
		specs = append(specs, supervisor.JobSpec{Config: cfg})
	}
	// Dependents first: the worst order for a scheduler that starts in
	// load order.
	slices.Reverse(specs)
	t0 := time.Now()
	if err := s.LoadAll(ctx, specs); err != nil {
		return 0, err
	}
	timeout := time.After(60 * time.Second)
	for seen := 0; seen < n; {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return 0, fmt.Errorf("event queue overflowed: %v", sub.Err())
			}
			seen++
		case <-timeout:
			return 0, fmt.Errorf("only %d of %d jobs spawned within 60 s", seen, n)
		}
	}
	return time.Since(t0), nil
}
