// Package server assembles what gafferd serves over HTTP — gaffer's REST
// API, the live channel (websocket), supervisor's XML-RPC interface at
// /RPC2 — around a supervisor.Supervisor, for Go programs that embed
// gaffer, and lets them add their own XML-RPC namespaces and HTTP routes
// that run behind the same authorization as the built-in ones:
//
//	sup := supervisor.New(supervisor.Options{})
//	go sup.Run(ctx)
//	srv := server.New(sup, server.Options{Version: "1.0"})
//	srv.RegisterRPC("hello", map[string]server.Method{
//		"greet": func(ctx context.Context, args []any) (any, error) { return "hello", nil },
//	}, map[string]server.Permission{"greet": server.Read})
//	srv.HandleFunc("GET /hello", server.Read, func(w http.ResponseWriter, r *http.Request) { ... })
//	http.Serve(listener, srv.Handler())
//
// gafferd itself builds the same pieces in cmd/gafferd, with what only a
// daemon has (config reloads, listeners, TLS, key stores, the dashboard,
// event listener pools); Server is the part an embedding program needs.
// The caller serves Handler on the listeners it chooses and decides who
// may do what with Options.Authorize.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/api/supervisorrpc"
	"github.com/gafferhq/gaffer/internal/api/ws"
	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// Permission is what a route or method needs from the caller, as gaffer's
// REST API defines it: each level implies the ones before it, except
// Public, which needs nothing.
type Permission int

const (
	Public    Permission = Permission(rest.Public)    // anyone
	Read      Permission = Permission(rest.Read)      // read the target (a session, or session.job)
	Write     Permission = Permission(rest.Write)     // write to the target's processes
	Manage    Permission = Permission(rest.Manage)    // change the target
	ManageAll Permission = Permission(rest.ManageAll) // see and change everything
	Admin     Permission = Permission(rest.Admin)     // administer the server
)

func (p Permission) String() string { return rest.Permission(p).String() }

// Refusals an Authorize hook wraps: ErrUnauthorized is answered 401 (who
// are you?), ErrForbidden and any other error 403 (you may not).
var (
	ErrUnauthorized = rest.ErrUnauthorized
	ErrForbidden    = rest.ErrForbidden
)

// Options configure a Server. The zero value serves everything to anyone.
type Options struct {
	// Version is reported by GET /version and supervisor.getVersion.
	Version string
	// Identification is supervisor.getIdentification's answer
	// ("supervisor" when empty).
	Identification string
	// Logger receives the servers' errors; slog.Default() when nil.
	Logger *slog.Logger
	// Authorize decides whether a request may do something needing need
	// on target ("" when the thing is not about one session or job). It is
	// asked for every built-in REST route, every XML-RPC call (system.*
	// and supervisor's methods that show no process are Public) and every
	// route and method added with HandleFunc and RegisterRPC. nil allows
	// everything. Return an error wrapping ErrUnauthorized or ErrForbidden.
	Authorize func(r *http.Request, need Permission, target string) error
	// Shutdown is called by supervisor.shutdown and supervisor.restart;
	// when nil those calls are answered with a FAILED fault.
	Shutdown func()
}

// Method is an XML-RPC method: it gets the decoded parameters (string,
// int, bool, float64, time.Time, []byte, map[string]any, []any, nil) and
// returns a value of those types (or of a struct, []string, …) or an
// error: a *Fault is answered as that fault, any other error as a FAILED
// fault carrying its message.
type Method func(ctx context.Context, args []any) (any, error)

// Fault is an XML-RPC fault a Method returns, with supervisor's codes
// (2 INCORRECT_PARAMETERS, 10 BAD_NAME, 30 FAILED, …) or the program's own.
type Fault struct {
	Code    int
	Message string
}

func (f *Fault) Error() string { return fmt.Sprintf("fault %d: %s", f.Code, f.Message) }

