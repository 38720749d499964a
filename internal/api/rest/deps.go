package rest

import (
	"net/http"
)

// deps answers GET /deps: every job with its state, waiting reason, health
// and dependencies (each with its condition and whether it holds now).
//
//	{"jobs": [{"name": "default.web", "state": "WAITING",
//	           "waiting": "waiting for db: healthy", "depends_on": [
//	             {"job": "default.db", "condition": "healthy", "delay": 0,
//	              "propagate": false, "loaded": true, "satisfied": false}]}]}
func (a *api) deps(w http.ResponseWriter, r *http.Request) error {
	view, err := a.sup.Dependencies(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"jobs": view})
}
