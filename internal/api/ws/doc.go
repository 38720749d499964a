// Package ws serves gaffer's live channels over WebSocket
// (gaffer-events.md §3–§8):
//
//   - /channel/websocket: one JSON text message per frame. Clients send
//     NOP, SUB and UNSUB (topics EVENTS, EVENTS:<pattern>, JOB:<job>,
//     PROCESS:<pid>, STATS:<pid|job>, STREAM:<pid>[.<label>]) and CMD
//     (the command table of §5.4, plus the "tail" extension); the server
//     sends gaffer:subscription_success/_error, gaffer:event,
//     gaffer:command_success/_error and gaffer:error. GET /channel answers
//     "Welcome to SockJS!"; SockJS's other transports are not served.
//   - /<pid>/channel[/<label>]?mode=1|2|3: a process's output and input in
//     gaffer's frames, "V1 <type> <id>\0<body>", sent as binary messages
//     (text messages are accepted from clients).
//
// # Slow clients
//
// Each connection has one bounded outgoing queue (Options.QueueSize) and
// one writer goroutine; each subscription reads the event bus through a
// queue of the same size (events.CloseSub) and waits while the outgoing
// queue is full. Publishing never blocks, so a client that cannot keep up
// never slows the supervisor, a child's output pump or other clients: when
// one of its subscription queues overflows, the connection is closed with
// status 1008 (policy violation) and the reason "slow consumer: more than
// N messages queued", after the message being written, without the queued
// ones. STATS topics skip samples while the queue is full instead. A
// client that accepts no data for Options.WriteTimeout is disconnected.
//
// # Origins
//
// The upgrade accepts requests without an Origin header (programs) and
// same-origin requests (Origin host = Host). Web pages of other origins
// are refused with 403 unless listed in Options.OriginPatterns: a page a
// user visits must not drive a gafferd listening on loopback.
//
// # Concurrency
//
// The Handler is immutable after New. Per connection: one goroutine reads
// and serves the client's messages in order (commands run one at a time),
// one writes, and each subscription has one goroutine (a bus forwarder or
// a stats sampler). When the connection ends, every subscription is closed
// and every goroutine has returned before ServeHTTP returns. Connections
// close when gafferd shuts down (status 1001), and per-process channels
// also when their process exits (status 1000, after its last output).
package ws
