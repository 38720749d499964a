// Command gafferbench compares gafferd with Debian's supervisord and a
// direct baseline (an sh loop, or the harness itself) in one run, and
// prints a markdown table of absolute numbers and ratios.
//
//	gafferbench -gafferd BIN -stamp BIN -writer BIN [-quick] [-only respawn,start,...] [-n 1000] ...
//
// Scenarios (see bench/README.md):
//
//	respawn   kill -9 a child, time until its replacement runs (K times)
//	start     N programs from config to all exec'd; daemon RSS; SIGTERM → exit
//	idle      CPU time and context switches of an idle daemon with 100 children
//	list      "list everything" latency with 100 and N processes
//	stop      stop 10 TERM-ignoring children with a 1 s graceful timeout
//
// and, with the same supervisord.conf for both daemons (gafferd as the
// drop-in, driven through supervisor's XML-RPC):
//
//	supstart           100 and N programs from config to all exec'd
//	getallprocessinfo  XML-RPC supervisor.getAllProcessInfo latency, 100 processes
//	logcapture         a child writes 200 MB to stdout: time until all of it is in
//	                   the rotated log files, daemon CPU, every line once and in order
//
// Every process the harness starts is stopped by pid before it exits,
// every wait is bounded, and nothing but unix sockets is used.
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type bench struct {
	gafferdBin, supervisordBin, stampBin, writerBin, sleepBin, shBin string

	systems [nSystems]bool
	only    map[string]bool
	work    string

	n, small, k, calls, stopN, stopTimeout, stopReps int
	idle, callBudget, settle, timeout, poll          time.Duration
	childLife                                        time.Duration
	logMB, logReps                                   int
	rpcBudget                                        time.Duration
	keep                                             bool

	rng   *rand.Rand
	table *table
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var allScenarios = []string{"respawn", "start", "idle", "list", "stop", "supstart", "getallprocessinfo", "logcapture"}

func run(args []string, stdout, stderr io.Writer) int {
	b := &bench{}
	fs := flag.NewFlagSet("gafferbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&b.gafferdBin, "gafferd", "", "gafferd binary (empty: no gafferd column)")
	fs.StringVar(&b.supervisordBin, "supervisord", "supervisord", "supervisord binary (empty or missing: no supervisord column)")
	fs.StringVar(&b.stampBin, "stamp", "", "stamp binary (default: next to gafferbench)")
	fs.StringVar(&b.writerBin, "writer", "", "writer binary of the logcapture scenario (default: next to gafferbench)")
	systems := fs.String("systems", "baseline,gafferd,supervisord", "columns to measure")
	only := fs.String("only", strings.Join(allScenarios, ","), "scenarios to run: "+strings.Join(allScenarios, ","))
	quick := fs.Bool("quick", false, "smaller sizes and shorter intervals (explicit flags still win)")
	fs.IntVar(&b.n, "n", 1000, "programs for the start, RSS and large list scenarios")
	fs.IntVar(&b.small, "small", 100, "children for the idle and small list scenarios")
	fs.DurationVar(&b.idle, "idle", 20*time.Second, "idle interval")
	fs.IntVar(&b.k, "k", 50, "respawn repetitions per system")
	fs.IntVar(&b.calls, "calls", 1000, "list calls per daemon and size")
	fs.DurationVar(&b.callBudget, "call-budget", 15*time.Second, "time limit of one list series (fewer calls if reached)")
	fs.IntVar(&b.stopN, "stop-n", 10, "TERM-ignoring children in the stop scenario")
	fs.IntVar(&b.stopTimeout, "stop-timeout", 1, "graceful timeout of the stop scenario, whole seconds")
	fs.IntVar(&b.stopReps, "stop-reps", 3, "stop scenario repetitions (median reported)")
	fs.DurationVar(&b.settle, "settle", 2*time.Second, "pause after start-up before RSS and idle readings")
	fs.DurationVar(&b.timeout, "timeout", 120*time.Second, "limit of every wait for processes to start")
	fs.DurationVar(&b.poll, "poll", 2*time.Millisecond, "interval of the /proc polls of the start scenario")
	fs.IntVar(&b.logMB, "log-mb", 200, "logcapture: MB (2^20 bytes) the child writes to stdout")
	fs.IntVar(&b.logReps, "log-reps", 3, "logcapture: runs per system (median reported)")
	fs.DurationVar(&b.rpcBudget, "rpc-budget", 90*time.Second, "time limit of the getallprocessinfo series (fewer calls if reached)")
	workdir := fs.String("workdir", "", "directory for sockets, configs and logs (default: a new temp dir)")
	fs.BoolVar(&b.keep, "keep", false, "keep the work directory (configs, daemon logs and captured logs)")
	keep := &b.keep
	seed := fs.Uint64("seed", 1, "seed of the random pauses between kills")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gafferbench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickDefaults := map[string]string{"n": "500", "idle": "5s", "k": "10", "calls": "200", "stop-reps": "1", "call-budget": "5s", "settle": "1s", "log-mb": "50", "rpc-budget": "30s"}
		for name, v := range quickDefaults {
			if !set[name] {
				fs.Set(name, v)
			}
		}
	}
	b.rng = rand.New(rand.NewPCG(*seed, 0x9e3779b97f4a7c15))
	b.childLife = 15 * time.Minute

	if err := b.setup(*systems, *only, stderr); err != nil {
		fmt.Fprintln(stderr, "gafferbench:", err)
		return 2
	}

	// The work directory holds the sockets: keep its path short.
	var err error
	if *workdir != "" {
		b.work, err = os.MkdirTemp(*workdir, "gb")
	} else {
		b.work, err = os.MkdirTemp("", "gafferbench")
	}
	if err != nil {
		fmt.Fprintln(stderr, "gafferbench:", err)
		return 1
	}
	if len(b.work)+40 > 104 || strings.ContainsAny(b.work, " \t\n'\"\\$`%;") {
		fmt.Fprintf(stderr, "gafferbench: work directory %q is too long or has special characters for socket paths and command lines\n", b.work)
		os.RemoveAll(b.work)
		return 2
	}
	cleanup := func() {
		cleanupAll()
		if !*keep {
			os.RemoveAll(b.work)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var interrupted atomic.Bool
	go func() {
		s := <-sigs
		interrupted.Store(true)
		fmt.Fprintf(stderr, "gafferbench: %v: stopping everything\n", s)
		cleanup()
		os.Exit(130)
	}()
	defer cleanup()

	b.table = newTable(b)
	header := b.header()
	fmt.Fprintln(stderr, header)
	load0 := loadavg()
	start := time.Now()
	if b.only["respawn"] {
		b.runRespawn()
	}
	if b.only["idle"] || b.only["list"] {
		b.runSmall()
	}
	if b.only["start"] || b.only["list"] {
		b.runLarge()
	}
	if b.only["stop"] {
		b.runStop()
	}
	if b.only["supstart"] || b.only["getallprocessinfo"] {
		b.runSupervisorConf()
	}
	if b.only["logcapture"] {
		b.runLogCapture()
	}
	if interrupted.Load() {
		cleanup() // waits for the interrupt's cleanup to finish
		return 130
	}
	fmt.Fprintln(stdout, header)
	fmt.Fprintf(stdout, "load average before: %s, after: %s; total %.0f s\n\n", load0, loadavg(), time.Since(start).Seconds())
	b.table.print(stdout)
	if *keep {
		fmt.Fprintf(stderr, "gafferbench: work directory kept: %s\n", b.work)
	}
	return 0
}

func (b *bench) setup(systems, only string, stderr io.Writer) error {
	b.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("-only: unknown scenario %q (have %s)", s, strings.Join(allScenarios, ","))
		}
		b.only[s] = true
	}
	for _, s := range strings.Split(systems, ",") {
		switch strings.TrimSpace(s) {
		case "baseline":
			b.systems[baseline] = true
		case "gafferd":
			b.systems[gafferd] = true
		case "supervisord":
			b.systems[supervisord] = true
		case "":
		default:
			return fmt.Errorf("-systems: unknown system %q", s)
		}
	}
	if b.n < 1 || b.small < 1 || b.k < 1 || b.calls < 1 || b.stopN < 1 || b.stopTimeout < 1 || b.stopReps < 1 || b.logMB < 1 || b.logReps < 1 {
		return fmt.Errorf("sizes and counts must be positive")
	}
	var err error
	if b.shBin, err = exec.LookPath("sh"); err != nil {
		return err
	}
	if b.sleepBin, err = exec.LookPath("sleep"); err != nil {
		return err
	}
	// The helper binaries live next to gafferbench unless given.
	helper := func(bin *string, name string, needed bool) error {
		if !needed {
			return nil
		}
		if *bin == "" {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			*bin = filepath.Join(filepath.Dir(exe), name)
		}
		var err error
		if *bin, err = filepath.Abs(*bin); err != nil {
			return err
		}
		if _, err := os.Stat(*bin); err != nil {
			return fmt.Errorf("%s binary: %w (build it with go build ./bench/cmd/%s, or pass -%s)", name, err, name, name)
		}
		return nil
	}
	if err := helper(&b.stampBin, "stamp", true); err != nil {
		return err
	}
	if err := helper(&b.writerBin, "writer", b.only["logcapture"]); err != nil {
		return err
	}
	if b.systems[gafferd] {
		if b.gafferdBin == "" {
			fmt.Fprintln(stderr, "gafferbench: no -gafferd binary: gafferd column skipped")
			b.systems[gafferd] = false
		} else if b.gafferdBin, err = filepath.Abs(b.gafferdBin); err != nil {
			return err
		}
	}
	if b.systems[supervisord] {
		if b.supervisordBin == "" {
			b.systems[supervisord] = false
		} else if p, err := exec.LookPath(b.supervisordBin); err != nil {
			fmt.Fprintf(stderr, "gafferbench: %s not found: supervisord column skipped\n", b.supervisordBin)
			b.systems[supervisord] = false
		} else {
			b.supervisordBin = p
		}
	}
	return nil
}

func (b *bench) header() string {
	ver := func(bin string, on bool) string {
		if !on {
			return "not run"
		}
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			return "unknown version"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("## gafferbench\n\nN=%d, small=%d, idle=%v, respawn K=%d, list calls=%d (budget %v, getallprocessinfo %v), stop %d×%d s ×%d, logcapture %d MB ×%d; "+
		"%d CPUs, Linux %s, %s; gafferd: %s; supervisord: %s",
		b.n, b.small, b.idle, b.k, b.calls, b.callBudget, b.rpcBudget, b.stopN, b.stopTimeout, b.stopReps, b.logMB, b.logReps,
		runtime.NumCPU(), strings.TrimSpace(string(kernel)), runtime.Version(),
		ver(b.gafferdBin, b.systems[gafferd]), ver(b.supervisordBin, b.systems[supervisord]))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// progress prints a timestamped line on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
