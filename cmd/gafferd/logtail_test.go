package main

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// supervisorctl's HTTP client sends a stray CRLF after its request. A
// follower that leaves must still end its stream at once: before, gafferd
// kept every such /logtail stream (a socket and a log file each) until the
// program next wrote something, which a quiet program never does.
func TestLogtailEndsWhenTheClientLeaves(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, "[supervisord]\nlogfile="+dir+"/main.log\nchildlogdir="+dir+"\n\n"+
		"[program:quiet]\ncommand=sleep 600\nstartsecs=0\n")
	pid := d.cmd.Process.Pid
	gaffertest.Eventually(t, 10*time.Second, "quiet running", func() bool {
		b, err := d.get("/jobs/quiet/quiet")
		return err == nil && strings.Contains(string(b), `"running":1`)
	})
	before := openFDs(t, pid)
	for _, path := range []string{"/logtail/quiet", "/logtail/quiet/stderr", "/mainlogtail"} {
		for range 3 {
			c, err := net.DialTimeout("unix", d.sock, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			status, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.Contains(status, " 200 ") {
				t.Fatalf("GET %s: %q, %v", path, status, err)
			}
			// The stray CRLF arrives after the request, as supervisorctl's does.
			if _, err := c.Write([]byte("\r\n")); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
	gaffertest.Eventually(t, 10*time.Second, "every stream closed", func() bool {
		return openFDs(t, pid) <= before
	})
}
