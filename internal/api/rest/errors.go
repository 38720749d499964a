package rest

import (
	"net/http"

	"github.com/gafferhq/gaffer/internal/api/apierr"
	"github.com/gafferhq/gaffer/supervisor"
)

// apiError is an error together with the response it becomes. Code set
// means gaffer's manager shape {"error": code, "errno": status, "reason"};
// Code empty means the framework shape {"error": status, "reason"}.
type apiError = apierr.Error

// Errors handlers report themselves.
var (
	errNoRoute  = &apiError{Status: http.StatusNotFound, Reason: "not_found"}
	errMethod   = &apiError{Status: http.StatusMethodNotAllowed, Reason: http.StatusText(http.StatusMethodNotAllowed)}
	errTooLarge = &apiError{Status: http.StatusRequestEntityTooLarge, Reason: http.StatusText(http.StatusRequestEntityTooLarge)}
)

// badRequest is gaffer's 400 {"error": "bad_request"} with a reason.
func badRequest(reason string) error {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Reason: reason}
}

// errorRules map errors (core sentinels, auth, context) to HTTP answers.
// Refusals come first: an Authorize error may wrap anything, and must not
// turn into another answer (a 404 would tell what exists).
var errorRules = []apierr.Rule{
	{Is: []error{ErrUnauthorized}, Status: http.StatusUnauthorized, Reason: "unauthorized"},
	{Is: []error{ErrForbidden}, Status: http.StatusForbidden, Reason: "forbidden"},
	{Is: []error{supervisor.ErrStreamNotFound}, Status: http.StatusNotFound, Code: "stream_not_found"},
	{Is: []error{supervisor.ErrNotFound}, Status: http.StatusNotFound, Code: "not_found"},
	{Is: []error{supervisor.ErrConflict}, Status: http.StatusConflict, Code: "process_conflict"},
	{Is: []error{supervisor.ErrBadSignal}, Status: http.StatusBadRequest, Code: "bad_signal"},
	{Is: []error{supervisor.ErrBadScale}, Status: http.StatusBadRequest, Code: "bad_operation"},
	{Is: []error{supervisor.ErrCycle}, Status: http.StatusBadRequest, Code: "dependency_cycle"},
	{Is: []error{supervisor.ErrBadRequest, supervisor.ErrMissingName, supervisor.ErrMissingCmd,
		supervisor.ErrBadName, supervisor.ErrBadValue}, Status: http.StatusBadRequest, Code: "bad_request"},
	{Is: []error{supervisor.ErrStdinClosed}, Status: http.StatusForbidden, Code: "forbidden_write"},
	apierr.Unavailable,
}

// apiErrorOf is the one mapping from errors to HTTP answers.
func apiErrorOf(err error) *apiError { return apierr.Of(err, errorRules) }

// writeError answers err. HEAD answers carry the status only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	apierr.Write(w, r, apiErrorOf(err), func(e *apiError) any {
		return struct {
			Error  string `json:"error"`
			Errno  int    `json:"errno"`
			Reason string `json:"reason,omitempty"`
		}{e.Code, e.Status, e.Reason}
	})
}
