package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gafferhq/gaffer/internal/api/supervisorrpc"
	"github.com/gafferhq/gaffer/internal/logs"
	"github.com/gafferhq/gaffer/supervisor"
)

// tailStart is how much of the existing log a follower first gets, as in
// supervisord's logtail handler.
const tailStart = 1024

// logtail serves supervisord's /logtail/<group:name>[/stdout|stderr]: the
// end of a process's log, then everything written to it, for as long as the
// client stays (supervisorctl tail -f).
func logtail(sup *supervisor.Supervisor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/logtail/")
		spec, channel, _ := strings.Cut(rest, "/")
		if channel == "" {
			channel = "stdout"
		}
		if channel != "stdout" && channel != "stderr" {
			http.NotFound(w, r)
			return
		}
		group, name := supervisorrpc.SplitNamespec(spec)
		job := group + "." + name
		info, err := sup.Program(r.Context(), job)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		label := channel
		if channel == "stderr" && len(info.Config.RedirectOutput) > 1 && info.Config.RedirectOutput[0] == info.Config.RedirectOutput[1] {
			http.NotFound(w, r) // redirect_stderr: no stderr log
			return
		}
		follow(w, r, func(ctx context.Context) (<-chan []byte, error) {
			return sup.FollowLog(ctx, job, label, -tailStart)
		})
	})
}

// mainlogtail serves supervisord's /mainlogtail: the daemon's own log.
func mainlogtail(main func() *logs.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lw := main()
		if lw == nil {
			http.NotFound(w, r)
			return
		}
		follow(w, r, func(ctx context.Context) (<-chan []byte, error) {
			return lw.Follow(ctx, -tailStart)
		})
	})
}

// follow streams what open returns until the log stream ends or the client
// goes away. It takes the connection over from net/http: supervisor's HTTP
// client sends a stray CRLF after its request, and once the server's
// background read has consumed that byte it no longer notices the client
// closing, so a finished `supervisorctl tail -f` or `fg` would leave its
// stream (and its file) open until the next write failed. Reading the
// hijacked connection ourselves sees the close at once.
func follow(w http.ResponseWriter, r *http.Request, open func(context.Context) (<-chan []byte, error)) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := open(ctx)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		followBuffered(w, ctx, stream) // HTTP/2 or a test recorder
		return
	}
	defer conn.Close()
	go func() {
		// Discard whatever the client sends; its close ends the stream.
		_, _ = io.Copy(io.Discard, brw.Reader)
		cancel()
	}()
	chunked := r.ProtoAtLeast(1, 1)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=utf-8\r\nCache-Control: no-cache\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head = strings.Replace(head, "HTTP/1.1", "HTTP/1.0", 1) + "Connection: close\r\n\r\n"
	}
	bw := brw.Writer
	if _, err := bw.WriteString(head); err != nil || bw.Flush() != nil {
		return
	}
	for {
		select {
		case b, ok := <-stream:
			if !ok {
				if chunked {
					bw.WriteString("0\r\n\r\n")
					bw.Flush()
				}
				return
			}
			if chunked {
				fmt.Fprintf(bw, "%x\r\n", len(b))
			}
			bw.Write(b)
			if chunked {
				bw.WriteString("\r\n")
			}
			if bw.Flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// followBuffered is follow through the ResponseWriter, for connections that
// cannot be hijacked.
func followBuffered(w http.ResponseWriter, ctx context.Context, stream <-chan []byte) {
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	for {
		select {
		case b, ok := <-stream:
			if !ok {
				return
			}
			if _, err := w.Write(b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
