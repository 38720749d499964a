// Command embed is a Go program that embeds gaffer: it runs the engine
// in-process, serves gafferd's APIs (REST, live channel, XML-RPC) with
// package server, and adds its own XML-RPC namespace hello.* and its own
// route GET /hello/{target}, behind the same authorization as the
// built-in ones.
//
//	go run ./examples/embed -addr 127.0.0.1:5050 -key s3cret
//	curl http://127.0.0.1:5050/hello/demo.ticker
//	python3 -c 'import xmlrpc.client as x; print(x.ServerProxy("http://127.0.0.1:5050/RPC2").hello.greet("you"))'
//
// Everyone may read; anything more needs the X-Api-Key header equal to
// -key (no -key: everything is allowed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gafferhq/gaffer/server"
	"github.com/gafferhq/gaffer/supervisor"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5050", "address to listen on (loopback)")
	key := flag.String("key", "", "API key needed beyond reading (empty: none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on http://%s\n", ln.Addr())
	if err := run(ctx, ln, *key); err != nil {
		log.Fatal(err)
	}
}

// run serves on ln until ctx is done, then stops the engine and its
// processes.
func run(ctx context.Context, ln net.Listener, key string) error {
	sup := supervisor.New(supervisor.Options{})
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- sup.Run(engineCtx) }()
	defer func() { stopEngine(); <-engineDone }() // stops the job's processes

	if err := sup.Load(ctx, "demo", supervisor.JobConfig{Name: "ticker", Cmd: "sleep 3600", NumProcesses: 1}, true); err != nil {
		return err
	}

	srv := server.New(sup, server.Options{Version: "embed-1", Authorize: func(r *http.Request, need server.Permission, target string) error {
		if key == "" || need <= server.Read || r.Header.Get("X-Api-Key") == key {
			return nil
		}
		return fmt.Errorf("%w: %s on %q needs the API key", server.ErrForbidden, need, target)
	}})

	// hello.greet(name) and hello.jobs() anyone may call; hello.stop(job)
	// needs manage on the job.
	err := srv.RegisterRPC("hello", map[string]server.Method{
		"greet": func(_ context.Context, args []any) (any, error) {
			name, ok := "", len(args) == 1
			if ok {
				name, ok = args[0].(string)
			}
			if !ok {
				return nil, &server.Fault{Code: 2, Message: "greet(name): one string"}
			}
			return "hello, " + name, nil
		},
		"jobs": func(ctx context.Context, _ []any) (any, error) { return sup.Jobs(ctx, "") },
		"stop": func(ctx context.Context, args []any) (any, error) {
			name, _ := firstString(args)
			if err := sup.StopJob(ctx, name); err != nil {
				if errors.Is(err, supervisor.ErrNotFound) {
					return nil, &server.Fault{Code: 10, Message: name}
				}
				return nil, err
			}
			return true, nil
		},
	}, map[string]server.Permission{"greet": server.Public, "jobs": server.Read, "stop": server.Manage})
	if err != nil {
		return err
	}

	// GET /hello/{target}: how many processes the job runs, for whoever
	// may read the job.
	srv.HandleFunc("GET /hello/{target}", server.Read, func(w http.ResponseWriter, r *http.Request) {
		info, err := sup.Info(r.Context(), r.PathValue("target"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"job": info.Name, "running": info.Running})
	})

	hs := &http.Server{Handler: srv.Handler()}
	go func() { <-ctx.Done(); hs.Close() }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}
