package rest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/stats"
	"github.com/gafferhq/gaffer/supervisor"
)

// Permission is what a route needs from the caller (gaffer-http-api.md §3).
// Each level implies the ones before it, except Public which needs nothing.
//
//go:generate stringer -type=Permission
type Permission int

const (
	Public    Permission = iota // anyone: /, /version, /ping
	Read                        // read a job or process: "read" on the target
	Write                       // write to a job's processes (streams; later)
	Manage                      // change a job or session: "manage" on the target
	ManageAll                   // list everything: admin, or "manage" on "*"
	Admin                       // keys and users (later)
)

// Sentinels an Authorize function wraps to choose the answer: 401 for a
// missing or unusable credential, 403 for a caller who may not do this.
// Any other error from Authorize is treated as ErrForbidden.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// Options configure the handler. The zero value is usable.
type Options struct {
	// Sampler reads process stats; a new one when nil. Share one with other
	// APIs so their CPU percentages have the same baselines.
	Sampler *stats.Sampler
	// Version is reported by GET / and GET /version ("dev" when empty).
	Version string
	// Authorize decides whether the request may use a route that needs
	// permission need on target: "" for Public and ManageAll routes, a
	// session name, or a full job name "session.job" (for process routes,
	// the process's job). It is called for every route except OPTIONS; nil
	// allows everything. Return an error wrapping ErrUnauthorized or
	// ErrForbidden to refuse.
	Authorize func(r *http.Request, need Permission, target string) error
	// MaxBody limits request bodies in bytes (DefaultMaxBody when 0);
	// larger bodies are answered 413.
	MaxBody int64
	// Metrics serves GET /metrics (Prometheus), behind Authorize like the
	// other read-everything routes; nil answers 404.
	Metrics http.Handler
	// Auth serves /auth, /auth/permissions, /keys and /users (auth.go);
	// nil, or keys not required, answers those 404 (/auth/permissions:
	// everything allowed).
	Auth *auth.Authorizer
	// Cluster serves /cluster/nodes and /cluster/{node}/… (cluster.go);
	// nil answers 404.
	Cluster Cluster
}

// route is one line of the API: a Go ServeMux pattern, the permission it
// needs, how to find the target of that permission, and the handler.
type route struct {
	pattern string
	need    Permission
	target  func(*api, *http.Request) (string, error)
	serve   func(*api, http.ResponseWriter, *http.Request) error
}

// routes is the whole API (gaffer-http-api.md §4). Patterns that start with
// {pid} are only reached by paths whose first segment is all digits.
var routes = []route{
	{"GET /{$}", Public, noTarget, (*api).welcome},
	{"GET /version", Public, noTarget, (*api).versionInfo},
	{"GET /ping", Public, noTarget, (*api).ping},

	{"GET /sessions", ManageAll, noTarget, (*api).sessions},
	{"GET /jobs", ManageAll, noTarget, (*api).jobs},
	{"GET /pids", ManageAll, noTarget, (*api).allPids},
	{"GET /metrics", ManageAll, noTarget, (*api).metrics},
	{"GET /deps", ManageAll, noTarget, (*api).deps},

	{"GET /jobs/{s}", Manage, sessionTarget, (*api).sessionJobs},
	{"POST /jobs/{s}", Manage, sessionTarget, (*api).load},

	{"HEAD /jobs/{s}/{j}", Read, jobTarget, (*api).jobExists},
	{"GET /jobs/{s}/{j}", Read, jobTarget, (*api).jobInfo},
	{"PUT /jobs/{s}/{j}", Manage, jobTarget, (*api).update},
	{"DELETE /jobs/{s}/{j}", Manage, jobTarget, (*api).unload},
	{"GET /jobs/{s}/{j}/stats", Read, jobTarget, (*api).jobStats},
	{"GET /jobs/{s}/{j}/numprocesses", Read, jobTarget, (*api).numProcesses},
	{"POST /jobs/{s}/{j}/numprocesses", Manage, jobTarget, (*api).scale},
	{"GET /jobs/{s}/{j}/pids", Read, jobTarget, (*api).jobPids},
	{"POST /jobs/{s}/{j}/signal", Manage, jobTarget, (*api).signalJob},
	{"GET /jobs/{s}/{j}/state", Read, jobTarget, (*api).state},
	{"POST /jobs/{s}/{j}/state", Manage, jobTarget, (*api).setState},
	{"POST /jobs/{s}/{j}/commit", Manage, sessionTarget, (*api).commit},

	{"HEAD /{pid}", Read, processTarget, (*api).processExists},
	{"GET /{pid}", Read, processTarget, (*api).process},
	{"DELETE /{pid}", Manage, processTarget, (*api).stopProcess},
	{"POST /{pid}/signal", Manage, processTarget, (*api).signalProcess},
	{"GET /{pid}/stats", Read, processTarget, (*api).processStats},

	// Keys and users (auth.go): the handlers check what depends on the
	// key or user named in the path.
	{"GET /auth", Public, noTarget, (*api).authKey},
	{"GET /auth/permissions", Public, noTarget, (*api).permissions},
	{"GET /keys", Admin, noTarget, (*api).listKeys},
	{"POST /keys", Public, noTarget, (*api).createKey},
	{"GET /keys/{key}", Public, noTarget, (*api).getKey},
	{"DELETE /keys/{key}", Public, noTarget, (*api).deleteKey},
	{"GET /users", Admin, noTarget, (*api).listUsers},
	{"POST /users", Public, noTarget, (*api).createUser},
	{"GET /users/{u}", Public, noTarget, (*api).getUser},
	{"PUT /users/{u}", Public, noTarget, (*api).updateUser},
	{"DELETE /users/{u}", Public, noTarget, (*api).deleteUser},
	{"PUT /users/{u}/password", Public, noTarget, (*api).setUserPassword},
	{"PUT /users/{u}/key", Public, noTarget, (*api).setUserKey},

	// Cluster (cluster.go): the node named in the path checks the key.
	{"GET /cluster/nodes", ManageAll, noTarget, (*api).clusterNodes},
	{"GET /cluster/{node}/{path...}", Public, noTarget, (*api).clusterProxy},
	{"HEAD /cluster/{node}/{path...}", Public, noTarget, (*api).clusterProxy},
	{"POST /cluster/{node}/{path...}", Public, noTarget, (*api).clusterProxy},
	{"PUT /cluster/{node}/{path...}", Public, noTarget, (*api).clusterProxy},
	{"DELETE /cluster/{node}/{path...}", Public, noTarget, (*api).clusterProxy},
}

