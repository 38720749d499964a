// Command clusterbench measures a gafferd cluster on one machine: N gafferd
// processes joined to one NATS server (the first node embeds it), each with
// J jobs running `sleep`. Reported, as a markdown table:
//
//   - time from the first start to a complete cluster view (node 0's
//     GET /cluster/nodes lists N nodes, each with J running jobs);
//
//   - cluster-wide list latency, p50/p99 of GET /cluster/nodes on node 0;
//
//   - event fan-out: a NATS client subscribed to gaffer.evt.> counts the
//     events while every node scales S of its jobs up and down;
//
//   - node-loss detection: SIGKILL the last node, time until node 0's
//     GET /cluster/nodes no longer lists it;
//
//   - RSS of one node (not the one embedding NATS) against a standalone
//     gafferd with the same jobs.
//
//     clusterbench -gafferd PATH [-n 50] [-jobs 20] [-scale 5] [-lists 200]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gafferhq/gaffer/client"
)

type bench struct {
	gafferd        string
	n, jobs, scale int
	lists          int
	dir            string
	natsAddr       string
	nodes          []*node
	standaloneNode *node
	rows           [][2]string
}

type node struct {
	name string
	addr string // http://127.0.0.1:port
	cmd  *exec.Cmd
	c    *client.Client
}

func main() {
	var b bench
	flag.StringVar(&b.gafferd, "gafferd", "", "gafferd binary")
	flag.IntVar(&b.n, "n", 50, "gafferd nodes")
	flag.IntVar(&b.jobs, "jobs", 20, "jobs per node (each one `sleep` process)")
	flag.IntVar(&b.scale, "scale", 5, "fan-out: jobs per node scaled +1 then -1")
	flag.IntVar(&b.lists, "lists", 200, "GET /cluster/nodes calls for the latency")
	flag.Parse()
	if b.gafferd == "" || b.n < 2 || b.jobs < 1 || b.scale > b.jobs {
		fmt.Fprintln(os.Stderr, "usage: clusterbench -gafferd PATH [-n N>=2] [-jobs J] [-scale S<=J] [-lists L]")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "clusterbench-")
	if err != nil {
		fatal(err)
	}
	b.dir = dir
	err = b.run()
	b.stopAll()
	os.RemoveAll(dir)
	if err != nil {
		fatal(err)
	}
	fmt.Printf("\n%d gafferd nodes × %d jobs on one machine (%d CPUs), one embedded NATS server\n\n", b.n, b.jobs, cpus())
	fmt.Println("| measure | value |")
	fmt.Println("|---|---:|")
	for _, r := range b.rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "clusterbench:", err)
	os.Exit(1)
}

func cpus() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func (b *bench) row(k, v string) {
	b.rows = append(b.rows, [2]string{k, v})
	fmt.Fprintf(os.Stderr, "%s: %s\n", k, v)
}

// freePort is a loopback port nobody listens on right now.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// config is node i's gafferd config; cluster "" = standalone.
func (b *bench) config(name, cluster string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "[gaffer]\nrequire_key = no\n\n%s\n", cluster)
	for j := range b.jobs {
		fmt.Fprintf(&sb, "[job:bench:j%02d]\ncmd = sleep 3600\n\n", j)
	}
	path := filepath.Join(b.dir, name+".ini")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		fatal(err)
	}
	return path
}

