package legacy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gafferhq/gaffer/internal/api/apierr"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/supervisor"
)

// apiError is an answer: Code set gives 0.4.4's {"error": code} (with
// "reason" when known); Code empty gives the framework shape
// {"error": status, "reason": text} used for routing and auth failures.
type apiError = apierr.Error

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

// errorRules map errors to 0.4.4's answers, refusals first.
var errorRules = []apierr.Rule{
	{Is: []error{rest.ErrUnauthorized}, Status: http.StatusUnauthorized, Reason: "unauthorized"},
	{Is: []error{rest.ErrForbidden}, Status: http.StatusForbidden, Reason: "forbidden"},
	{Is: []error{supervisor.ErrStdinClosed}, Status: http.StatusForbidden, Code: "forbidden_write"},
	{Is: []error{supervisor.ErrNotFound, supervisor.ErrProcessFinished}, Status: http.StatusNotFound, Code: "not_found"},
	{Is: []error{supervisor.ErrConflict}, Status: http.StatusConflict, Code: "conflict"},
	{Is: []error{supervisor.ErrBadSignal, supervisor.ErrBadScale}, Status: http.StatusBadRequest, Code: "bad_value"},
	{Is: []error{supervisor.ErrMissingName, supervisor.ErrMissingCmd, supervisor.ErrBadName,
		supervisor.ErrBadValue, supervisor.ErrBadRequest}, Status: http.StatusBadRequest, Code: "invalid_process_info"},
	{Is: []error{supervisor.ErrInputFull}, Status: http.StatusServiceUnavailable, Code: "input_full"},
	apierr.Unavailable,
}

// apiErrorOf is the one mapping from errors to answers.
func apiErrorOf(err error) *apiError { return apierr.Of(err, errorRules) }

// writeError answers err; HEAD answers carry the status only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	apierr.Write(w, r, apiErrorOf(err), func(e *apiError) any {
		return struct {
			Error  string `json:"error"`
			Reason string `json:"reason,omitempty"`
		}{e.Code, e.Reason}
	})
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
