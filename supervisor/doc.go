// Package supervisor is gaffer's engine: it keeps the processes of jobs
// alive. A Go program can embed it as gaffer's Manager could be embedded.
//
// A job (gaffer's process template) lives in a session; its full name is
// "session.job". Each spawned process gets an internal pid (1, 2, 3, …),
// distinct from its OS pid and never reused during a Supervisor's life.
//
// # Concurrency
//
// All mutable state — jobs, processes, targets, deadlines — is owned by the
// goroutine running Run. Every exported method sends a closure to that loop
// and waits for it (or for its context), so operations are serialized: many
// clients issuing start/stop/scale at once cannot interleave inside one. The
// loop never blocks: it spawns with fork/exec, signals, and reaps exits it
// learns of through SIGCHLD; output is copied by one goroutine per stream,
// and input is written by one goroutine per pipe. Its single timer is armed
// only for the earliest pending deadline (a kill after graceful_timeout, the
// end of a flapping pause or a backoff delay), so an idle supervisor makes no
// wake-ups.
//
// Events are published on a bus with a bounded queue per subscriber; a slow
// subscriber loses its own events (DropOldest) or its subscription
// (CloseSub), never anyone else's.
//
// # Lifecycle of a job
//
//	         Load(start=false)            StartJob / Load(start=true)
//	(absent) ─────────────────► stopped ──────────────────────────────► running
//	                              ▲  ▲                                    │ │
//	                   StopJob ───┘  └── flapping gives up ───────────────┘ │
//	                                                                        │
//	              paused (retry_in) ◄── flapping: exits within window ──────┘
//	                     └──────────── retry_in over: spawn numprocesses ──► running
//
// While running, every exit of a supervised process is followed at once by a
// spawn that brings the job back to its target (unless flapping or the
// optional Backoff delays it). Committed processes are never restarted.
//
// # Stopping a process
//
// SIGTERM and SIGCONT go to its process group and to every descendant that
// left the group (setsid), snapshotted from /proc; SIGKILL follows at the
// graceful timeout. When the process is reaped, whatever is left in its group
// and those descendants get SIGKILL, so a stop leaves no orphan. Children get
// a parent-death signal, so a gafferd killed with SIGKILL takes them along
// (except detached jobs).
//
// # Sockets
//
// A job's Sockets are listening sockets the supervisor owns (sockets.go):
// opened at the job's first spawn, kept while processes come and go, shared
// by every job naming the same network+address, passed as fd 0 (FastCGI)
// or at fd 3, 4, … with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. Each
// loaded job and each live process holds a reference; the socket closes
// when the last one goes (unload, a config that drops it once the old
// processes are reaped, or the end of Run).
//
// # Shutdown
//
// When Run's context ends, jobs stop in levels, as supervisord stops its
// process groups: supervisor programs group by group from the highest
// Program.GroupPriority down (equal priorities by group name, reversed),
// gaffer jobs by descending Priority, the jobs of one level together. The
// next level gets its stop signal when the last process of the current one
// is reaped; nothing is started or restarted meanwhile, and each level takes
// at most its processes' graceful timeouts. Dependents stop before their
// dependencies: a level also takes the jobs depending on its jobs, and a
// job is signalled once the jobs depending on it have no process left.
//
// # Dependencies and health
//
// A job with DependsOn is held (waiting, with a reason such as "waiting for
// db: healthy") until every dependency's condition holds: started (for at
// least Delay), healthy (readiness), or completed (a one-shot that exited 0).
// The loop keeps a reverse index of dependents and re-evaluates exactly the
// dependents of a job whose state changed; a Delay arms the single timer.
// A dependency with Propagate stops its dependent when it dies, stops or
// restarts, and starts it again once the condition holds. Loads and updates
// that would make a cycle fail with ErrCycle. Readiness and liveness probes
// run per process (internal/probe); their reports enter the loop as
// requests. See depsched.go and probes.go.
package supervisor
