package compat

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hand-written requests, as a script would send them.
const (
	getAPIVersionCall = `<?xml version="1.0"?>
<methodCall>
  <methodName>supervisor.getAPIVersion</methodName>
  <params></params>
</methodCall>
`
	getProcessInfoNope = `<?xml version='1.0'?>
<methodCall><methodName>supervisor.getProcessInfo</methodName>
<params><param><value><string>nope</string></value></param></params></methodCall>`
	// A value without a type element is a string.
	getProcessInfoUntyped = `<?xml version='1.0'?>
<methodCall><methodName>supervisor.getProcessInfo</methodName>
<params><param><value>web</value></param></params></methodCall>`
	multicall = `<?xml version="1.0"?>
<methodCall><methodName>system.multicall</methodName><params><param><value><array><data>
<value><struct>
  <member><name>methodName</name><value><string>supervisor.getAPIVersion</string></value></member>
  <member><name>params</name><value><array><data></data></array></value></member>
</struct></value>
<value><struct>
  <member><name>methodName</name><value><string>supervisor.getProcessInfo</string></value></member>
  <member><name>params</name><value><array><data><value><string>nope</string></value></data></array></value></member>
</struct></value>
<value><struct>
  <member><name>methodName</name><value><string>supervisor.getState</string></value></member>
  <member><name>params</name><value><array><data></data></array></value></member>
</struct></value>
</data></array></value></param></params></methodCall>`
)

// postCall posts a hand-written body and decodes the answer.
func (d *daemon) postCall(body string) (any, error) {
	d.t.Helper()
	code, b, err := d.post(body)
	if err != nil {
		d.t.Fatal(err)
	}
	if code != http.StatusOK {
		d.t.Fatalf("HTTP %d for %s: %s", code, body, b)
	}
	return decodeResponse(b)
}

