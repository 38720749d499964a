// Package lookupd answers gaffer_lookupd's HTTP query API and its live
// registry stream from a cluster registry, so that tools written for
// gaffer 0.5's lookupd (the "gaffer lookup" commands, dashboards, scripts)
// keep working against a gafferd cluster.
//
// There is no lookupd server of its own: nodes do not register over a
// websocket, they join the cluster (internal/cluster), and every answer
// here is computed from Registry.Nodes at request time. The registry
// stream (/lookup/websocket) turns the registry's whole-node events into
// lookupd's fine-grained ones (add_node, identify, add_job, add_process,
// remove_process, remove_job, remove_node) by diffing each node against
// what the listener has already been told.
//
// Concurrency: a Handler is immutable after New and safe for concurrent
// use. Each websocket listener runs one goroutine that owns its view of
// the registry and its connection; a listener that cannot keep up is
// disconnected rather than slowing the registry.
package lookupd
