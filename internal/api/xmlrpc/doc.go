// Package xmlrpc is the XML-RPC transport of supervisord's API (spec §4):
// the codec, the /RPC2 handler, faults and the system.* methods, so that the
// real supervisorctl and users' xmlrpc.client scripts work against gafferd
// unchanged. The supervisor.* methods are registered on a Server by their
// owner; this package knows nothing of processes.
//
// # What this package owns
//
//   - The codec: DecodeRequest and DecodeResponse turn XML-RPC into Go
//     values (int, bool, string, float64, time.Time, []byte,
//     map[string]any, []any, nil); EncodeResponse, EncodeFault and
//     EncodeRequest do the reverse, by reflection for structs (`xmlrpc`
//     tags). Decoding is strict and bounded: a well-formed body only, values
//     nested at most MaxDepth deep, no DTD; every failure is an error
//     wrapping ErrMalformed, never a panic (FuzzDecodeRequest).
//   - Faults: Fault, the supervisor fault codes and their names. A fault
//     string is the name, optionally ": " and a detail ("BAD_NAME: foo"),
//     as supervisor formats it; supervisorctl switches on the code and
//     prints the string.
//   - Server: the method registry (Register), the HTTP handler (ServeHTTP)
//     and system.listMethods, methodHelp, methodSignature and multicall.
//   - Args: the argument check that supervisor gets from Python's
//     TypeError, with Python's leniencies (an int for a boolean).
//
// # HTTP
//
// POST only; a body up to MaxBody (4 MiB). What is not XML-RPC is answered
// 400, a fault 200 with a <fault>, a method's unexpected error or panic 500
// (supervisord answers an unexpected exception 500 too; inside
// system.multicall it becomes a FAILED fault, as there). Responses are
// "text/xml" with a Content-Length, laid out as Python's xmlrpc.client
// writes them. Path routing, listeners and authentication belong to the
// caller (internal/api/guard).
//
// # Choices beyond or against the reference
//
//   - Characters XML 1.0 cannot carry (C0 controls but tab, newline and
//     carriage return; U+FFFE, U+FFFF; invalid UTF-8) are written as U+FFFD.
//     supervisord writes them raw and Python's parser then rejects the whole
//     response: `supervisorctl tail` of a log with an escape sequence or a
//     NUL fails with an ExpatError, and a log that is not UTF-8 is a 500. A
//     carriage return is written as &#13; so that it is not turned into a
//     newline. Offsets that readers compute from string lengths already
//     differ from byte offsets for any non-ASCII text; tail*Log returns the
//     byte offset separately.
//   - nil is encoded as <nil/>, which Python's client reads even without
//     allow_none; supervisord never returns None (it would fail with 500),
//     and methods here should not either.
//   - Integers are encoded as <int> even beyond 32 bits: Python reads them
//     (it refuses only to send them). Supervisor caps process times itself.
//   - Decoding: <i8> is an int (supervisor reads it as a string); <boolean>
//     must be 0 or 1 (supervisor reads anything but "1" as false); an
//     unknown type element is an error (supervisor takes its text);
//     ISO-8859-1 bodies are accepted when declared.
//   - A GET is answered 400 as supervisord's medusa does, not 405.
//   - system.multicall answers a call that is not a struct, or whose params
//     are not an array, with an INCORRECT_PARAMETERS fault in its place
//     where supervisord fails the whole request with 500.
//
// # Concurrency
//
// A Server is safe for concurrent use: Register may be called at any time,
// though the supervisor.* methods are meant to be registered before
// serving. Each request runs its Call on the request's goroutine, and a
// Call that waits (startProcess with wait) simply blocks until done or until
// its context, the request's, is cancelled because the client went away.
// system.multicall runs its calls one after another on the same goroutine,
// each awaited before the next, as supervisord does.
package xmlrpc
