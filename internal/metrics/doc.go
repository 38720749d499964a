// Package metrics exports gafferd's state and activity in the Prometheus
// text format (GET /metrics).
//
// # What this package owns
//
//   - The registry: gaffer's metrics, plus the standard Go runtime and
//     process collectors of client_golang.
//   - An engine collector that, at scrape time only, takes one
//     [supervisor.Supervisor.Census] (one request to the loop, whatever the
//     number of jobs) and samples CPU and memory of the live pids it lists
//     with the shared [stats.Sampler] (one /proc/<pid>/stat read each; no
//     other /proc walk). Nothing is sampled between scrapes: an idle,
//     unscraped daemon does no work for metrics.
//   - The [supervisor.Observer] that counts spawns, exits (by exit code) and
//     restarts per job, and times fork/exec and reaping, as the loop reports
//     them.
//   - The HTTP middleware counting API requests by ServeMux pattern.
//
// # Concurrency contract
//
// Observer methods run on the supervisor's loop: they take one short mutex
// (per-job counters) or update lock-free histograms, and never block on a
// scrape: a scrape copies the counters under that mutex and does its /proc
// reads and encoding without it. Every method of [Metrics] is safe for
// concurrent use.
//
// # Cardinality
//
// Label values are bounded by what the daemon runs: jobs, sessions, live
// pids (a process's series disappear when it is reaped), exit codes
// (0–255) and route patterns — never raw request paths. Counters of a job
// that was unloaded are dropped at the next scrape.
package metrics