func TestXMLRPC(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Sections: ctlPrograms})
		d.waitState("web", "RUNNING", 10*time.Second)
		d.waitState("g:a", "RUNNING", 10*time.Second)

		if v, err := d.postCall(getAPIVersionCall); v != "3.0" || err != nil {
			t.Errorf("getAPIVersion = %#v, %v; want \"3.0\"", v, err)
		}
		if v := d.rpc("supervisor.getVersion"); v != "3.0" {
			t.Errorf("getVersion = %#v; want \"3.0\"", v)
		}
		if v := d.rpc("supervisor.getState"); !reflect.DeepEqual(v, map[string]any{"statecode": 1, "statename": "RUNNING"}) {
			t.Errorf("getState = %#v", v)
		}
		if v := d.rpc("supervisor.getPID"); v != d.pid() {
			t.Errorf("getPID = %#v, want %d", v, d.pid())
		}
		if v := d.rpc("supervisor.getIdentification"); v != "supervisor" {
			t.Errorf("getIdentification = %#v", v)
		}
		if v, _ := d.rpc("supervisor.getSupervisorVersion").(string); v == "" {
			t.Errorf("getSupervisorVersion is empty")
		}

		// getProcessInfo: every field, with its type.
		info := d.info("web")
		want := map[string]reflect.Kind{
			"name": reflect.String, "group": reflect.String, "description": reflect.String,
			"start": reflect.Int, "stop": reflect.Int, "now": reflect.Int, "state": reflect.Int,
			"statename": reflect.String, "spawnerr": reflect.String, "exitstatus": reflect.Int,
			"logfile": reflect.String, "stdout_logfile": reflect.String, "stderr_logfile": reflect.String,
			"pid": reflect.Int,
		}
		for key, kind := range want {
			if v, ok := info[key]; !ok || reflect.TypeOf(v).Kind() != kind {
				t.Errorf("getProcessInfo(web)[%q] = %#v, want a %v", key, v, kind)
			}
		}
		for key := range info {
			if _, ok := want[key]; !ok {
				t.Errorf("getProcessInfo(web) has an extra field %q", key)
			}
		}
		now, _ := info["now"].(int)
		started, _ := info["start"].(int)
		if info["name"] != "web" || info["group"] != "web" || info["state"] != 20 || info["statename"] != "RUNNING" ||
			info["stop"] != 0 || info["spawnerr"] != "" || info["exitstatus"] != 0 ||
			normalize(info["description"].(string)) != "pid N, uptime U" ||
			started <= 0 || started > now || now < int(time.Now().Unix())-5 {
			t.Errorf("getProcessInfo(web) = %#v", info)
		}
		if pid, _ := info["pid"].(int); pid <= 0 || d.ctlOut("pid", "web") != strconv.Itoa(pid)+"\n" {
			t.Errorf("getProcessInfo(web) pid %v; supervisorctl pid web says %q", info["pid"], d.ctlOut("pid", "web"))
		}
		stdoutLog, _ := info["stdout_logfile"].(string)
		stderrLog, _ := info["stderr_logfile"].(string)
		if info["logfile"] != stdoutLog ||
			!strings.HasPrefix(stdoutLog, d.path("childlogs/web-stdout---supervisor-")) || !strings.HasSuffix(stdoutLog, ".log") ||
			!strings.HasPrefix(stderrLog, d.path("childlogs/web-stderr---supervisor-")) || !strings.HasSuffix(stderrLog, ".log") {
			t.Errorf("AUTO log names: logfile %q stdout_logfile %q stderr_logfile %q", info["logfile"], stdoutLog, stderrLog)
		}
		if v, err := d.postCall(getProcessInfoUntyped); err != nil || v.(map[string]any)["name"] != "web" {
			t.Errorf("getProcessInfo with an untyped string param = %#v, %v", v, err)
		}
		if info := d.info("g:a"); info["name"] != "a" || info["group"] != "g" {
			t.Errorf("getProcessInfo(g:a) name %v group %v", info["name"], info["group"])
		}
		if info := d.info("idle"); info["statename"] != "STOPPED" || info["state"] != 0 || info["pid"] != 0 ||
			info["start"] != 0 || info["description"] != "Not started" {
			t.Errorf("getProcessInfo(idle) = %#v", info)
		}

		// Faults.
		if _, err := d.postCall(getProcessInfoNope); !reflect.DeepEqual(err, &fault{10, "BAD_NAME: nope"}) {
			t.Errorf("getProcessInfo(nope): %v, want fault 10 BAD_NAME: nope", err)
		}
		d.rpcFault(10, "BAD_NAME: g:*", "supervisor.getProcessInfo", "g:*")
		d.rpcFault(10, "BAD_NAME: nope", "supervisor.startProcess", "nope")
		d.rpcFault(10, "BAD_NAME: nope", "supervisor.stopProcess", "nope")
		d.rpcFault(10, "BAD_NAME: nope", "supervisor.startProcessGroup", "nope")
		d.rpcFault(60, "ALREADY_STARTED: web", "supervisor.startProcess", "web")
		d.rpcFault(70, "NOT_RUNNING: idle", "supervisor.stopProcess", "idle")
		d.rpcFault(11, "BAD_SIGNAL: BOGUS", "supervisor.signalProcess", "web", "BOGUS")
		d.rpcFault(70, "NOT_RUNNING: idle", "supervisor.signalProcess", "idle", "HUP")
		d.rpcFault(10, "BAD_NAME: nope", "supervisor.signalProcess", "nope", "HUP")
		d.rpcFault(1, "UNKNOWN_METHOD", "supervisor.nope")
		d.rpcFault(1, "UNKNOWN_METHOD", "nonamespace")
		d.rpcFault(2, "INCORRECT_PARAMETERS", "supervisor.getProcessInfo")
		d.rpcFault(2, "INCORRECT_PARAMETERS", "supervisor.getProcessInfo", "web", "extra")

		// Group operations answer status structs.
		ok := func(group, name string) map[string]any {
			return map[string]any{"name": name, "group": group, "status": 80, "description": "OK"}
		}
		if v := d.rpc("supervisor.startProcessGroup", "g"); !reflect.DeepEqual(v, []any{ok("g", "b")}) {
			t.Errorf("startProcessGroup(g) = %#v; want only b (a is running)", v)
		}
		if v := d.rpc("supervisor.stopProcessGroup", "g"); !reflect.DeepEqual(sortStatus(v), []any{ok("g", "a"), ok("g", "b")}) {
			t.Errorf("stopProcessGroup(g) = %#v", v)
		}
		// WINCH: sleep ignores it, so web keeps running.
		if v := d.rpc("supervisor.signalProcess", "web", "WINCH"); v != true {
			t.Errorf("signalProcess(web, WINCH) = %#v", v)
		}
		if v := d.rpc("supervisor.signalProcessGroup", "g", "WINCH"); !reflect.DeepEqual(v, []any{}) {
			t.Errorf("signalProcessGroup(g, WINCH) with g stopped = %#v, want []", v)
		}
		if v := d.rpc("supervisor.signalAllProcesses", "SIGWINCH"); !reflect.DeepEqual(v, []any{ok("web", "web")}) {
			t.Errorf("signalAllProcesses(SIGWINCH) = %#v", v)
		}
		if v := d.rpc("supervisor.startProcess", "g:*"); !reflect.DeepEqual(sortStatus(v), []any{ok("g", "a"), ok("g", "b")}) {
			t.Errorf("startProcess(g:*) = %#v", v)
		}
		if v := d.rpc("supervisor.stopProcess", "g:", true); !reflect.DeepEqual(sortStatus(v), []any{ok("g", "a"), ok("g", "b")}) {
			t.Errorf("stopProcess(g:) = %#v", v)
		}
		d.rpcFault(11, "BAD_SIGNAL: 99", "supervisor.signalProcess", "web", "99")
		if v := d.rpc("supervisor.signalProcess", "web", int(syscall.SIGWINCH)); v != true {
			t.Errorf("signalProcess(web, %d) = %#v", int(syscall.SIGWINCH), v)
		}
		if s := d.state("web"); s != "RUNNING" {
			t.Errorf("after WINCH, web is %s", s)
		}

		// getAllProcessInfo is sorted by group, then name.
		var names []string
		for _, p := range d.rpc("supervisor.getAllProcessInfo").([]any) {
			m := p.(map[string]any)
			names = append(names, m["group"].(string)+":"+m["name"].(string))
		}
		if want := []string{"g:a", "g:b", "idle:idle", "web:web"}; !slices.Equal(names, want) {
			t.Errorf("getAllProcessInfo order %v, want %v", names, want)
		}

		// system.*
		methods := map[string]bool{}
		for _, m := range d.rpc("system.listMethods").([]any) {
			methods[m.(string)] = true
		}
		for _, m := range supervisorMethods {
			if !methods[m] {
				t.Errorf("system.listMethods lacks %s", m)
			}
		}
		if v, _ := d.rpc("system.methodHelp", "supervisor.getState").(string); v == "" {
			t.Errorf("system.methodHelp(supervisor.getState) is empty")
		}
		if v := d.rpc("system.methodSignature", "supervisor.getState"); !reflect.DeepEqual(v, []any{"struct"}) {
			t.Errorf("system.methodSignature(supervisor.getState) = %#v", v)
		}
		d.rpcFault(4, "SIGNATURE_UNSUPPORTED", "system.methodHelp", "supervisor.nope")
		v, err := d.postCall(multicall)
		if err != nil {
			t.Fatalf("system.multicall: %v", err)
		}
		wantMulti := []any{"3.0", map[string]any{"faultCode": 10, "faultString": "BAD_NAME: nope"},
			map[string]any{"statecode": 1, "statename": "RUNNING"}}
		if !reflect.DeepEqual(v, wantMulti) {
			t.Errorf("system.multicall = %#v\nwant %#v", v, wantMulti)
		}

		// Ill-formed requests are answered 400; the daemon lives on.
		for _, body := range []string{"not xml at all", "<methodCall><methodName>supervisor.getState</methodName>",
			"<?xml version='1.0'?><methodCall><params></params></methodCall>"} {
			code, b, err := d.post(body)
			if err != nil || code != http.StatusBadRequest {
				t.Errorf("POST /RPC2 %q: HTTP %d %q, %v; want 400", body, code, b, err)
			}
		}
		if v := d.rpc("supervisor.getState"); v.(map[string]any)["statename"] != "RUNNING" {
			t.Errorf("after ill-formed requests, getState = %#v", v)
		}
	})
}

