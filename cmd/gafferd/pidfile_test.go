package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// daemonJob is a job whose command daemonizes itself (the daemonize
// helper) and writes its daemon's pid to a pidfile.
func daemonJob(t *testing.T, pidfile string) string {
	return fmt.Sprintf("[job:d]\ncmd = %s\nargs = %s\nenv:GAFFER_HELPER = daemonize\npidfile = %s\n",
		gaffertest.Self(t), pidfile, pidfile)
}

// readPidfile returns the pid a pidfile names, 0 when none.
func readPidfile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// killAtEnd kills pids still alive when the test ends, so a failing test
// leaves no daemon behind.
func killAtEnd(t *testing.T, pids *[]int) {
	t.Cleanup(func() {
		for _, p := range *pids {
			if !gaffertest.Gone(p) {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
}

// jobOSPids is testDaemon.osPids tolerating a process that goes between
// the two requests (nil then).
func jobOSPids(d *testDaemon, job string) []int {
	b, err := d.get("/jobs/" + job)
	if err != nil {
		return nil
	}
	var info struct{ Processes []int }
	json.Unmarshal(b, &info)
	var out []int
	for _, p := range info.Processes {
		b, err := d.get(fmt.Sprintf("/%d", p))
		if err != nil {
			return nil
		}
		var pi struct {
			OSPid int `json:"os_pid"`
		}
		json.Unmarshal(b, &pi)
		out = append(out, pi.OSPid)
	}
	return out
}

// daemonPid waits for job d to have one process whose OS pid is the one in
// pidfile, other than not, and returns it.
func daemonPid(t *testing.T, d *testDaemon, pidfile string, not int) int {
	t.Helper()
	var pid int
	gaffertest.Eventually(t, 15*time.Second, "the daemon adopted with the pid of its pidfile", func() bool {
		pids := jobOSPids(d, "default/d")
		if len(pids) != 1 || pids[0] == not || pids[0] == 0 {
			return false
		}
		pid = pids[0]
		return readPidfile(pidfile) == pid
	})
	return pid
}

func TestPidfileDaemonIsAdoptedRestartedAndStopped(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "d.pid")
	var seen []int
	killAtEnd(t, &seen)
	d := startDaemon(t, daemonJob(t, pidfile))

	first := daemonPid(t, d, pidfile, 0)
	seen = append(seen, first)
	if gaffertest.Gone(first) {
		t.Fatalf("adopted pid %d is not running", first)
	}
	// The daemon, not its launcher: its parent is gafferd (the subreaper).
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", first)); err != nil ||
		!strings.Contains(string(b), fmt.Sprintf(" %d ", d.cmd.Process.Pid)) {
		t.Errorf("daemon %d is not a child of gafferd %d: %s", first, d.cmd.Process.Pid, b)
	}

	// Killed behind gafferd's back: a new copy, with a new pid in the pidfile.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := daemonPid(t, d, pidfile, first)
	seen = append(seen, second)
	if !gaffertest.Gone(first) {
		t.Errorf("killed daemon %d still there", first)
	}

	// Stop: the daemon goes, and its pidfile (which named it) with it.
	resp, err := d.http.Post("http://gafferd/jobs/default/d/state", "text/plain", strings.NewReader("0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("stop: %s", resp.Status)
	}
	gaffertest.Eventually(t, 15*time.Second, "daemon gone after stop", func() bool { return gaffertest.Gone(second) })
	gaffertest.Eventually(t, 5*time.Second, "no process left in the job", func() bool { return len(jobOSPids(d, "default/d")) == 0 })
	// Gone is true of a zombie already: gafferd may not have reaped it yet.
	gaffertest.Eventually(t, 5*time.Second, "the pidfile naming the stopped daemon removed", func() bool {
		_, err := os.Stat(pidfile)
		return os.IsNotExist(err)
	})
}

func TestPidfileNamingAnUnrelatedProcessIsRefused(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "d.pid")
	other := exec.Command("sleep", "300")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(other.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonJob(t, pidfile))

	want := fmt.Sprintf("pidfile %s names pid %d, which is running and not supervised by gafferd", pidfile, other.Process.Pid)
	var info struct {
		LastError string `json:"last_error"`
		Processes []int  `json:"processes"`
	}
	gaffertest.Eventually(t, 10*time.Second, "the spawn refused with the pidfile error", func() bool {
		b, err := d.get("/jobs/default/d")
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &info)
		return strings.Contains(info.LastError, want)
	})
	if len(info.Processes) != 0 {
		t.Errorf("processes %v started despite the refusal", info.Processes)
	}
	// Never signalled, never tracked: still sleeping, pidfile untouched.
	if gaffertest.Gone(other.Process.Pid) {
		t.Fatalf("unrelated process %d was killed", other.Process.Pid)
	}
	if got := readPidfile(pidfile); got != other.Process.Pid {
		t.Errorf("pidfile now names %d, want %d untouched", got, other.Process.Pid)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", other.Process.Pid)); strings.Contains(string(b), ") T ") {
		t.Errorf("unrelated process was stopped: %s", b)
	}
}
