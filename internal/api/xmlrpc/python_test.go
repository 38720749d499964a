package xmlrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// pythonScript calls a server as users' scripts do, with Python's
// xmlrpc.client, and prints what it got as JSON.
const pythonScript = `
import sys, json, hashlib, datetime, xmlrpc.client as x

url = sys.argv[1]
p = x.ServerProxy(url)
pn = x.ServerProxy(url, allow_none=True)

def norm(v):
    if isinstance(v, x.Binary):
        return ['binary', list(v.data)]
    if isinstance(v, x.DateTime):
        return ['time', str(v)]
    if isinstance(v, datetime.datetime):
        return ['time', v.strftime('%Y%m%dT%H:%M:%S')]
    if isinstance(v, dict):
        return {k: norm(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm(w) for w in v]
    return v

def fault(f):
    try:
        f()
    except x.Fault as e:
        return [e.faultCode, e.faultString]

def http_error(f):
    try:
        f()
    except x.ProtocolError as e:
        return e.errcode
    except OSError:
        return 'closed'

out = {}
out['state'] = p.py.state()
out['infos'] = p.py.infos()
out['fault'] = fault(p.py.fault)
out['unknown'] = fault(p.py.nope)
out['private'] = fault(p.py._private)
out['binary'] = norm(p.py.binary())
log = p.py.log()
out['log'] = [len(log), hashlib.sha256(log.encode('utf-8')).hexdigest()]
out['time'] = norm(p.py.time())
out['nil'] = p.py.nil()
out['big'] = p.py.big()
out['float'] = p.py.float()
sent = [1, -2, True, False, 'str', '', 1.5, {'a': [1, {'b': None}], '': 'empty'}, [], x.Binary(b'\x00\xff'),
        datetime.datetime(2024, 1, 2, 3, 4, 5), None, 'caf\u00e9 \U0001F600 <&>\'"', ' \t\n ']
back = pn.py.echo(*sent)
out['echo_equal'] = norm(back) == norm(sent)
out['echo'] = norm(back)
out['crlf'] = p.py.echo('a\r\nb\rc')
out['big_param'] = len(p.py.echo('x' * 3000000)[0])
out['multicall'] = p.system.multicall([
    {'methodName': 'py.state', 'params': []},
    {'methodName': 'py.fault'},
    {'methodName': 'system.multicall', 'params': [[]]},
])
out['error'] = http_error(p.py.error)
out['too_large'] = http_error(lambda: p.py.echo('x' * 5000000))
out['methods'] = p.system.listMethods()
out['signature'] = p.system.methodSignature('py.fault')
print(json.dumps(out))
`

type procInfo struct {
	Name        string `xmlrpc:"name"`
	Group       string `xmlrpc:"group"`
	State       int    `xmlrpc:"state"`
	StateName   string `xmlrpc:"statename"`
	Description string `xmlrpc:"description"`
	Pid         int    `xmlrpc:"pid"`
	Start       int64  `xmlrpc:"start"`
}

// logBytes is what a process may write: every byte value, CRLF, escape
// sequences, UTF-8 and invalid UTF-8, over 1 MiB.
func logBytes() string {
	var b strings.Builder
	for i := range 1 << 20 {
		b.WriteByte(byte(i * 7))
	}
	b.WriteString("\r\n\x1b[31mred\x1b[0m café \U0001F600 \xc3\x28 \xed\xa0\x80 \uFFFE end")
	return b.String()
}

