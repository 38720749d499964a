// Package client is a typed Go client of gafferd's REST API (gaffer 0.5.2's
// HTTP API, served by gafferd). gafferctl is built on it, and so can be any
// program that drives gafferd.
//
//	c, err := client.New(client.DefaultAddress())
//	...
//	n, err := c.Scale(ctx, "app.web", "+2")
//	if errors.Is(err, supervisor.ErrNotFound) { ... }
//
// # Addresses
//
// An address is "http://host:port", "https://host:port" (optionally with a
// path prefix when gafferd sits behind a proxy), "unix:///path/to.sock" for
// HTTP over a unix socket, or a bare "host:port" meaning http. DefaultAddress
// picks one the way gafferctl does; DefaultSocketPath is where gafferd
// listens by default, and gafferd uses the same function.
//
// # Names
//
// Jobs are named "session.job" (or "session/job"); a name without a session
// is in session "default" (supervisor.ParseName). Pids are gaffer's internal
// process ids, not the OS's.
//
// # Errors
//
// A request the server refuses returns a *Error with the HTTP status and
// gaffer's error name. errors.Is matches it against the supervisor's
// sentinels it corresponds to (ErrNotFound, ErrConflict, ErrBadSignal,
// ErrBadScale, ErrBadRequest, ErrStreamNotFound, ErrShuttingDown) and this
// package's ErrUnauthorized and ErrForbidden. Transport failures are
// returned as the net/http client reports them.
//
// # Concurrency
//
// A Client is immutable after New and safe for concurrent use; every method
// honours its context.
package client
