package rest

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gafferhq/gaffer/internal/cluster"
)

// Cluster is what the /cluster routes need of this node's cluster
// membership (*cluster.Node).
type Cluster interface {
	Nodes() []cluster.NodeInfo
	Do(ctx context.Context, node string, r *http.Request) (*http.Response, error)
}

// clusterNodes answers GET /cluster/nodes: every node of the registry.
func (a *api) clusterNodes(w http.ResponseWriter, r *http.Request) error {
	if a.cluster == nil {
		return errNoCluster
	}
	return writeJSON(w, http.StatusOK, map[string]any{"nodes": a.cluster.Nodes()})
}

var errNoCluster = &apiError{Status: http.StatusNotFound, Code: "no_cluster", Reason: "this gafferd is not in a cluster"}

// clusterProxy answers /cluster/{node}/{path...}: the request, with the
// caller's X-Api-Key, runs on node's API, which checks the key itself.
func (a *api) clusterProxy(w http.ResponseWriter, r *http.Request) error {
	if a.cluster == nil {
		return errNoCluster
	}
	uri := "/" + r.PathValue("path")
	if r.URL.RawQuery != "" {
		uri += "?" + r.URL.RawQuery
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, uri, http.MaxBytesReader(w, r.Body, cluster.MaxBody))
	if err != nil {
		return badRequest(err.Error())
	}
	out.Header = r.Header.Clone()
	resp, err := a.cluster.Do(r.Context(), r.PathValue("node"), out)
	if err != nil {
		return clusterError(err)
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
	return nil
}

func clusterError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, cluster.ErrTooLarge):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Reason: err.Error(), Err: err}
	case errors.Is(err, cluster.ErrUnknownNode):
		return &apiError{Status: http.StatusNotFound, Code: "node_not_found", Reason: err.Error(), Err: err}
	case errors.Is(err, cluster.ErrTimeout):
		return &apiError{Status: http.StatusGatewayTimeout, Code: "node_timeout", Reason: err.Error(), Err: err}
	case errors.Is(err, cluster.ErrBadName):
		return badRequest(err.Error())
	}
	return &apiError{Status: http.StatusBadGateway, Code: "cluster_error", Reason: err.Error(), Err: err}
}
