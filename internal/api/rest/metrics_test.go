package rest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/rest"
)

func TestMetricsRouteIsAuthorizedAsManageAll(t *testing.T) {
	var asked []rest.Permission
	deny := false
	s := newServer(t, rest.Options{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "gaffer_up 1")
		}),
		Authorize: func(r *http.Request, need rest.Permission, target string) error {
			asked = append(asked, need)
			if deny {
				return fmt.Errorf("no key: %w", rest.ErrUnauthorized)
			}
			return nil
		},
	})
	status, _, body := s.do("GET", "/metrics", "")
	if status != http.StatusOK || !strings.Contains(body, "gaffer_up 1") {
		t.Errorf("GET /metrics = %d %q, want the metrics handler's answer", status, body)
	}
	if len(asked) != 1 || asked[0] != rest.ManageAll {
		t.Errorf("GET /metrics asked for %v, want [ManageAll]", asked)
	}
	deny = true
	if status, _, body := s.do("GET", "/metrics", ""); status != http.StatusUnauthorized || strings.Contains(body, "gaffer_up") {
		t.Errorf("refused GET /metrics = %d %q, want 401 without metrics", status, body)
	}
	if status, _, _ := s.do("POST", "/metrics", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", status)
	}
}

func TestMetricsRouteWithoutHandlerIsNotFound(t *testing.T) {
	s := newServer(t, rest.Options{})
	if status, _, body := s.do("GET", "/metrics", ""); status != http.StatusNotFound {
		t.Errorf("GET /metrics without Options.Metrics = %d %s, want 404", status, body)
	}
}
