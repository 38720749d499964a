package cluster

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Options configure a cluster node.
type Options struct {
	// URL is the NATS server to join (nats://host:port, tls://host:port,
	// or a comma-separated list). Leave it empty with Embedded.
	URL string
	// Embedded runs a NATS server inside this process and joins it; other
	// nodes then join this node's Listen address.
	Embedded bool
	// Listen is the embedded server's host:port (default 127.0.0.1:4222;
	// port 0 picks a free port, see Node.ClientURL).
	Listen string
	// Name is this node's name, unique in the cluster (default: host name).
	Name string
	// Origin is this node's own API URL, as shown to other nodes.
	Origin string
	// Version is reported in NodeInfo.
	Version string
	// TLS, when set, is used to connect to the NATS server (and, with
	// Embedded, served by the embedded server for its clients).
	TLS *tls.Config
	// CredsFile is a NATS user credentials file (JWT + NKey seed);
	// NKeySeedFile a file holding an NKey user seed. At most one of them.
	CredsFile, NKeySeedFile string
	// Logger receives operational messages; slog.Default() when nil.
	Logger *slog.Logger

	// heartbeat overrides the heartbeat period in tests (500 ms when 0).
	heartbeat time.Duration
}

// NodeInfo is what a node publishes about itself.
type NodeInfo struct {
	Name     string     `json:"name"`
	Origin   string     `json:"origin"`
	Version  string     `json:"version"`
	Started  time.Time  `json:"started"`
	Sessions []string   `json:"sessions"`
	Jobs     []JobEntry `json:"jobs"`
}

// JobEntry is one job of a node.
type JobEntry struct {
	Name    string `json:"name"` // session.job
	Running int    `json:"running"`
	Target  int    `json:"target"`
	Pids    []int  `json:"pids"`
	// State is "running" (processes up), "stopped", "waiting" (flapping
	// pause, backoff or dependencies: see the node's API) or "idle"
	// (started, no process).
	State string `json:"state"`
}

// RegistryEvent is one change of the registry seen by Watch.
type RegistryEvent struct {
	Kind string   `json:"kind"` // "add", "update" or "remove"
	Node NodeInfo `json:"node"`
}

// Registry event kinds.
const (
	EventAdd    = "add"
	EventUpdate = "update"
	EventRemove = "remove"
)
