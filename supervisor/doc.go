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
// # Shutdown
//
// When Run's context ends, jobs stop in levels, as supervisord stops its
// process groups: supervisor programs group by group from the highest
// Program.GroupPriority down (equal priorities by group name, reversed),
// gaffer jobs by descending Priority, the jobs of one level together. The
// next level gets its stop signal when the last process of the current one
// is reaped; nothing is started or restarted meanwhile, and each level takes
// at most its processes' graceful timeouts.
package supervisor