func (b *bench) start(name, cluster string) (*node, error) {
	port := freePort()
	n := &node{name: name, addr: fmt.Sprintf("http://127.0.0.1:%d", port)}
	logf, err := os.Create(filepath.Join(b.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	n.cmd = exec.Command(b.gafferd, "-c", b.config(name, cluster), "--bind", fmt.Sprintf("127.0.0.1:%d", port),
		"--unix", filepath.Join(b.dir, name+".sock"))
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	logf.Close()
	n.c, err = client.New(n.addr)
	return n, err
}

// waitUp polls the node's /ping (a benchmark harness may poll).
func (n *node) waitUp(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := n.c.Ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("node %s did not answer within %v", n.name, timeout)
}

func (b *bench) stopAll() {
	all := slices.Clone(b.nodes)
	if b.standaloneNode != nil {
		all = append(all, b.standaloneNode)
	}
	for _, n := range all {
		if n.cmd.ProcessState == nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range all {
		if n.cmd.ProcessState == nil {
			n.cmd.Wait()
		}
	}
}

// complete reports whether nodes lists want nodes with every job running.
func (b *bench) complete(nodes []client.NodeInfo, want int) bool {
	if len(nodes) != want {
		return false
	}
	for _, n := range nodes {
		running := 0
		for _, j := range n.Jobs {
			if j.Running >= 1 {
				running++
			}
		}
		if running < b.jobs {
			return false
		}
	}
	return true
}

func (b *bench) run() error {
	b.natsAddr = fmt.Sprintf("127.0.0.1:%d", freePort())
	t0 := time.Now()
	first, err := b.start("n00", fmt.Sprintf("[cluster]\nembedded = true\nlisten = %s\nname = n00\n", b.natsAddr))
	if err != nil {
		return err
	}
	b.nodes = append(b.nodes, first)
	if err := first.waitUp(30 * time.Second); err != nil {
		return err
	}
	for i := 1; i < b.n; i++ {
		name := fmt.Sprintf("n%02d", i)
		n, err := b.start(name, fmt.Sprintf("[cluster]\nurl = nats://%s\nname = %s\n", b.natsAddr, name))
		if err != nil {
			return err
		}
		b.nodes = append(b.nodes, n)
	}
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		nodes, err := first.c.ClusterNodes(ctx)
		if err == nil && b.complete(nodes, b.n) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no complete cluster view after 2 min (last: %d nodes, %v)", len(nodes), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.row(fmt.Sprintf("start → complete cluster view (%d nodes, %d processes)", b.n, b.n*b.jobs),
		fmt.Sprintf("%.2f s", time.Since(t0).Seconds()))

	// List latency.
	lat := make([]time.Duration, 0, b.lists)
	for range b.lists {
		s := time.Now()
		if _, err := first.c.ClusterNodes(ctx); err != nil {
			return err
		}
		lat = append(lat, time.Since(s))
	}
	slices.Sort(lat)
	b.row("GET /cluster/nodes, p50 / p99", fmt.Sprintf("%s / %s", ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100])))

	if err := b.fanout(ctx); err != nil {
		return err
	}
	if err := b.nodeLoss(ctx); err != nil {
		return err
	}
	return b.rss()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// fanout counts the events a NATS subscriber gets while every node scales
// b.scale jobs up by one and down again.
func (b *bench) fanout(ctx context.Context) error {
	nc, err := nats.Connect("nats://" + b.natsAddr)
	if err != nil {
		return err
	}
	defer nc.Close()
	var count atomic.Int64
	var last atomic.Int64 // UnixNano of the last event
	sub, err := nc.Subscribe("gaffer.evt.>", func(*nats.Msg) {
		count.Add(1)
		last.Store(time.Now().UnixNano())
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(b.nodes))
	for _, n := range b.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range b.scale {
				name := fmt.Sprintf("bench.j%02d", j)
				for _, op := range []string{"+1", "-1"} {
					if _, err := n.c.Scale(ctx, name, op); err != nil {
						errs <- fmt.Errorf("%s: scale %s %s: %w", n.name, name, op, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// Wait until the events stop (500 ms without one, at most 30 s).
	for quiet := time.Now().Add(30 * time.Second); time.Now().Before(quiet); time.Sleep(50 * time.Millisecond) {
		if l := last.Load(); l != 0 && time.Since(time.Unix(0, l)) > 500*time.Millisecond {
			break
		}
	}
	got := count.Load()
	span := time.Unix(0, last.Load()).Sub(start)
	dropped, _ := sub.Dropped()
	b.row(fmt.Sprintf("events on gaffer.evt.> while %d nodes scale %d jobs +1/−1", b.n, b.scale),
		fmt.Sprintf("%d in %.2f s = %.0f/s (%d dropped)", got, span.Seconds(), float64(got)/span.Seconds(), dropped))
	return nil
}

// nodeLoss kills the last node and times its disappearance from node 0's
// view.
func (b *bench) nodeLoss(ctx context.Context) error {
	victim := b.nodes[len(b.nodes)-1]
	first := b.nodes[0]
	s := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	victim.cmd.Wait()
	for time.Since(s) < 30*time.Second {
		nodes, err := first.c.ClusterNodes(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(nodes, func(n client.NodeInfo) bool { return n.Name == victim.name }) {
			b.row("SIGKILL one node → gone from /cluster/nodes", fmt.Sprintf("%.2f s", time.Since(s).Seconds()))
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("the killed node was still listed after 30 s")
}

// rss compares node 1 (clustered, no embedded server) with a standalone
// gafferd with the same jobs.
func (b *bench) rss() error {
	alone, err := b.start("standalone", "")
	if err != nil {
		return err
	}
	b.standaloneNode = alone
	if err := alone.waitUp(30 * time.Second); err != nil {
		return err
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		infos, err := alone.c.JobsInfo(ctx, "")
		running := 0
		for _, in := range infos {
			if in.Running >= 1 {
				running++
			}
		}
		if err == nil && running == b.jobs {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("standalone gafferd: jobs not running after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	clustered, err := vmRSS(b.nodes[1].cmd.Process.Pid)
	if err != nil {
		return err
	}
	plain, err := vmRSS(alone.cmd.Process.Pid)
	if err != nil {
		return err
	}
	b.row(fmt.Sprintf("RSS of one node with %d jobs: clustered / standalone", b.jobs),
		fmt.Sprintf("%.1f MB / %.1f MB", float64(clustered)/1024, float64(plain)/1024))
	return nil
}

// vmRSS is a process's resident size in KiB.
func vmRSS(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
