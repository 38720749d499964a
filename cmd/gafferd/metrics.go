package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gafferhq/gaffer/internal/metrics"
)

// listenMetrics opens the listener of [gaffer] metrics_bind, nil when the
// key is not set. It serves GET /metrics without authentication, so it
// stays on loopback unless --insecure-remote says otherwise.
func listenMetrics(addr string, insecure bool) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_bind %q: %w", addr, err)
	}
	if !insecure && !isLoopback(host) {
		return nil, fmt.Errorf("metrics_bind %q: refusing a non-loopback address (anyone who reaches it could read every job, pid and log size without credentials); use 127.0.0.1, or pass --insecure-remote", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_bind %q: %w", addr, err)
	}
	return l, nil
}

// serveMetrics serves GET /metrics, and nothing else, on l until the
// returned server is shut down.
func serveMetrics(l net.Listener, met *metrics.Metrics, logger *slog.Logger, wg *sync.WaitGroup) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", met.Handler())
	srv := &http.Server{Handler: met.Instrument(mux), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve metrics", "addr", l.Addr(), "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", "tcp:"+l.Addr().String())
	return srv
}