// sanitized is what a client should read for s: each character XML cannot
// carry, and each invalid byte, replaced by U+FFFD.
func sanitized(s string) string {
	var b strings.Builder
	for _, r := range s { // an invalid byte is one utf8.RuneError
		switch {
		case r == utf8.RuneError,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r == 0xFFFE, r == 0xFFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func pythonServer(t *testing.T) *Server {
	s := newTestServer(t)
	ret := func(v any) Method {
		return Method{Call: func(context.Context, []any) (any, error) { return v, nil }}
	}
	s.Register("py.state", ret(map[string]any{"statecode": 1, "statename": "RUNNING"}))
	s.Register("py.infos", ret([]procInfo{
		{Name: "web_00", Group: "web", State: 20, StateName: "RUNNING", Description: "pid 42, uptime 0:01:00", Pid: 42, Start: 1700000000},
		{Name: "cat", Group: "cat", StateName: "STOPPED", Description: "Not started"},
	}))
	s.Register("py.fault", Method{
		Help: "@return boolean result",
		Call: func(context.Context, []any) (any, error) { return nil, Faultf(BadName, "%s", "foo") },
	})
	s.Register("py.binary", ret([]byte{0, 1, 2, 255}))
	s.Register("py.log", ret(logBytes()))
	s.Register("py.time", ret(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)))
	s.Register("py.nil", ret(nil))
	s.Register("py.big", ret(int64(1)<<40))
	s.Register("py.float", ret(-0.1))
	s.Register("py.echo", Method{Call: func(_ context.Context, args []any) (any, error) { return args, nil }})
	s.Register("py.error", Method{Call: func(context.Context, []any) (any, error) { return nil, os.ErrInvalid }})
	return s
}

// Python's xmlrpc.client, what supervisorctl and users' scripts use, reads
// every kind of answer and its requests decode as sent.
func TestPythonClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if err := exec.Command(python, "-c", "import xmlrpc.client").Run(); err != nil {
		t.Skipf("python3 has no xmlrpc.client: %v", err)
	}
	srv := httptest.NewServer(pythonServer(t))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", pythonScript, srv.URL+"/RPC2").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("python3: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("python3: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	logSum := sha256.Sum256([]byte(sanitized(logBytes())))
	want := map[string]any{
		"state": map[string]any{"statecode": 1, "statename": "RUNNING"},
		"infos": []any{
			map[string]any{"name": "web_00", "group": "web", "state": 20, "statename": "RUNNING", "description": "pid 42, uptime 0:01:00", "pid": 42, "start": 1700000000},
			map[string]any{"name": "cat", "group": "cat", "state": 0, "statename": "STOPPED", "description": "Not started", "pid": 0, "start": 0},
		},
		"fault":      []any{BadName, "BAD_NAME: foo"},
		"unknown":    []any{UnknownMethod, "UNKNOWN_METHOD"},
		"private":    []any{UnknownMethod, "UNKNOWN_METHOD"},
		"binary":     []any{"binary", []any{0, 1, 2, 255}},
		"log":        []any{utf8.RuneCountInString(sanitized(logBytes())), hex.EncodeToString(logSum[:])},
		"time":       []any{"time", "20240102T03:04:05"},
		"nil":        nil,
		"big":        1 << 40,
		"float":      -0.1,
		"echo_equal": true,
		"echo": []any{1, -2, true, false, "str", "", 1.5, map[string]any{"a": []any{1, map[string]any{"b": nil}}, "": "empty"}, []any{},
			[]any{"binary", []any{0, 255}}, []any{"time", "20240102T03:04:05"}, nil, "caf\u00e9 \U0001F600 <&>'\"", " \t\n "},
		"crlf":      []any{"a\nb\nc"}, // Python sends \r raw: XML turns it into \n, in supervisord too
		"big_param": 3000000,
		"multicall": []any{
			map[string]any{"statecode": 1, "statename": "RUNNING"},
			map[string]any{"faultCode": BadName, "faultString": "BAD_NAME: foo"},
			map[string]any{"faultCode": IncorrectParameters, "faultString": "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"},
		},
		"error":     500,
		"too_large": 413,
		"signature": []any{"boolean"},
	}
	var methods []any
	list, _ := pythonServer(t).listMethods(t.Context(), nil)
	for _, m := range list.([]string) {
		methods = append(methods, m)
	}
	want["methods"] = methods
	// Python writes the whole body before it reads the answer: it sees our
	// 413 only if the server has not closed the connection yet.
	if got["too_large"] == "closed" {
		got["too_large"] = 413.0
	}
	// Compare as JSON sees both.
	b, _ := json.Marshal(want)
	var wantJSON map[string]any
	json.Unmarshal(b, &wantJSON)
	for k := range wantJSON {
		if !reflect.DeepEqual(got[k], wantJSON[k]) {
			t.Errorf("%s: got %v\nwant %v", k, got[k], wantJSON[k])
		}
	}
	for k := range got {
		if _, ok := wantJSON[k]; !ok {
			t.Errorf("unexpected %s: %v", k, got[k])
		}
	}
}

// The real supervisorctl reads our answers: a struct array (status), a
// fault (pid of an unknown name), and a log full of control characters
// (tail), which fails against supervisord itself with an ExpatError.
func TestSupervisorctl(t *testing.T) {
	ctl, err := exec.LookPath("supervisorctl")
	if err != nil {
		t.Skip("no supervisorctl")
	}
	s := NewServer()
	s.Register("supervisor.getVersion", Method{Call: func(context.Context, []any) (any, error) { return "3.0", nil }})
	s.Register("supervisor.getAllProcessInfo", Method{Call: func(context.Context, []any) (any, error) {
		return []procInfo{{Name: "web_00", Group: "web", State: 20, StateName: "RUNNING", Description: "pid 42, uptime 0:01:00", Pid: 42}}, nil
	}})
	s.Register("supervisor.getProcessInfo", Method{Call: func(_ context.Context, args []any) (any, error) {
		if err := Args(args, String); err != nil {
			return nil, err
		}
		return nil, Faultf(BadName, "%s", args[0])
	}})
	s.Register("supervisor.readProcessStdoutLog", Method{Call: func(_ context.Context, args []any) (any, error) {
		if err := Args(args, String, Int, Int); err != nil {
			return nil, err
		}
		if args[1] != -1600 || args[2] != 0 {
			return nil, NewFault(BadArguments)
		}
		return args[0].(string) + ": \x1b[1mbold\x1b[0m\x00\r\n", nil
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	conf := filepath.Join(t.TempDir(), "supervisord.conf")
	if err := os.WriteFile(conf, []byte("[supervisorctl]\nserverurl = "+srv.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "web:web_00                       RUNNING   pid 42, uptime 0:01:00\n"},
		{[]string{"pid", "nope"}, "No such process nope\n"},
		{[]string{"tail", "web"}, "web: \uFFFD[1mbold\uFFFD[0m\uFFFD\r\n\n"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		out, err := exec.CommandContext(ctx, ctl, append([]string{"-c", conf}, tt.args...)...).CombinedOutput()
		cancel()
		if string(out) != tt.want {
			t.Errorf("supervisorctl %s: %v\n%q\nwant %q", strings.Join(tt.args, " "), err, out, tt.want)
		}
	}
}
