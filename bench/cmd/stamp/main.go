// Command stamp is the benchmark's child program. On start it sends one
// datagram "<pid> <start UnixNano>" to the harness's unix datagram socket,
// then sleeps until killed (or until -max, so a lost child cannot linger).
//
//	stamp -sock PATH [-ignore-term] [-max 10m]
//
// The start time is taken first thing in main, so every supervisor under
// test pays the same exec and runtime start-up before the stamp.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	start := time.Now()
	sock := flag.String("sock", "", "unix datagram socket of the harness")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM (only SIGKILL stops it)")
	maxLife := flag.Duration("max", 10*time.Minute, "exit after this long")
	flag.Parse()
	if *ignoreTerm {
		// Before the stamp: once the harness has the stamp, TERM is ignored.
		signal.Ignore(syscall.SIGTERM)
	}
	if *sock != "" {
		if err := send(*sock, start); err != nil {
			// Keep sleeping: exiting would make the supervisor respawn us in
			// a tight loop. The harness times out waiting for the stamp.
			fmt.Fprintln(os.Stderr, "stamp:", err)
		}
	}
	time.Sleep(*maxLife)
}

func send(path string, start time.Time) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "%d %d", os.Getpid(), start.UnixNano())
	return err
}
