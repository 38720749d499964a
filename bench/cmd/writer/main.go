// Command writer is the child of the benchmark's log-capture scenario. It
// writes lines 0 … N-1 of bench/internal/numline (exactly 100 bytes each)
// to stdout as fast as it can through a large buffer, then exits 0.
//
//	writer -lines N [-sock PATH]
//
// With -sock it first sends "<pid> <start UnixNano>" to the harness's unix
// datagram socket, as stamp does, so the harness times from its real start.
// At the end it prints one line on stderr: lines, bytes, its wall time and
// its own CPU time (utime+stime), so the harness can tell a child that was
// held up by a slow reader from one that was slow itself.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gafferhq/gaffer/bench/internal/numline"
)

func main() {
	start := time.Now()
	lines := flag.Uint64("lines", 2097152, "lines to write (100 bytes each)")
	sock := flag.String("sock", "", "unix datagram socket of the harness")
	flag.Parse()
	if *sock != "" {
		if err := send(*sock, start); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
		}
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	buf := make([]byte, 0, numline.Size)
	for n := range *lines {
		buf = numline.Append(buf[:0], n)
		if _, err := w.Write(buf); err != nil {
			fmt.Fprintf(os.Stderr, "writer: line %d: %v\n", n, err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Fprintf(os.Stderr, "writer: %d lines, %d bytes, wall %.3f s, cpu %.3f s\n",
		*lines, *lines*numline.Size, time.Since(start).Seconds(), cpu.Seconds())
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
