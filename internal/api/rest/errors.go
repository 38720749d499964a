package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gafferhq/gaffer/supervisor"
)

// apiError is an error together with the response it becomes. Code set
// means gaffer's manager shape {"error": code, "errno": status, "reason"};
// Code empty means the framework shape {"error": status, "reason"}.
type apiError struct {
	Status int
	Code   string
	Reason string
	Err    error // the cause, for errors.Is; may be nil
}

func (e *apiError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	if e.Code != "" {
		return e.Code
	}
	return http.StatusText(e.Status)
}

func (e *apiError) Unwrap() error { return e.Err }

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

// apiErrorOf is the one mapping from errors (core sentinels, auth, context)
// to HTTP answers.
func apiErrorOf(err error) *apiError {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e
	}
	manager := func(status int, code string) *apiError {
		return &apiError{Status: status, Code: code, Reason: err.Error(), Err: err}
	}
	framework := func(status int, reason string) *apiError {
		return &apiError{Status: status, Reason: reason, Err: err}
	}
	switch {
	// Refusals first: an Authorize error may wrap anything, and must not
	// turn into another answer (a 404 would tell what exists).
	case errors.Is(err, ErrUnauthorized):
		return framework(http.StatusUnauthorized, "unauthorized")
	case errors.Is(err, ErrForbidden):
		return framework(http.StatusForbidden, "forbidden")
	case errors.Is(err, supervisor.ErrStreamNotFound):
		return manager(http.StatusNotFound, "stream_not_found")
	case errors.Is(err, supervisor.ErrNotFound):
		return manager(http.StatusNotFound, "not_found")
	case errors.Is(err, supervisor.ErrConflict):
		return manager(http.StatusConflict, "process_conflict")
	case errors.Is(err, supervisor.ErrBadSignal):
		return manager(http.StatusBadRequest, "bad_signal")
	case errors.Is(err, supervisor.ErrBadScale):
		return manager(http.StatusBadRequest, "bad_operation")
	case errors.Is(err, supervisor.ErrCycle):
		return manager(http.StatusBadRequest, "dependency_cycle")
	case errors.Is(err, supervisor.ErrBadRequest), errors.Is(err, supervisor.ErrMissingName),
		errors.Is(err, supervisor.ErrMissingCmd), errors.Is(err, supervisor.ErrBadName),
		errors.Is(err, supervisor.ErrBadValue):
		return manager(http.StatusBadRequest, "bad_request")
	case errors.Is(err, supervisor.ErrStdinClosed):
		return manager(http.StatusForbidden, "forbidden_write")
	case errors.Is(err, supervisor.ErrShuttingDown), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return framework(http.StatusServiceUnavailable, err.Error())
	}
	return framework(http.StatusInternalServerError, err.Error())
}

// writeError answers err. HEAD answers carry the status only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apiErrorOf(err)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	var body any
	if e.Code != "" {
		body = struct {
			Error  string `json:"error"`
			Errno  int    `json:"errno"`
			Reason string `json:"reason,omitempty"`
		}{e.Code, e.Status, e.Reason}
	} else {
		body = struct {
			Error  int    `json:"error"`
			Reason string `json:"reason"`
		}{e.Status, e.Error()}
	}
	b, _ := json.Marshal(body) // plain structs of strings and ints cannot fail
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}
