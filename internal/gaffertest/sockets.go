package gaffertest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
)

func init() {
	// fcgi: a FastCGI worker serving on the listening socket it got as
	// stdin (fd 0), as supervisord's [fcgi-program] passes it. Every
	// response body is "pid=<pid> path=<request path>".
	Helpers["fcgi"] = func([]string) int {
		ln, err := net.FileListener(os.NewFile(0, "fcgi-socket"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "fcgi: stdin is not a listening socket:", err)
			return 1
		}
		fmt.Println("ready")
		err = fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "pid=%d path=%s", os.Getpid(), r.URL.Path)
		}))
		fmt.Fprintln(os.Stderr, "fcgi:", err)
		return 1
	}
	// listen-http: socket activation the systemd way. Checks LISTEN_PID is
	// its own pid and LISTEN_FDS >= 1, serves HTTP on fd 3; every response
	// body is "pid=<pid> listen_pid=<LISTEN_PID> fds=<LISTEN_FDS>
	// names=<LISTEN_FDNAMES>".
	Helpers["listen-http"] = func([]string) int {
		lp, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
		n, _ := strconv.Atoi(fds)
		if lp != strconv.Itoa(os.Getpid()) || n < 1 {
			fmt.Fprintf(os.Stderr, "listen-http: LISTEN_PID=%q (pid %d) LISTEN_FDS=%q\n", lp, os.Getpid(), fds)
			return 3
		}
		ln, err := net.FileListener(os.NewFile(3, "listen-fd-3"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen-http: fd 3:", err)
			return 1
		}
		fmt.Println("ready")
		err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "pid=%d listen_pid=%s fds=%s names=%s", os.Getpid(), lp, fds, names)
		}))
		fmt.Fprintln(os.Stderr, "listen-http:", err)
		return 1
	}
}