func (d *daemon) ctlOut(args ...string) string {
	d.t.Helper()
	out, _ := d.ctl(args...)
	return out
}

// sortStatus orders status structs by group and name.
func sortStatus(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	a = slices.Clone(a)
	slices.SortFunc(a, func(x, y any) int {
		mx, _ := x.(map[string]any)
		my, _ := y.(map[string]any)
		kx, _ := mx["group"].(string)
		ky, _ := my["group"].(string)
		nx, _ := mx["name"].(string)
		ny, _ := my["name"].(string)
		return strings.Compare(kx+":"+nx, ky+":"+ny)
	})
	return a
}

// supervisorMethods is supervisor 4.2.5's supervisor.* namespace.
var supervisorMethods = []string{
	"supervisor.addProcessGroup", "supervisor.clearAllProcessLogs", "supervisor.clearLog",
	"supervisor.clearProcessLog", "supervisor.clearProcessLogs", "supervisor.getAPIVersion",
	"supervisor.getAllConfigInfo", "supervisor.getAllProcessInfo", "supervisor.getIdentification",
	"supervisor.getPID", "supervisor.getProcessInfo", "supervisor.getState", "supervisor.getSupervisorVersion",
	"supervisor.getVersion", "supervisor.readLog", "supervisor.readMainLog", "supervisor.readProcessLog",
	"supervisor.readProcessStderrLog", "supervisor.readProcessStdoutLog", "supervisor.reloadConfig",
	"supervisor.removeProcessGroup", "supervisor.restart", "supervisor.sendProcessStdin",
	"supervisor.sendRemoteCommEvent", "supervisor.shutdown", "supervisor.signalAllProcesses",
	"supervisor.signalProcess", "supervisor.signalProcessGroup", "supervisor.startAllProcesses",
	"supervisor.startProcess", "supervisor.startProcessGroup", "supervisor.stopAllProcesses",
	"supervisor.stopProcess", "supervisor.stopProcessGroup", "supervisor.tailProcessLog",
	"supervisor.tailProcessStderrLog", "supervisor.tailProcessStdoutLog",
	"system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall",
}

