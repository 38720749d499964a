package cluster

import "time"

// SetPaused stops or resumes a node's heartbeats, as a hung node would.
func (n *Node) SetPaused(p bool) { n.setPaused(p) }

// WithHeartbeat sets the heartbeat period of opts.
func WithHeartbeat(opts Options, d time.Duration) Options {
	opts.heartbeat = d
	return opts
}
