package main

import (
	"context"
	"errors"
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
		stream, err := sup.FollowLog(r.Context(), job, label, -tailStart)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		follow(w, r.Context(), stream)
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
		stream, err := lw.Follow(r.Context(), -tailStart)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		follow(w, r.Context(), stream)
	})
}

func follow(w http.ResponseWriter, ctx context.Context, stream <-chan []byte) {
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
