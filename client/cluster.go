package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// NodeInfo is one node of a gafferd cluster, as GET /cluster/nodes lists
// it.
type NodeInfo struct {
	Name     string    `json:"name"`
	Origin   string    `json:"origin"`  // the node's own API URL
	Version  string    `json:"version"` // its gafferd version
	Started  time.Time `json:"started"`
	Sessions []string  `json:"sessions"`
	Jobs     []NodeJob `json:"jobs"`
}

// NodeJob is one job of a cluster node.
type NodeJob struct {
	Name    string `json:"name"` // session.job
	Running int    `json:"running"`
	Target  int    `json:"target"`
	Pids    []int  `json:"pids"`
	State   string `json:"state"` // running, stopped, waiting or inactive
}

// ClusterNodes lists every node of the cluster the gafferd belongs to,
// itself included. A gafferd without clustering answers 404 (an *Error with
// Status 404 and Reason "no_cluster").
func (c *Client) ClusterNodes(ctx context.Context) ([]NodeInfo, error) {
	var out struct {
		Nodes []NodeInfo `json:"nodes"`
	}
	err := c.do(ctx, http.MethodGet, "/cluster/nodes", nil, &out)
	return out.Nodes, err
}

// Node returns a client of the cluster node named name, reached through
// this client's gafferd: every request goes to /cluster/<name>/<path> and
// the gafferd forwards it. Streams (websocket channels) are not forwarded.
func (c *Client) Node(name string) (*Client, error) {
	if name == "" || strings.ContainsAny(name, "/ \t\r\n") {
		return nil, fmt.Errorf("node name %q: want a non-empty name without '/' or spaces", name)
	}
	n := *c
	n.base = c.base + "/cluster/" + url.PathEscape(name)
	return &n, nil
}