// Server is the HTTP face of one engine. Its methods are safe for
// concurrent use, also while it serves.
type Server struct {
	sup       *supervisor.Supervisor
	opts      Options
	rpc       *xmlrpc.Server
	restAPI   http.Handler
	live      *ws.Handler
	routes    *http.ServeMux // HandleFunc's
	handler   http.Handler
	mu        sync.RWMutex
	rpcPerms  map[string]Permission // "namespace.method" → need; guarded by mu
	namespace map[string]bool       // registered by RegisterRPC; guarded by mu
}

// New returns the server of sup. Run sup yourself (sup.Run).
func New(sup *supervisor.Supervisor, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Identification == "" {
		opts.Identification = "supervisor"
	}
	s := &Server{sup: sup, opts: opts, routes: http.NewServeMux(), rpcPerms: map[string]Permission{}, namespace: map[string]bool{}}
	var authorize func(*http.Request, rest.Permission, string) error
	if opts.Authorize != nil {
		authorize = func(r *http.Request, need rest.Permission, target string) error {
			return opts.Authorize(r, Permission(need), target)
		}
	}
	sampler := stats.NewSampler()
	s.restAPI = rest.New(sup, rest.Options{Sampler: sampler, Version: opts.Version, Authorize: authorize})
	s.live = ws.New(sup, ws.Options{Sampler: sampler, Authorize: authorize})

	s.rpc = xmlrpc.NewServer()
	s.rpc.Logger = opts.Logger
	s.rpc.Authorize = s.authorizeRPC
	shutdown := func() {}
	if opts.Shutdown != nil {
		shutdown = opts.Shutdown
	}
	notHere := errors.New("not available in this server")
	supervisorrpc.Register(s.rpc, &supervisorrpc.Daemon{
		Sup: sup, Version: opts.Version, Identification: opts.Identification,
		Shutdown: shutdown, Restart: shutdown,
		Reread: func() ([]string, []string, []string, error) {
			return nil, nil, nil, fmt.Errorf("%w: %w", supervisorrpc.ErrCantReread, notHere)
		},
		AddGroup:    func(context.Context, string) error { return notHere },
		RemoveGroup: func(context.Context, string) error { return notHere },
	})

	mux := http.NewServeMux()
	mux.Handle("/RPC2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// authorizeRPC asks Options.Authorize with the request.
		s.rpc.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, r)))
	}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.routes.Handler(r); pattern != "" {
			s.routes.ServeHTTP(w, r)
			return
		}
		if s.live.Match(r.URL.Path) {
			s.live.ServeHTTP(w, r)
			return
		}
		s.restAPI.ServeHTTP(w, r)
	}))
	// Callers are resolved once per request: with no key store, everyone
	// is allowed what Authorize allows.
	s.handler = (&auth.Authorizer{}).Middleware(mux)
	return s
}

// Handler returns the HTTP handler to serve: every API, and what
// HandleFunc and RegisterRPC add, also after Handler is called.
func (s *Server) Handler() http.Handler { return s.handler }

// HandleFunc adds a route, an http.ServeMux pattern ("GET /hello/{name}"),
// answered by h once Options.Authorize allows need. The target is the
// pattern's {target} wildcard when it has one (a session or session.job),
// else "". A refusal is answered 401 or 403 with a JSON body, as the
// built-in routes answer. Routes added here win over built-in ones with
// the same path; a pattern registered twice panics, as with ServeMux.
func (s *Server) HandleFunc(pattern string, need Permission, h http.HandlerFunc) {
	s.routes.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Authorize != nil && need != Public {
			if err := s.opts.Authorize(r, need, r.PathValue("target")); err != nil {
				refuse(w, err)
				return
			}
		}
		h(w, r)
	})
}

