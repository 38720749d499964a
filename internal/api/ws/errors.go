package ws

import (
	"context"
	"errors"
	"fmt"

	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/supervisor"
)

// cmdError is a command failure as the channel reports it:
// {"errno": Errno, "reason": Reason}.
type cmdError struct {
	Errno  int    `json:"errno"`
	Reason string `json:"reason"`
	err    error  // the cause, for errors.Is; may be nil
}

func (e *cmdError) Error() string { return e.Reason }
func (e *cmdError) Unwrap() error { return e.err }

// Errors the channel reports itself.
var (
	errCommandNotFound = &cmdError{Errno: 404, Reason: "command_not_found"}
	errBadCommand      = &cmdError{Errno: 400, Reason: "bad_command"}
	errConfigMissing   = &cmdError{Errno: 400, Reason: "config_missing"}
)

// badCommand is 400 bad_command; why is kept for logs and tests.
func badCommand(why string) error {
	return &cmdError{Errno: 400, Reason: "bad_command", err: errors.New(why)}
}

func invalidConfig(err error) error {
	return &cmdError{Errno: 400, Reason: "invalid_config", err: err}
}

// forbidden marks an authorization refusal: it must never turn into
// another answer (a 404 would tell what exists).
func forbidden(err error) error {
	if errors.Is(err, rest.ErrForbidden) {
		return err
	}
	return fmt.Errorf("%w: %w", rest.ErrForbidden, err)
}

// errorOf is the one mapping from errors (core sentinels, authorization,
// context) to the channel's errno and reason (gaffer-events.md §5.4).
func errorOf(err error) *cmdError {
	if e, ok := errors.AsType[*cmdError](err); ok {
		return e
	}
	mk := func(errno int, reason string) *cmdError { return &cmdError{Errno: errno, Reason: reason, err: err} }
	switch {
	case errors.Is(err, rest.ErrForbidden), errors.Is(err, rest.ErrUnauthorized):
		return mk(403, "forbidden")
	case errors.Is(err, supervisor.ErrStreamNotFound):
		return mk(404, "stream_not_found")
	case errors.Is(err, supervisor.ErrNotFound):
		return mk(404, "not_found")
	case errors.Is(err, supervisor.ErrConflict):
		return mk(409, "process_conflict")
	case errors.Is(err, supervisor.ErrBadSignal):
		return mk(400, "bad_signal")
	case errors.Is(err, supervisor.ErrBadScale):
		return mk(400, "bad_operation")
	case errors.Is(err, supervisor.ErrMissingName), errors.Is(err, supervisor.ErrMissingCmd),
		errors.Is(err, supervisor.ErrBadName), errors.Is(err, supervisor.ErrBadValue):
		return mk(400, "invalid_config")
	case errors.Is(err, supervisor.ErrBadRequest):
		return mk(400, "bad_command")
	case errors.Is(err, supervisor.ErrStdinClosed):
		return mk(500, supervisor.ErrStdinClosed.Error())
	case errors.Is(err, supervisor.ErrShuttingDown), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return mk(503, err.Error())
	}
	return mk(500, err.Error())
}
