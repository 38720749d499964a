package supervisor

import "errors"

// Sentinel errors. The core wraps them with the name concerned
// (fmt.Errorf("load %q: %w", name, ErrConflict)); each transport maps them
// to its own status (REST errno, XML-RPC fault, channel error).
var (
	ErrNotFound        = errors.New("not_found")        // unknown job, session or pid
	ErrConflict        = errors.New("process_conflict") // job already loaded
	ErrBadRequest      = errors.New("bad_request")      // malformed argument
	ErrBadSignal       = errors.New("bad_signal")       // unknown signal name or number
	ErrBadScale        = errors.New("bad_operation")    // scale value not +N/-N/=N/N
	ErrMissingName     = errors.New("name is required") // job config without name
	ErrMissingCmd      = errors.New("cmd is required")  // job config without cmd
	ErrBadName         = errors.New("invalid name")     // job or session name with forbidden characters
	ErrBadValue        = errors.New("invalid value")    // a config value out of range
	ErrStreamNotFound  = errors.New("stream_not_found") // unknown stream label
	ErrStdinClosed     = errors.New("stdin not redirected")
	ErrShuttingDown    = errors.New("supervisor is shutting down")
	ErrSpawn           = errors.New("spawn failed")
	ErrProcessFinished = errors.New("process already exited")
)

func joinErrs(errs []error) error { return errors.Join(errs...) }
