package xmlrpc

import "fmt"

// Fault codes, as supervisor's xmlrpc.Faults numbers them (spec §4.1).
const (
	UnknownMethod        = 1
	IncorrectParameters  = 2
	BadArguments         = 3
	SignatureUnsupported = 4
	ShutdownState        = 6
	BadName              = 10
	BadSignal            = 11
	NoFile               = 20
	NotExecutable        = 21
	Failed               = 30
	AbnormalTermination  = 40
	SpawnError           = 50
	AlreadyStarted       = 60
	NotRunning           = 70
	Success              = 80
	AlreadyAdded         = 90
	StillRunning         = 91
	CantReread           = 92
)

// faultNames is the wire name of each code: it starts every fault string,
// and supervisorctl and users' scripts print it.
var faultNames = map[int]string{
	UnknownMethod:        "UNKNOWN_METHOD",
	IncorrectParameters:  "INCORRECT_PARAMETERS",
	BadArguments:         "BAD_ARGUMENTS",
	SignatureUnsupported: "SIGNATURE_UNSUPPORTED",
	ShutdownState:        "SHUTDOWN_STATE",
	BadName:              "BAD_NAME",
	BadSignal:            "BAD_SIGNAL",
	NoFile:               "NO_FILE",
	NotExecutable:        "NOT_EXECUTABLE",
	Failed:               "FAILED",
	AbnormalTermination:  "ABNORMAL_TERMINATION",
	SpawnError:           "SPAWN_ERROR",
	AlreadyStarted:       "ALREADY_STARTED",
	NotRunning:           "NOT_RUNNING",
	Success:              "SUCCESS",
	AlreadyAdded:         "ALREADY_ADDED",
	StillRunning:         "STILL_RUNNING",
	CantReread:           "CANT_REREAD",
}

// FaultName returns the name of a fault code ("BAD_NAME"), or "UNKNOWN" for
// a code supervisor does not define, as supervisor's getFaultDescription does.
func FaultName(code int) string {
	if name, ok := faultNames[code]; ok {
		return name
	}
	return "UNKNOWN"
}

// Fault is an XML-RPC fault: a method returns one (possibly wrapped) as its
// error to answer with a <fault> instead of a value. String is the fault
// name, optionally followed by ": " and a detail, exactly as supervisor
// formats it ("BAD_NAME: foo"); build it with NewFault or Faultf.
type Fault struct {
	Code   int
	String string
}

// NewFault returns the fault with code and no detail: its string is the bare
// name ("NOT_RUNNING").
func NewFault(code int) *Fault {
	return &Fault{Code: code, String: FaultName(code)}
}

// Faultf returns the fault with code and a detail: its string is the name,
// ": " and the formatted detail ("BAD_NAME: foo"), like supervisor's
// RPCError(code, extra). Faultf(BadName, "%s", name).
func Faultf(code int, format string, a ...any) *Fault {
	return &Fault{Code: code, String: FaultName(code) + ": " + fmt.Sprintf(format, a...)}
}

func (f *Fault) Error() string {
	return fmt.Sprintf("xmlrpc fault %d: %s", f.Code, f.String)
}

// Is reports whether target is a *Fault with the same code, so that
// errors.Is(err, xmlrpc.NewFault(xmlrpc.BadName)) matches any BAD_NAME fault
// whatever its detail.
func (f *Fault) Is(target error) bool {
	t, ok := target.(*Fault)
	return ok && t != nil && t.Code == f.Code
}
