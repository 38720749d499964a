// Package gaffertest holds test helpers: helper programs run from the test
// binary itself, and waiting on events instead of sleeping.
package gaffertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/events"
)

// HelperEnv names the helper a re-executed test binary should run.
const HelperEnv = "GAFFER_HELPER"

// Helpers are small programs a test binary can act as; tests spawn
// os.Args[0] with GAFFER_HELPER=<name> instead of shell one-liners.
var Helpers = map[string]func(args []string) int{
	// sleep: sleep forever (until signalled).
	"sleep": func([]string) int { return sleepForever() },
	// ignore-term: ignore SIGTERM, print "ready", sleep forever.
	"ignore-term": func([]string) int {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		return sleepForever()
	},
	// exit N: exit with status N at once.
	"exit": func(args []string) int {
		n := 0
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
		}
		return n
	},
	// fork-grandchild FILE: start a grandchild in the same group that ignores
	// SIGTERM, write its pid to FILE, sleep forever.
	"fork-grandchild": func(args []string) int {
		return spawnChild(args[0], false)
	},
	// setsid-escapee FILE: start a grandchild in a new session (outside the
	// group), write its pid to FILE, sleep forever.
	"setsid-escapee": func(args []string) int {
		return spawnChild(args[0], true)
	},
	// daemonize PIDFILE: a classic self-daemonizing server. The launcher
	// starts a child in a new session and exits 0 once it has exited; that
	// child starts the daemon and exits; the daemon writes its pid to
	// PIDFILE and sleeps until signalled.
	"daemonize": daemonize,
	// write-no-newline TEXT: write TEXT without a newline and exit 0.
	"write-no-newline": func(args []string) int {
		os.Stdout.WriteString(args[0])
		return 0
	},
	// echo-stdin: copy stdin to stdout until EOF.
	"echo-stdin": func([]string) int {
		buf := make([]byte, 4096)
		for {
			n, err := os.Stdin.Read(buf)
			os.Stdout.Write(buf[:n])
			if err != nil {
				return 0
			}
		}
	},
	// http-after SECONDS PORTFILE [ADDR]: serve HTTP on ADDR (a free
	// loopback port when not given), write the port to PORTFILE; /health
	// answers 503 for SECONDS, then 200. Runs until signalled.
	"http-after": httpAfter,
	// chatty N: write N numbered lines as fast as possible, then sleep.
	"chatty": func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		for i := range n {
			fmt.Fprintf(os.Stdout, "line %08d\n", i)
		}
		return sleepForever()
	},
	// notify-ready DELAY_MS: sleep DELAY_MS, send READY=1 to the sd_notify
	// socket in $NOTIFY_SOCKET, sleep forever.
	"notify-ready": func(args []string) int {
		ms, _ := strconv.Atoi(args[0])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
		if err == nil {
			_, err = c.Write([]byte("READY=1"))
			c.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "notify-ready:", err)
			return 1
		}
		return sleepForever()
	},
}

func httpAfter(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: http-after SECONDS PORTFILE")
		return 2
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	addr := "127.0.0.1:0"
	if len(args) > 2 {
		addr = args[2]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	readyAt := time.Now().Add(time.Duration(secs * float64(time.Second)))
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(readyAt) {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if err := os.WriteFile(args[1]+".tmp", []byte(port), 0o644); err != nil {
		return 1
	}
	os.Rename(args[1]+".tmp", args[1])
	http.Serve(ln, mux)
	return 1
}

// FreeAddr returns a loopback address with a port free right now, for a
// helper that must listen where a config says before it starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func spawnChild(file string, setsid bool) int {
	attr := &syscall.ProcAttr{Env: append(os.Environ(), HelperEnv+"=ignore-term"),
		Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: setsid}}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{os.Args[0]}, attr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(file+".tmp", []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return 1
	}
	os.Rename(file+".tmp", file)
	return sleepForever()
}

// RunHelper runs the helper named by GAFFER_HELPER and exits; call it first
// in TestMain. It returns when the binary is not running as a helper.
func RunHelper() {
	h := os.Getenv(HelperEnv)
	if h == "" {
		return
	}
	f := Helpers[h]
	if f == nil {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", h)
		os.Exit(2)
	}
	os.Exit(f(os.Args[1:]))
}

// Self returns the path of the running test binary.
func Self(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// WaitFor reads sub until match accepts an event, failing the test after
// timeout. It returns the matching event.
func WaitFor(t testing.TB, sub *events.Sub, timeout time.Duration, match func(events.Event) bool) events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription closed while waiting: %v", sub.Err())
			}
			if match(e) {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no matching event within %v", timeout)
			return events.Event{}
		}
	}
}

// Eventually polls cond every 10 ms until it holds, failing after timeout.
// For state with no event (a pid gone from /proc).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Gone reports whether an OS pid no longer exists (or is a zombie not ours).
func Gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// state field follows the ")" of the command name
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] == 'Z'
		}
	}
	return false
}

// sleepForever blocks without tripping the runtime's deadlock detector.
func sleepForever() int {
	for {
		time.Sleep(time.Hour)
	}
}

// daemonize runs one stage of the daemonize helper: "daemonize PIDFILE"
// (the launcher), then "PIDFILE mid" and "PIDFILE run", each a fresh exec
// of the test binary (Go cannot fork without exec).
func daemonize(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "daemonize: need PIDFILE")
		return 2
	}
	stage := ""
	if len(args) > 1 {
		stage = args[1]
	}
	next := map[string]string{"": "mid", "mid": "run"}[stage]
	if next == "" { // the daemon
		if err := os.WriteFile(args[0], []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return sleepForever()
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 1
	}
	attr := &syscall.ProcAttr{Env: append(os.Environ(), HelperEnv+"=daemonize"),
		Files: []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()}, Sys: &syscall.SysProcAttr{Setsid: stage == ""}}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{os.Args[0], args[0], next}, attr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if stage == "" {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
			return 1
		}
	}
	return 0
}
