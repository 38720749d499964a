package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/supervisor"
)

// apiError is an answer: Code set gives 0.4.4's {"error": code} (with
// "reason" when known); Code empty gives the framework shape
// {"error": status, "reason": text} used for routing and auth failures.
type apiError struct {
	Status int
	Code   string
	Reason string
	Allow  string // Allow header of a 405
	Err    error
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

var (
	errNoRoute          = &apiError{Status: http.StatusNotFound, Code: "not_found"}
	errResourceNotFound = &apiError{Status: http.StatusNotFound, Code: "resource_not_found"}
	errTooLarge         = &apiError{Status: http.StatusRequestEntityTooLarge, Reason: http.StatusText(http.StatusRequestEntityTooLarge)}
)

func legacyError(status int, code, reason string) error {
	return &apiError{Status: status, Code: code, Reason: reason}
}

func badValue(reason string) error { return legacyError(http.StatusBadRequest, "bad_value", reason) }

func badEventType(reason string) error {
	return legacyError(http.StatusNotFound, "bad_event_type", reason)
}

func invalidJSON(reason string) error {
	return legacyError(http.StatusBadRequest, "invalid_json", reason)
}

func invalidProcessInfo(reason string) error {
	return legacyError(http.StatusBadRequest, "invalid_process_info", reason)
}

func methodNotAllowed(methods []string) error {
	return &apiError{Status: http.StatusMethodNotAllowed, Reason: http.StatusText(http.StatusMethodNotAllowed),
		Allow: strings.Join(append(methods, http.MethodOptions), ", ")}
}

// apiErrorOf is the one mapping from errors to answers.
func apiErrorOf(err error) *apiError {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e
	}
	code := func(status int, c string) *apiError {
		return &apiError{Status: status, Code: c, Reason: err.Error(), Err: err}
	}
	framework := func(status int, reason string) *apiError {
		return &apiError{Status: status, Reason: reason, Err: err}
	}
	switch {
	case errors.Is(err, rest.ErrUnauthorized):
		return framework(http.StatusUnauthorized, "unauthorized")
	case errors.Is(err, rest.ErrForbidden):
		return framework(http.StatusForbidden, "forbidden")
	case errors.Is(err, supervisor.ErrStdinClosed):
		return code(http.StatusForbidden, "forbidden_write")
	case errors.Is(err, supervisor.ErrNotFound), errors.Is(err, supervisor.ErrProcessFinished):
		return code(http.StatusNotFound, "not_found")
	case errors.Is(err, supervisor.ErrConflict):
		return code(http.StatusConflict, "conflict")
	case errors.Is(err, supervisor.ErrBadSignal), errors.Is(err, supervisor.ErrBadScale):
		return code(http.StatusBadRequest, "bad_value")
	case errors.Is(err, supervisor.ErrMissingName), errors.Is(err, supervisor.ErrMissingCmd),
		errors.Is(err, supervisor.ErrBadName), errors.Is(err, supervisor.ErrBadValue),
		errors.Is(err, supervisor.ErrBadRequest):
		return code(http.StatusBadRequest, "invalid_process_info")
	case errors.Is(err, supervisor.ErrInputFull):
		return code(http.StatusServiceUnavailable, "input_full")
	case errors.Is(err, supervisor.ErrShuttingDown), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return framework(http.StatusServiceUnavailable, err.Error())
	}
	return framework(http.StatusInternalServerError, err.Error())
}

// writeError answers err; HEAD answers carry the status only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apiErrorOf(err)
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	var body any
	if e.Code != "" {
		body = struct {
			Error  string `json:"error"`
			Reason string `json:"reason,omitempty"`
		}{e.Code, e.Reason}
	} else {
		body = struct {
			Error  int    `json:"error"`
			Reason string `json:"reason"`
		}{e.Status, e.Error()}
	}
	b, _ := json.Marshal(body) // strings and ints only
	writeBody(w, e.Status, jsonType, b)
}

const jsonType = "application/json; charset=UTF-8"

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBody(w, status, jsonType, b)
	return nil
}

func writeBody(w http.ResponseWriter, status int, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

var okBody = map[string]bool{"ok": true}
