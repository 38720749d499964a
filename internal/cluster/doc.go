// Package cluster makes gafferd nodes one cluster over NATS: a registry of
// the nodes and their jobs, every node's events on subjects, and running
// an HTTP request of the API on another node.
//
// # Transport
//
// A node either runs a NATS server in its own process (Options.Embedded,
// bound to loopback unless told otherwise) or joins one (Options.URL), with
// TLS, a credentials file or an NKey seed, and reconnects forever. The
// server does the routing; nodes never talk to each other directly.
//
// # Subjects
//
//	gaffer.reg.hb.<node>      heartbeat, every 500 ms: {name, origin, started, rev}
//	gaffer.reg.info.<node>    the node's full NodeInfo at revision rev, on every change
//	gaffer.reg.bye.<node>     the node is leaving (Close)
//	gaffer.node.<node>.ping   request: is this name in use? (answered with a heartbeat)
//	gaffer.node.<node>.info   request: the node's full NodeInfo now
//	gaffer.api.<node>         request: one HTTP request for the node's API
//	gaffer.evt.<node>.<session>.<job>.<event>   every engine event, as JSON
//
// Each name is made one subject token: '.', '*', '>', white space and
// control characters become '_', and an empty one is "_" (an event of no
// job is gaffer.evt.<node>._._.<event>). A job "app.web.v2" is session
// "app", job "web_v2". Node names must already be valid tokens. So a client
// follows one job on every node with gaffer.evt.*.app.web.>, and one node
// with gaffer.evt.n1.>. The payload is the event as gaffer's JSON message
// (gaffer-events.md) with "node" and "time" added.
//
// # Registry and liveness
//
// Plain publish/subscribe with heartbeats, not a JetStream key-value
// bucket: it needs no JetStream (nor its storage) on the server, and
// liveness is a local timer per peer, precise to the heartbeat, where a
// KV TTL is enforced by the server on its own schedule and a watcher
// learns about expiries late. Each node:
//
//   - publishes its full state when it starts and after every reconnection,
//     then after its own engine's events, coalesced: at most one update per
//     100 ms burst;
//   - sends a heartbeat every 500 ms naming its current revision. A node
//     that hears of an unknown node, a restarted one (new start time) or a
//     revision newer than it holds asks gaffer.node.<node>.info, so a lost
//     update or a server restart heals within one heartbeat;
//   - removes a peer not heard from for 1.5 s (three heartbeats) at that
//     moment, from a timer reset by each heartbeat: a hung or cut-off node
//     leaves every view within 2 s, and one that comes back reappears with
//     its full state.
//
// Before it registers, a node asks gaffer.node.<name>.ping: an answer means
// a live node has the name, and Start fails naming that node's origin.
//
// # Control and keys
//
// Do serializes an HTTP request (method, path and query, headers with
// X-Api-Key, body of at most 1 MiB; see wire.go) and the node named in the
// subject runs it through its own API handler, with the authorization of
// its TCP listeners, then answers status, headers and body; 10 s at most.
// Keys are per node: a key is valid on another node only if that node has
// it too (shared key and user stores). A node with require_key off lets
// every client of the NATS server do everything: secure the server
// (credentials, TLS) or require keys. Streaming endpoints (websockets,
// watch streams) are not carried, and a node does not forward a request
// it received from the cluster.
//
// # Concurrency
//
// The registry is guarded by one mutex, held only to update maps and
// queue events; NATS callbacks never block on the network while holding
// it (state fetches run in their own goroutines). Watchers get their
// events through a queue of their own, so a slow watcher never holds up
// the registry.
package cluster
