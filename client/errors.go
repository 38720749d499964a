package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gafferhq/gaffer/supervisor"
)

// Sentinels for refused credentials, matched by errors.Is on an *Error with
// status 401 and 403.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Error is an answer of gafferd other than 2xx.
type Error struct {
	Status int    // HTTP status
	Reason string // gaffer's error name ("not_found", "process_conflict", "bad_request", "bad_signal", "bad_operation", …), or a framework error's text ("not_found", "Method Not Allowed")
	Errno  int    // a manager error's errno (equal to Status); 0 for framework errors
	Detail string // the server's explanation, when it gave one (`job "app.web": not_found`)
}

func (e *Error) Error() string {
	if e.Detail != "" && e.Detail != e.Reason {
		return e.Detail
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Reason, e.Status)
}

// Is matches the sentinels the answer corresponds to.
func (e *Error) Is(target error) bool {
	switch target {
	case supervisor.ErrNotFound:
		return e.Status == http.StatusNotFound && e.Reason != supervisor.ErrStreamNotFound.Error()
	case supervisor.ErrConflict:
		return e.Status == http.StatusConflict
	case supervisor.ErrShuttingDown:
		return e.Status == http.StatusServiceUnavailable
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case supervisor.ErrBadRequest, supervisor.ErrBadSignal, supervisor.ErrBadScale, supervisor.ErrStreamNotFound:
		// Their texts are gaffer's error names.
		return e.Errno != 0 && e.Reason == target.Error()
	}
	return false
}

// errorOf reads either of gaffer's error shapes:
// {"error": "not_found", "errno": 404, "reason": "..."} or
// {"error": 405, "reason": "Method Not Allowed"}. Anything else (an empty
// HEAD answer, a proxy's HTML page) keeps the status and its text.
func errorOf(status int, body []byte) *Error {
	e := &Error{Status: status, Reason: http.StatusText(status)}
	var m struct {
		Error  json.RawMessage `json:"error"`
		Errno  int             `json:"errno"`
		Reason string          `json:"reason"`
	}
	if json.Unmarshal(body, &m) != nil || len(m.Error) == 0 {
		if status == http.StatusNotFound {
			e.Reason = supervisor.ErrNotFound.Error()
		}
		return e
	}
	var name string
	if json.Unmarshal(m.Error, &name) == nil {
		e.Reason, e.Errno, e.Detail = name, m.Errno, m.Reason
		if e.Errno == 0 {
			e.Errno = status // some gaffer handlers write {"error": "..."} alone
		}
		return e
	}
	if m.Reason != "" {
		e.Reason = m.Reason
	}
	return e
}
