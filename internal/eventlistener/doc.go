// Package eventlistener runs supervisord's event listener pools
// ([eventlistener:x], supervisor-semantics.md §3) on gaffer's core, so that
// existing listeners — superlance's crashmail or memmon, or a few lines of
// Python on supervisor.childutils — work unchanged.
//
// # What this package owns
//
//   - The event types, their hierarchy and payloads: PROCESS_STATE_* from the
//     core's "state" events, PROCESS_LOG_* from process output and
//     PROCESS_COMMUNICATION_* from the blocks the core's output pumps capture
//     (output events of Kind "comm"; the core keeps them out of the log file
//     and splits tokens across reads), TICK_5/60/3600 from its own
//     timer, and SUPERVISOR_STATE_CHANGE_*, PROCESS_GROUP_* and
//     REMOTE_COMMUNICATION from gafferd, which knows about them.
//   - Per pool: the FIFO buffer of buffer_size events (full: the oldest is
//     dropped with an error log line), the global serial and the pool serial.
//   - Per listener process: the protocol state (ACKNOWLEDGED, READY, BUSY,
//     UNKNOWN), parsed from its stdout, and the event in flight.
//
// It does not own the listener processes: they are ordinary supervisor
// programs loaded by gafferd, started, stopped and restarted by the core,
// whose stdout is also logged by the core (supervisor's stdout_logfile of a
// listener). Events reach a listener through Supervisor.Write on its stdin.
//
// # Concurrency contract
//
// All state — pools, buffers, serials, listeners, the tick
// timer — is owned by the goroutine running Run. Its inputs are channels:
// the core's event subscription ("state", "spawn", "exit", "unload"), the
// subscription to all process output, the tick timer, and an inbox that the
// exported methods (SupervisorState, GroupAdded, GroupRemoved,
// RemoteCommunication, SetPools) fill under a mutex and signal through a
// one-slot wake channel. Those methods never block and may be called from
// any goroutine, before Run starts (they are queued) or after it returned
// (they are dropped). The inbox is applied before each event read from the
// core or output queue, so a call made before an action on the supervisor
// is seen before that action's events: call New or SetPools before loading
// the listener jobs of a pool, or their first "READY" is missed. The other
// side of that rule: a call made just after an event was published may
// overtake it if the loop has not read it yet.
//
// The loop never waits on anything but its inputs, except for two short
// requests to the supervisor's own loop: Write (queued by the core, never
// blocking on the child) to send an event, and Program to read a job's log
// settings once per process. The one timer is armed only while some pool
// takes a TICK type, for the next period boundary: otherwise an idle
// gafferd has no wake-up from here.
//
// The subscriptions drop their oldest entries if this loop falls behind by
// thousands of events; a loss is logged as an error, as it may desynchronise
// a listener's protocol.
//
// # Ordering between the two queues
//
// Core events and process output come on separate queues, so a listener's
// output can be read before or after the events around it. Each listener
// process is tracked by its internal pid, which the core never reuses and
// always increases: whichever of its output, spawn or state event comes
// first starts a fresh protocol state (ACKNOWLEDGED), and anything from a
// smaller pid is stale. An exit of a BUSY listener first drains the output
// already queued (its result may be there), then puts the event back at the
// head of the pool buffer. A result written just before dying can still lose
// that race, and the event is sent again: delivery is at least once, as in
// supervisord.
//
// # Differences from supervisord
//
//   - len: in the header counts payload bytes; supervisord counts characters.
//     They differ only for non-ASCII payloads (output in PROCESS_LOG_*, data
//     of REMOTE_COMMUNICATION), where a Python listener reading its text-mode
//     stdin (supervisor.childutils) waits for characters that never come.
//   - Payload data is passed as the bytes the process wrote; supervisord
//     replaces invalid UTF-8 by "Undecodable: b'…'".
//   - Capture mode: a block ends as soon as the end token is complete
//     (supervisord waits for one more byte), and output held back at the end
//     of a stream because it might have started a token is logged
//     (supervisord drops it).
//   - A result line longer than 64 KiB puts the listener in UNKNOWN.
//   - A type listed twice in a pool's events is taken once (supervisord
//     buffers the event twice).
package eventlistener