// api is the handler. Immutable after New.
type api struct {
	sup           *supervisor.Supervisor
	sampler       *stats.Sampler
	serverVersion string
	authorizer    func(*http.Request, Permission, string) error
	maxBody       int64
	metricsH      http.Handler
	auth          *auth.Authorizer // nil: no keys and users
	cluster       Cluster          // nil: not in a cluster

	named   *http.ServeMux // routes whose first segment is a name (or none)
	pids    *http.ServeMux // routes whose first segment is a pid
	methods []string       // every method of the table, for 405 and OPTIONS
}

// New returns the HTTP handler of gaffer's API over sup.
func New(sup *supervisor.Supervisor, opts Options) http.Handler {
	a := &api{sup: sup, sampler: opts.Sampler, serverVersion: opts.Version,
		authorizer: opts.Authorize, maxBody: opts.MaxBody, metricsH: opts.Metrics, auth: opts.Auth, cluster: opts.Cluster,
		named: http.NewServeMux(), pids: http.NewServeMux()}
	if a.sampler == nil {
		a.sampler = stats.NewSampler()
	}
	if a.serverVersion == "" {
		a.serverVersion = "dev"
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBody
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		mux := a.named
		if strings.HasPrefix(path, "/{pid}") {
			mux = a.pids
		}
		mux.Handle(rt.pattern, a.handler(rt))
		if !slices.Contains(a.methods, method) {
			a.methods = append(a.methods, method)
		}
	}
	// Allow headers list methods in the usual order, not the table's.
	rank := map[string]int{http.MethodGet: 1, http.MethodHead: 2, http.MethodPost: 3, http.MethodPut: 4, http.MethodDelete: 5}
	slices.SortStableFunc(a.methods, func(x, y string) int { return rank[x] - rank[y] })
	return a
}

func (a *api) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.authorize(rt, r)
		if err == nil {
			err = rt.serve(a, w, r)
		}
		if err != nil {
			writeError(w, r, err)
		}
	})
}

// authorize is the one place where Options.Authorize is consulted.
func (a *api) authorize(rt route, r *http.Request) error {
	if a.authorizer == nil {
		return nil
	}
	target, err := rt.target(a, r)
	if err != nil {
		return err
	}
	err = a.authorizer(r, rt.need, target)
	if err != nil && !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrForbidden) {
		err = fmt.Errorf("%w: %w", ErrForbidden, err) // fail closed
	}
	return err
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header(), r)
	mux := a.muxFor(r.URL.Path)
	if r.Method == http.MethodOptions {
		// Preflights carry no credentials, so they are answered before
		// authorization (the reference's 401 here is a defect, §1).
		if len(a.allowed(mux, r)) == 0 {
			writeError(w, r, errNoRoute)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, pattern := mux.Handler(r); pattern == "" {
		if allowed := a.allowed(mux, r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(append(allowed, http.MethodOptions), ", "))
			writeError(w, r, errMethod)
			return
		}
		writeError(w, r, errNoRoute)
		return
	}
	if r.ContentLength > a.maxBody {
		writeError(w, r, errTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	mux.ServeHTTP(w, r)
}

// muxFor picks the process routes for a path whose first segment is all
// digits, which is how gaffer's `/([0-9]+)` routes are told from names.
func (a *api) muxFor(path string) *http.ServeMux {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if first == "" || strings.TrimLeft(first, "0123456789") != "" {
		return a.named
	}
	return a.pids
}

// allowed lists the methods the path has a route for.
func (a *api) allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range a.methods {
		probe := r.WithContext(r.Context()) // shallow copy; only Method changes
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	if slices.Contains(out, http.MethodGet) && !slices.Contains(out, http.MethodHead) {
		out = append(out, http.MethodHead) // GET patterns serve HEAD too
	}
	return out
}

// setCORS writes gaffer's CORS headers (§1), on every response.
func setCORS(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "POST, GET, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Access-Control-Allow-Headers", "X-Requested-With, X-HTTP-Method-Override, Content-Type, Accept, Authorization")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

// metrics serves Options.Metrics.
func (a *api) metrics(w http.ResponseWriter, r *http.Request) error {
	if a.metricsH == nil {
		return errNoRoute
	}
	a.metricsH.ServeHTTP(w, r)
	return nil
}

// Authorization targets.

func noTarget(*api, *http.Request) (string, error) { return "", nil }

func sessionTarget(_ *api, r *http.Request) (string, error) { return r.PathValue("s"), nil }

func jobTarget(_ *api, r *http.Request) (string, error) { return jobName(r) }

// processTarget is the job of the pid: permissions are granted on jobs.
func processTarget(a *api, r *http.Request) (string, error) {
	pid, err := pidOf(r)
	if err != nil {
		return "", err
	}
	info, err := a.sup.Process(r.Context(), pid)
	if err != nil {
		return "", err
	}
	return info.Name, nil
}