func TestGetAllConfigInfo(t *testing.T) {
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{Sections: ctlPrograms})
		d.waitState("web", "RUNNING", 10*time.Second)
		info := d.info("web")
		var web map[string]any
		var names []string
		for _, c := range d.rpc("supervisor.getAllConfigInfo").([]any) {
			m := c.(map[string]any)
			names = append(names, m["group"].(string)+":"+m["name"].(string))
			if m["name"] == "web" {
				web = m
			}
		}
		// Sorted by process name, groups flattened.
		if want := []string{"g:a", "g:b", "idle:idle", "web:web"}; !slices.Equal(names, want) {
			t.Errorf("getAllConfigInfo order %v, want %v", names, want)
		}
		want := map[string]any{
			"autostart": true, "directory": "none", "uid": "none", "command": "sleep 1000", "exitcodes": []any{0},
			"group": "web", "group_prio": 10, "inuse": true, "killasgroup": false, "name": "web", "process_prio": 10,
			"redirect_stderr": false, "startretries": 3, "startsecs": 0,
			"stdout_capture_maxbytes": 0, "stdout_events_enabled": false, "stdout_logfile_backups": 10,
			"stdout_logfile_maxbytes": 52428800, "stdout_syslog": false,
			"stderr_capture_maxbytes": 0, "stderr_events_enabled": false, "stderr_logfile_backups": 10,
			"stderr_logfile_maxbytes": 52428800, "stderr_syslog": false,
			"stopsignal": 15, "stopwaitsecs": 10,
			// A program in use has its AUTO log files named.
			"stdout_logfile": info["stdout_logfile"], "stderr_logfile": info["stderr_logfile"],
		}
		for key, v := range want {
			if !reflect.DeepEqual(web[key], v) {
				t.Errorf("getAllConfigInfo web[%q] = %#v, want %#v", key, web[key], v)
			}
		}
		// supervisor 4.2.5 says "none" for a program without serverurl (AUTO
		// is None in its config); later versions and gafferd may say "auto".
		if s := web["serverurl"]; s != "none" && s != "auto" {
			t.Errorf("getAllConfigInfo web serverurl = %#v", s)
		}
	})
}
