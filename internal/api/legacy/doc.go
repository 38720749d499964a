// Package legacy serves gaffer 0.4.4's HTTP routes (gaffer-http-api.md §10)
// as a compatibility layer over the same supervisor as the 0.5.2 API: what
// gafferctl 0.4 and the 0.4 Python client call — /processes, /status,
// /groups, /watch, /stats, /streams and /wstreams.
//
// # What this package owns
//
//   - The route parser (routes.go): a path segment of digits is a pid
//     (numeric template names are shadowed, as in 0.4.4); /processes/<x>/_<action>[/<arg>]
//     actions; the /watch pattern rules. Handler.Match tells gafferd which
//     paths are legacy; "/", "/ping" and "/version" stay with the 0.5.2
//     handler, so GET / answers the 0.5.2 welcome.
//   - The name mapping: template "group:name" is job "group.name" (group =
//     session), a name without ':' is job "default.name"; listings and
//     events give template names back in that form. A group cannot contain
//     '.', '/' or a space (sessions cannot).
//   - The translation of the core's 0.5.2 events into 0.4.4's catalogue
//     (gaffer-events.md §2.1): load → create, unload → delete,
//     stop_process → stop_pid, plus the proc.<name>.<event> copies of start,
//     stop, spawn, reap, exit and stop_pid. Core events with no 0.4.4
//     equivalent (job.*, proc.<pid>.kill, state changes) are not sent.
//   - Authorization: every route asks Options.Authorize (rest's type) with
//     the permission of its 0.5.2 counterpart: listings ManageAll, reading a
//     template or its stats Read, changing it or its group Manage, stdin
//     and /wstreams Write; a pid's target is its job. POST /processes is
//     checked against the group named in its body.
//
// # Streams and the supervisor
//
// /watch subscribes to the core's bus, /streams and /wstreams to a
// process's output (supervisor.SubscribeOutput), each with a bounded queue
// whose overflow policy is CloseSub: a client that reads slower than
// events arrive loses its stream (the response ends, the WebSocket closes
// with 1011), and the supervisor never waits for it. The end of a process's
// output is learnt from its in-memory tail, closed at EOF after the last
// chunk was published, so a stream ends when the process exits without
// losing the last bytes. Heartbeat tickers and the stats sampling ticker
// exist only while their request is open; every stream also ends when the
// supervisor stops.
//
// # Choices beyond or against the reference
//
//   - Error bodies carry "reason" next to 0.4.4's "error" code. Refusals
//     (401/403), wrong methods (405) and oversize bodies (413) use the 0.5.2
//     framework shape {"error": <status>, "reason": "..."}.
//   - /watch accepts proc/<name>/<event> (the reference refused it);
//     unknown feeds and heartbeats are 400 bad_value instead of a longpoll
//     or a crash; heartbeat=true is Options.Heartbeat (60 s; the reference
//     used 60,000 s on /watch), heartbeat=false or 0 turns it off, and
//     fractions of a second are allowed.
//   - Event-stream events end with a blank line (standard SSE, which
//     browsers need); raw output containing newlines is sent as several
//     "data:" lines.
//   - _signal wants an integer that is a real signal (400 bad_value
//     otherwise, where 0.4.4 crashed); _add/_sub take 0 to 1,000,000; an
//     unknown action on a pid is 404 resource_not_found (0.4.4 said ok).
//   - _restart is the core's reload: fresh processes start at once while the
//     old ones get SIGTERM; a stopped template stays stopped (use _start).
//   - PUT replaces the processes as 0.5.2 does (target = max(new
//     numprocesses, current)); the core emits no "update" event for it.
//   - Stats entries add "id", gaffer's pid ("pid" is the OS pid, as in
//     0.4.4); "children" lists the direct children of the process's main
//     thread (/proc/<pid>/task/<pid>/children), with no grandchildren.
//   - GET /groups lists every session, "default" (templates named without
//     a group) included.
//
// # Concurrency
//
// Handler is immutable after New and safe for concurrent use; each
// streaming request owns its subscription, translator and tickers.
package legacy
