package supervisorrpc

import (
	"context"
	"fmt"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/auth"
)

// Need is what calling method with args requires from an API key, when keys
// are required: level on target, or only an identified caller when
// identified is true.
//
//	system.*, getAPIVersion, getState, getPID, …    any identified caller
//	getProcessInfo, read/tail…Log (name)            read on the program's job
//	sendProcessStdin (name)                         write on it
//	start/stop/signalProcess, clearProcessLogs      manage on it ("group:*": on the group's session)
//	…ProcessGroup (group)                           manage on the session
//	getAllProcessInfo, getAllConfigInfo             read on "*"
//	…AllProcesses, clearAllProcessLogs, readLog,
//	sendRemoteCommEvent                             manage on "*"
//	shutdown, restart, reloadConfig, add/removeProcessGroup, clearLog,
//	and anything else                               admin
func Need(method string, args []any) (level auth.Level, target string, identified bool) {
	name := ""
	if len(args) > 0 {
		name, _ = args[0].(string)
	}
	job := func() string {
		g, p := SplitNamespec(name)
		if p == "" {
			return g
		}
		return g + "." + p
	}
	switch method {
	case "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall",
		"supervisor.getAPIVersion", "supervisor.getVersion", "supervisor.getSupervisorVersion",
		"supervisor.getIdentification", "supervisor.getState", "supervisor.getPID":
		return 0, "", true
	case "supervisor.getProcessInfo", "supervisor.readProcessLog", "supervisor.readProcessStdoutLog",
		"supervisor.readProcessStderrLog", "supervisor.tailProcessLog", "supervisor.tailProcessStdoutLog",
		"supervisor.tailProcessStderrLog":
		return auth.LevelRead, job(), false
	case "supervisor.sendProcessStdin":
		return auth.LevelWrite, job(), false
	case "supervisor.startProcess", "supervisor.stopProcess", "supervisor.signalProcess",
		"supervisor.clearProcessLog", "supervisor.clearProcessLogs":
		return auth.LevelManage, job(), false
	case "supervisor.startProcessGroup", "supervisor.stopProcessGroup", "supervisor.signalProcessGroup":
		return auth.LevelManage, name, false
	case "supervisor.getAllProcessInfo", "supervisor.getAllConfigInfo":
		return auth.LevelRead, "*", false
	case "supervisor.startAllProcesses", "supervisor.stopAllProcesses", "supervisor.signalAllProcesses",
		"supervisor.clearAllProcessLogs", "supervisor.readLog", "supervisor.readMainLog",
		"supervisor.sendRemoteCommEvent":
		return auth.LevelManage, "*", false
	}
	return auth.LevelAdmin, "", false
}

// AuthorizeWith returns the xmlrpc.Server Authorize hook: the caller is
// the one auth.Authorizer.Middleware stored in the request's context (none
// stored: refused), and a refusal is a FAILED fault naming what was
// needed.
func AuthorizeWith() func(ctx context.Context, method string, args []any) error {
	return func(ctx context.Context, method string, args []any) error {
		c, ok := auth.CallerFrom(ctx)
		if !ok {
			return xmlrpc.Faultf(xmlrpc.Failed, "forbidden: no caller")
		}
		level, target, identified := Need(method, args)
		if identified {
			if c.Err != nil {
				return xmlrpc.Faultf(xmlrpc.Failed, "unauthorized: %v", c.Err)
			}
			return nil
		}
		if err := c.Check(level, target); err != nil {
			return xmlrpc.Faultf(xmlrpc.Failed, "forbidden: %s needs %s", method, describe(level, target))
		}
		return nil
	}
}

func describe(level auth.Level, target string) string {
	switch level {
	case auth.LevelRead:
		return fmt.Sprintf("read on %q", target)
	case auth.LevelWrite:
		return fmt.Sprintf("write on %q", target)
	case auth.LevelManage:
		return fmt.Sprintf("manage on %q", target)
	}
	return "an admin key"
}