func refuse(w http.ResponseWriter, err error) {
	status, code := http.StatusForbidden, "forbidden"
	if errors.Is(err, ErrUnauthorized) {
		status, code = http.StatusUnauthorized, "unauthorized"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": code, "errno": status, "reason": err.Error()})
}

// RegisterRPC adds the XML-RPC methods namespace.NAME for every NAME in
// methods; perms gives what each needs (a method not in perms needs
// Admin). The target of a Read, Write or Manage check is the method's
// first argument when it is a string, else "". Method names follow
// supervisor's rules: no dot, not starting with "_". A namespace
// registered twice, "system" or "supervisor" is an error.
func (s *Server) RegisterRPC(namespace string, methods map[string]Method, perms map[string]Permission) error {
	if namespace == "" || strings.ContainsAny(namespace, ". \t\r\n") {
		return fmt.Errorf("xml-rpc namespace %q: not a valid namespace", namespace)
	}
	for name := range methods {
		if name == "" || strings.ContainsAny(name, ". \t\r\n") || strings.HasPrefix(name, "_") {
			return fmt.Errorf("xml-rpc method %q: not a valid method name (no dot, not starting with _)", namespace+"."+name)
		}
		if methods[name] == nil {
			return fmt.Errorf("xml-rpc method %q: nil", namespace+"."+name)
		}
	}
	for name := range perms {
		if _, ok := methods[name]; !ok {
			return fmt.Errorf("xml-rpc namespace %q: permission for %q, which is not a method", namespace, name)
		}
	}
	s.mu.Lock()
	if namespace == "system" || namespace == "supervisor" || s.namespace[namespace] {
		s.mu.Unlock()
		return fmt.Errorf("xml-rpc namespace %q: already registered", namespace)
	}
	s.namespace[namespace] = true
	for name := range methods {
		need, ok := perms[name]
		if !ok {
			need = Admin
		}
		s.rpcPerms[namespace+"."+name] = need
	}
	s.mu.Unlock()
	for name, m := range methods {
		s.rpc.Register(namespace+"."+name, xmlrpc.Method{Call: func(ctx context.Context, args []any) (any, error) {
			v, err := m(ctx, args)
			if err == nil {
				return v, nil
			}
			if f, ok := errors.AsType[*Fault](err); ok {
				return nil, &xmlrpc.Fault{Code: f.Code, String: xmlrpc.FaultName(f.Code) + ": " + f.Message}
			}
			if f, ok := errors.AsType[*xmlrpc.Fault](err); ok {
				return nil, f
			}
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, xmlrpc.Faultf(xmlrpc.Failed, "%v", err)
		}})
	}
	return nil
}

// authorizeRPC is the XML-RPC server's hook: a registered method's
// permission, else what supervisor's method needs (supervisorrpc.Need),
// asked of Options.Authorize with the request the call came in.
func (s *Server) authorizeRPC(ctx context.Context, method string, args []any) error {
	if s.opts.Authorize == nil {
		return nil
	}
	r, ok := ctx.Value(requestKey{}).(*http.Request)
	if !ok {
		return xmlrpc.Faultf(xmlrpc.Failed, "forbidden: no request")
	}
	target := ""
	if len(args) > 0 {
		target, _ = args[0].(string)
	}
	s.mu.RLock()
	need, ok := s.rpcPerms[method]
	s.mu.RUnlock()
	if !ok {
		level, t, identified := supervisorrpc.Need(method, args)
		switch {
		case identified:
			need = Public
		case level == auth.LevelRead:
			need = Read
		case level == auth.LevelWrite:
			need = Write
		case level == auth.LevelManage && t == "*":
			need = ManageAll
		case level == auth.LevelManage:
			need = Manage
		default:
			need = Admin
		}
		target = t
	}
	if need == Public {
		return nil
	}
	if need == ManageAll || need == Admin {
		target = ""
	}
	if err := s.opts.Authorize(r, need, target); err != nil {
		return xmlrpc.Faultf(xmlrpc.Failed, "forbidden: %s needs %s: %v", method, need, err)
	}
	return nil
}

type requestKey struct{}
