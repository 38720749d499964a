// Package rest serves gaffer's 0.5.2 HTTP API (gaffer-http-api.md §4) over a
// supervisor.Supervisor. It is a thin adapter: every handler turns one request
// into one or two calls of the core's public API and the answer into JSON.
//
// # What this package owns
//
//   - The route table (routes in rest.go): method, path, the permission the
//     route needs, the authorization target and the handler, one line each.
//   - Dispatch: `{pid}` segments are digits only, so a path whose first
//     segment is all digits goes to the process routes and every other path
//     to the named routes; two ServeMuxes keep Go's patterns free of the
//     conflicts "/jobs/{s}" and "/{pid}/stats" would otherwise have. Unknown
//     paths (trailing slashes included) are 404, known paths with another
//     method 405 with an Allow header, OPTIONS on a known path 204.
//   - Authorization: one place (api.authorize) calls Options.Authorize for
//     every route, with the Permission of gaffer's §3 table and the target
//     (session, session.job, or the job of a pid). OPTIONS is let through, as
//     browsers send preflights without keys.
//   - The mapping from core errors to HTTP (apiErrorOf in errors.go), the
//     only place that inspects error values.
//   - Stats: process stats are sampled here, outside the core, from the OS
//     pids the core reports (supervisor.OSPids), so reading /proc never holds
//     the supervisor's loop.
//
// # Wire format
//
// JSON bodies have Content-Type "application/json; charset=UTF-8". Errors
// come in gaffer's two shapes:
//
//	manager errors:   {"error": "not_found", "errno": 404, "reason": "job \"app.x\": not_found"}
//	framework errors: {"error": 405, "reason": "Method Not Allowed"}
//
// Manager errors are what the core or a handler reports about the request:
// not_found (404), process_conflict (409), bad_request (400), bad_signal
// (400), bad_operation (400, a bad scale value), stream_not_found (404).
// Framework errors are about routing, auth, body size and failures: 401, 403,
// 404 (unknown route), 405, 413, 500 and 503 (supervisor shutting down).
//
// # Choices beyond or against the reference
//
//   - Every manager error also carries "reason" with the core's message (the
//     reference sends it only for PUT's config errors); clients that read
//     "error" and "errno" only see gaffer's shape.
//   - A bad scale value is 400 {"error":"bad_operation"} (the reference's
//     name for it, where it answered 500); a missing "scale" key or
//     malformed JSON is 400 {"error":"bad_request"}.
//   - Signal values are parsed by supervisor.ParseSignal for both job and
//     process signals: 15, "15", "TERM", "sigterm"; anything else is 400
//     {"error":"bad_signal"}. Both answer 202.
//   - GET /jobs/<s>/<j>/numprocesses answers {"numprocesses": target}; job
//     stats with no process, or with any "N/A" member, report "N/A" for the
//     whole family; PUT honours "start" (default true: a stopped job is
//     started); OPTIONS is 204 on every known route without authorization.
//   - POST .../commit accepts an empty body as {}; POST .../state accepts the
//     digit surrounded by white space (curl and echo add a newline).
//   - Extensions: GET /jobs?info=true answers {"jobs": [job info, ...]} and
//     GET /jobs/<s>?info=true {"sessionid": s, "jobs": [job info, ...]}, so a
//     client can draw a table in one request. Job info also has the core's
//     "stopped", "waiting" and "last_error" fields.
//   - Request bodies are limited (Options.MaxBody, 1 MiB by default): 413.
//
// # Concurrency
//
// The handler returned by New is safe for concurrent use. It keeps no state
// of its own besides its configuration (immutable after New) and the stats
// Sampler, which is safe for concurrent use. Every core call uses the
// request's context, so a client that goes away stops waiting for the loop.
package rest
