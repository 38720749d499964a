// Package apierr maps errors to HTTP answers for the HTTP APIs. Each API
// keeps its own table of rules and its own response shape; this package
// holds the answer type and the matching.
package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gafferhq/gaffer/supervisor"
)

// Error is an error together with the answer it becomes. Code set means an
// API-specific code with a reason; Code empty means the framework shape
// {"error": status, "reason": text}.
type Error struct {
	Status int
	Code   string
	Reason string
	Allow  string // Allow header of a 405; empty for none
	Err    error  // the cause, for errors.Is; may be nil
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	if e.Code != "" {
		return e.Code
	}
	return http.StatusText(e.Status)
}

func (e *Error) Unwrap() error { return e.Err }

// Rule answers errors that match any of Is (errors.Is).
type Rule struct {
	Is     []error
	Status int
	// Code set gives a coded answer whose reason is the error's text.
	Code string
	// Reason is the framework answer's reason when Code is empty; empty
	// means the error's text.
	Reason string
}

// Unavailable answers shutdown and cancelled or expired requests with a
// framework 503.
var Unavailable = Rule{
	Is:     []error{supervisor.ErrShuttingDown, context.Canceled, context.DeadlineExceeded},
	Status: http.StatusServiceUnavailable,
}

// Of is err's answer: err itself when it is an *Error, else the first rule
// err matches, else a framework 500 with the error's text.
func Of(err error, rules []Rule) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	for _, r := range rules {
		for _, target := range r.Is {
			if errors.Is(err, target) {
				return r.answer(err)
			}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Reason: err.Error(), Err: err}
}

func (r Rule) answer(err error) *Error {
	if r.Code != "" {
		return &Error{Status: r.Status, Code: r.Code, Reason: err.Error(), Err: err}
	}
	reason := r.Reason
	if reason == "" {
		reason = err.Error()
	}
	return &Error{Status: r.Status, Reason: reason, Err: err}
}

// Write answers e as JSON: with its Allow header when set; the status only
// to HEAD; else the body coded(e) when e has a Code, the framework shape
// {"error": status, "reason": text} otherwise.
func Write(w http.ResponseWriter, r *http.Request, e *Error, coded func(*Error) any) {
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	var body any
	if e.Code != "" {
		body = coded(e)
	} else {
		body = struct {
			Error  int    `json:"error"`
			Reason string `json:"reason"`
		}{e.Status, e.Error()}
	}
	b, _ := json.Marshal(body) // plain structs of strings and ints cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}
