package client

import (
	"context"
	"net/http"

	"github.com/gafferhq/gaffer/supervisor"
)

// Dependencies returns every job with its dependencies and whether each
// holds now (GET /deps).
func (c *Client) Dependencies(ctx context.Context) ([]supervisor.DependencyInfo, error) {
	var out struct {
		Jobs []supervisor.DependencyInfo `json:"jobs"`
	}
	if err := c.do(ctx, http.MethodGet, "/deps", nil, &out); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}
