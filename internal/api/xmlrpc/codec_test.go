package xmlrpc

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Requests as Python's xmlrpc.client writes them (xmlrpc.client.dumps), with
// supervisorctl's calls among them.
func TestDecodeRequestFromPython(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantMethod string
		wantParams []any
	}{
		{
			name:       "no params",
			body:       "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getState</methodName>\n<params>\n</params>\n</methodCall>\n",
			wantMethod: "supervisor.getState",
			wantParams: []any{},
		},
		{
			name: "string and boolean",
			body: "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.startProcess</methodName>\n<params>\n" +
				"<param>\n<value><string>web:web_00</string></value>\n</param>\n" +
				"<param>\n<value><boolean>1</boolean></value>\n</param>\n" +
				"</params>\n</methodCall>\n",
			wantMethod: "supervisor.startProcess",
			wantParams: []any{"web:web_00", true},
		},
		{
			name: "string and negative ints (tail -1600)",
			body: "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.readProcessStdoutLog</methodName>\n<params>\n" +
				"<param>\n<value><string>cat</string></value>\n</param>\n" +
				"<param>\n<value><int>-1600</int></value>\n</param>\n" +
				"<param>\n<value><int>0</int></value>\n</param>\n" +
				"</params>\n</methodCall>\n",
			wantMethod: "supervisor.readProcessStdoutLog",
			wantParams: []any{"cat", -1600, 0},
		},
		{
			name: "multicall",
			body: "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.multicall</methodName>\n<params>\n<param>\n" +
				"<value><array><data>\n" +
				"<value><struct>\n<member>\n<name>methodName</name>\n<value><string>supervisor.getPID</string></value>\n</member>\n" +
				"<member>\n<name>params</name>\n<value><array><data>\n</data></array></value>\n</member>\n</struct></value>\n" +
				"<value><struct>\n<member>\n<name>methodName</name>\n<value><string>supervisor.stopProcess</string></value>\n</member>\n" +
				"<member>\n<name>params</name>\n<value><array><data>\n<value><string>x</string></value>\n<value><boolean>0</boolean></value>\n</data></array></value>\n</member>\n</struct></value>\n" +
				"</data></array></value>\n</param>\n</params>\n</methodCall>\n",
			wantMethod: "system.multicall",
			wantParams: []any{[]any{
				map[string]any{"methodName": "supervisor.getPID", "params": []any{}},
				map[string]any{"methodName": "supervisor.stopProcess", "params": []any{"x", false}},
			}},
		},
		{
			name: "every type",
			body: "<?xml version='1.0'?>\n<methodCall>\n<methodName>test.types</methodName>\n<params>\n" +
				"<param>\n<value><double>1.5</double></value>\n</param>\n" +
				"<param>\n<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n</param>\n" +
				"<param>\n<value><base64>\naGVsbG8gd29ybGQ=\n</base64></value>\n</param>\n" +
				"<param>\n<value><nil/></value></param>\n" +
				"<param>\n<value><i4>7</i4></value>\n</param>\n" +
				"<param>\n<value><i8>9999999999</i8></value>\n</param>\n" +
				"<param>\n<value>untyped </value>\n</param>\n" +
				"<param>\n<value></value>\n</param>\n" +
				"<param>\n<value><string></string></value>\n</param>\n" +
				"<param>\n<value><string>caf\u00e9 \U0001F600 &lt;&amp;&gt; &#233;&#x1F600;</string></value>\n</param>\n" +
				"<param>\n<value><ex:nil xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"/></value>\n</param>\n" +
				"</params>\n</methodCall>\n",
			wantMethod: "test.types",
			wantParams: []any{1.5, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), []byte("hello world"), nil, 7, 9999999999,
				"untyped ", "", "", "caf\u00e9 \U0001F600 <&> \u00e9\U0001F600", nil},
		},
		{
			name:       "no params element, comments, CRLF",
			body:       "<?xml version=\"1.0\"?>\r\n<!-- hi -->\r\n<methodCall><methodName>a.b</methodName></methodCall>\r\n<!-- bye -->\r\n",
			wantMethod: "a.b",
			wantParams: []any{},
		},
		{
			name:       "byte order mark",
			body:       "\uFEFF<?xml version='1.0'?><methodCall><methodName>a.b</methodName></methodCall>",
			wantMethod: "a.b",
			wantParams: []any{},
		},
		{
			name:       "ISO-8859-1",
			body:       "<?xml version='1.0' encoding='iso-8859-1'?>\n<methodCall><methodName>a.b</methodName><params><param><value><string>caf\xe9</string></value></param></params></methodCall>",
			wantMethod: "a.b",
			wantParams: []any{"caf\u00e9"},
		},
		{
			name:       "carriage returns: raw normalized, referenced kept",
			body:       "<methodCall><methodName>a.b</methodName><params><param><value>x\r\ny\rz&#13;\n</value></param></params></methodCall>",
			wantMethod: "a.b",
			wantParams: []any{"x\ny\nz\r\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, params, err := DecodeRequest(strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if method != tt.wantMethod {
				t.Errorf("method = %q, want %q", method, tt.wantMethod)
			}
			if !reflect.DeepEqual(params, tt.wantParams) {
				t.Errorf("params = %#v\nwant %#v", params, tt.wantParams)
			}
		})
	}
}

func TestDecodeRequestRejectsMalformed(t *testing.T) {
	call := func(value string) string {
		return "<methodCall><methodName>a.b</methodName><params><param><value>" + value + "</value></param></params></methodCall>"
	}
	deep := strings.Repeat("<value><array><data>", MaxDepth+1) + strings.Repeat("</data></array></value>", MaxDepth+1)
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"byte order mark only", "\uFEFF"},
		{"text before the root", "x<methodCall><methodName>a.b</methodName></methodCall>"},
		{"not XML", "garbage"},
		{"truncated", "<methodCall><methodName>a.b</methodName>"},
		{"wrong root", "<methodResponse><params/></methodResponse>"},
		{"no method name", "<methodCall><params/></methodCall>"},
		{"empty method name", "<methodCall><methodName></methodName></methodCall>"},
		{"two method names", "<methodCall><methodName>a.b</methodName><methodName>a.c</methodName></methodCall>"},
		{"element in method name", "<methodCall><methodName>a.<b/>b</methodName></methodCall>"},
		{"unknown element", "<methodCall><methodName>a.b</methodName><foo/></methodCall>"},
		{"text in params", "<methodCall><methodName>a.b</methodName><params>x</params></methodCall>"},
		{"param without value", "<methodCall><methodName>a.b</methodName><params><param></param></params></methodCall>"},
		{"param with two values", "<methodCall><methodName>a.b</methodName><params><param><value/><value/></param></params></methodCall>"},
		{"trailing element", "<methodCall><methodName>a.b</methodName></methodCall><x/>"},
		{"trailing text", "<methodCall><methodName>a.b</methodName></methodCall>x"},
		{"two roots", "<methodCall><methodName>a.b</methodName></methodCall><methodCall/>"},
		{"mismatched tags", "<methodCall><methodName>a.b</methodCall></methodName>"},
		{"DTD", "<!DOCTYPE methodCall [<!ENTITY x \"y\">]><methodCall><methodName>a.b&x;</methodName></methodCall>"},
		{"unknown entity", "<methodCall><methodName>a.b&x;</methodName></methodCall>"},
		{"control character", "<methodCall><methodName>a.b\x01</methodName></methodCall>"},
		{"control character reference", call("<string>&#1;</string>")},
		{"NUL reference", call("<string>&#0;</string>")},
		{"invalid UTF-8", call("<string>\xff</string>")},
		{"unknown charset", "<?xml version='1.0' encoding='ebcdic'?><methodCall><methodName>a.b</methodName></methodCall>"},
		{"unknown type", call("<foo>1</foo>")},
		{"bad int", call("<int>one</int>")},
		{"empty int", call("<int></int>")},
		{"int overflow", call("<int>99999999999999999999</int>")},
		{"float int", call("<int>1.5</int>")},
		{"bad boolean", call("<boolean>true</boolean>")},
		{"bad double", call("<double>x</double>")},
		{"bad dateTime", call("<dateTime.iso8601>yesterday</dateTime.iso8601>")},
		{"bad base64", call("<base64>!!!!</base64>")},
		{"non-empty nil", call("<nil>x</nil>")},
		{"two types", call("<int>1</int><int>2</int>")},
		{"text and type", call("x<int>1</int>")},
		{"type and text", call("<int>1</int>x")},
		{"element in string", call("<string><b/></string>")},
		{"array without data", call("<array></array>")},
		{"array with two data", call("<array><data/><data/></array>")},
		{"text in data", call("<array><data>x</data></array>")},
		{"non-value in data", call("<array><data><int>1</int></data></array>")},
		{"member without name", call("<struct><member><value/></member></struct>")},
		{"member without value", call("<struct><member><name>a</name></member></struct>")},
		{"member value then name", call("<struct><member><value/><name>a</name></member></struct>")},
		{"member with extra", call("<struct><member><name>a</name><value/><value/></member></struct>")},
		{"non-member in struct", call("<struct><value/></struct>")},
		{"too deep", call(strings.TrimSuffix(strings.TrimPrefix(deep, "<value>"), "</value>"))},
		{"unclosed deep", "<methodCall><methodName>a.b</methodName><params><param>" + strings.Repeat("<value><array><data>", 100000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, params, err := DecodeRequest(strings.NewReader(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeRequest = %q, %#v, %v; want an error wrapping ErrMalformed", method, params, err)
			}
		})
	}
}

// The deepest value DecodeRequest accepts is MaxDepth deep.
func TestDecodeRequestDepthLimit(t *testing.T) {
	var v any = 1
	for range MaxDepth - 1 {
		v = []any{v}
	}
	var buf bytes.Buffer
	if err := EncodeRequest(&buf, "a.b", v); err != nil {
		t.Fatal(err)
	}
	if _, params, err := DecodeRequest(&buf); err != nil || !reflect.DeepEqual(params, []any{v}) {
		t.Fatalf("DecodeRequest of a value %d deep: %v", MaxDepth, err)
	}
	if err := EncodeRequest(&buf, "a.b", []any{v}); err == nil {
		t.Fatalf("EncodeRequest of a value %d deep succeeded", MaxDepth+1)
	}
}

type info struct {
	Name     string `xmlrpc:"name"`
	Pid      int    `xmlrpc:"pid"`
	Skipped  string `xmlrpc:"-"`
	hidden   int
	Untagged bool
}

type Base struct {
	Group string `xmlrpc:"group"`
}

type extended struct {
	Base
	*Extra
	Name  string    `xmlrpc:"name"`
	Times []int64   `xmlrpc:"times"`
	When  time.Time `xmlrpc:"when"`
	Ptr   *int      `xmlrpc:"ptr"`
}

type Extra struct {
	Note string `xmlrpc:"note"`
}

// Values survive EncodeResponse and DecodeResponse as the decoder's types.
func TestRoundTrip(t *testing.T) {
	seven := 7
	when := time.Date(2024, 2, 29, 23, 59, 58, 999, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"int", 42, 42},
		{"negative int", -1600, -1600},
		{"int64 beyond 32 bits", int64(1) << 40, 1 << 40},
		{"uint8", uint8(255), 255},
		{"min int64", int64(math.MinInt64), math.MinInt64},
		{"true", true, true},
		{"false", false, false},
		{"string", "hello", "hello"},
		{"empty string", "", ""},
		{"escaping", `<a href="x">&amp;</a> ]]> '`, `<a href="x">&amp;</a> ]]> '`},
		{"white space", " \t\n x \n", " \t\n x \n"},
		{"carriage return", "a\r\nb\rc", "a\r\nb\rc"},
		{"unicode", "café, 日本語, \U0001F600, \u200b, \uFFFD", "café, 日本語, \U0001F600, \u200b, \uFFFD"},
		{"control characters", "a\x00b\x01c\x1bd\x7fe\u0085", "a\uFFFDb\uFFFDc\uFFFDd\x7fe\u0085"},
		{"invalid UTF-8", "a\xffb\xc3", "a\uFFFDb\uFFFD"},
		{"non-characters", "\uFFFE\uFFFF", "\uFFFD\uFFFD"},
		{"float", 1.5, 1.5},
		{"big float", 1e300, 1e300},
		{"small float", -1.25e-10, -1.25e-10},
		{"float32, shortest", float32(0.1), 0.1},
		{"infinity", math.Inf(-1), math.Inf(-1)},
		{"time, to the second, in UTC", when, time.Date(2024, 2, 29, 22, 59, 58, 0, time.UTC)},
		{"bytes", []byte("\x00\x01\xff binary"), []byte("\x00\x01\xff binary")},
		{"empty bytes", []byte{}, []byte{}},
		{"nil", nil, nil},
		{"nil pointer", (*int)(nil), nil},
		{"pointer", &seven, 7},
		{"empty array", []any{}, []any{}},
		{"nil slice", []string(nil), []any{}},
		{"strings", []string{"a", "b"}, []any{"a", "b"}},
		{"ints", []int{1, 2, 3}, []any{1, 2, 3}},
		{"go array", [2]bool{true, false}, []any{true, false}},
		{"mixed array", []any{1, "a", true, nil, 2.5, []any{}}, []any{1, "a", true, nil, 2.5, []any{}}},
		{"empty struct", map[string]any{}, map[string]any{}},
		{"nil map", map[string]any(nil), map[string]any{}},
		{"map", map[string]any{"statecode": 1, "statename": "RUNNING"}, map[string]any{"statecode": 1, "statename": "RUNNING"}},
		{"typed map", map[string]int{"a": 1, "<&>": 2}, map[string]any{"a": 1, "<&>": 2}},
		{"tagged struct", info{Name: "web", Pid: 12, Skipped: "x", hidden: 1, Untagged: true},
			map[string]any{"name": "web", "pid": 12, "Untagged": true}},
		{"embedded structs", extended{Base: Base{"g"}, Extra: &Extra{"n"}, Name: "x", Times: []int64{1, 2}, When: when, Ptr: &seven},
			map[string]any{"group": "g", "note": "n", "name": "x", "times": []any{1, 2}, "when": time.Date(2024, 2, 29, 22, 59, 58, 0, time.UTC), "ptr": 7}},
		{"nil embedded pointer", extended{},
			map[string]any{"group": "", "name": "", "times": []any{}, "when": time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "ptr": nil}},
		{"nested", []any{map[string]any{"a": []any{map[string]any{"b": []any{[]byte("z")}}}}},
			[]any{map[string]any{"a": []any{map[string]any{"b": []any{[]byte("z")}}}}}},
		{"struct slice", []info{{Name: "a"}, {Name: "b", Pid: 2}},
			[]any{map[string]any{"name": "a", "pid": 0, "Untagged": false}, map[string]any{"name": "b", "pid": 2, "Untagged": false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeResponse(&buf, tt.in); err != nil {
				t.Fatalf("EncodeResponse: %v", err)
			}
			encoded := buf.String()
			got, err := DecodeResponse(&buf)
			if err != nil {
				t.Fatalf("DecodeResponse: %v\n%s", err, encoded)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v\n%s", got, tt.want, encoded)
			}

			// The same value as a request param.
			buf.Reset()
			if err := EncodeRequest(&buf, "test.echo", tt.in, "after"); err != nil {
				t.Fatalf("EncodeRequest: %v", err)
			}
			method, params, err := DecodeRequest(&buf)
			if err != nil || method != "test.echo" || !reflect.DeepEqual(params, []any{tt.want, "after"}) {
				t.Errorf("DecodeRequest = %q, %#v, %v", method, params, err)
			}
		})
	}
}

func TestRoundTripNaN(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeResponse(&buf, math.NaN()); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeResponse(&buf)
	if f, ok := got.(float64); err != nil || !ok || !math.IsNaN(f) {
		t.Fatalf("got %v, %v; want NaN", got, err)
	}
}

// The layout is Python's: supervisord's bytes for the same answers.
func TestEncodeLikeSupervisord(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeFault(&buf, NewFault(UnknownMethod)); err != nil {
		t.Fatal(err)
	}
	const wantFault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n" +
		"<member>\n<name>faultCode</name>\n<value><int>1</int></value>\n</member>\n" +
		"<member>\n<name>faultString</name>\n<value><string>UNKNOWN_METHOD</string></value>\n</member>\n" +
		"</struct></value>\n</fault>\n</methodResponse>\n"
	if buf.String() != wantFault {
		t.Errorf("fault:\n%s\nwant\n%s", buf.String(), wantFault)
	}

	buf.Reset()
	if err := EncodeResponse(&buf, map[string]any{"statecode": 1, "statename": "RUNNING"}); err != nil {
		t.Fatal(err)
	}
	const wantState = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n" +
		"<member>\n<name>statecode</name>\n<value><int>1</int></value>\n</member>\n" +
		"<member>\n<name>statename</name>\n<value><string>RUNNING</string></value>\n</member>\n" +
		"</struct></value>\n</param>\n</params>\n</methodResponse>\n"
	if buf.String() != wantState {
		t.Errorf("getState:\n%s\nwant\n%s", buf.String(), wantState)
	}
}

func TestDecodeResponseFault(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeFault(&buf, Faultf(BadName, "%s", "<foo>")); err != nil {
		t.Fatal(err)
	}
	v, err := DecodeResponse(&buf)
	f, ok := errors.AsType[*Fault](err)
	if v != nil || !ok || f.Code != BadName || f.String != "BAD_NAME: <foo>" {
		t.Fatalf("DecodeResponse = %v, %v; want fault BAD_NAME: <foo>", v, err)
	}
	if !errors.Is(err, NewFault(BadName)) || errors.Is(err, NewFault(NoFile)) {
		t.Errorf("errors.Is does not compare fault codes")
	}
}

func TestEncodeRejectsUnsupported(t *testing.T) {
	type cycle struct {
		Next *cycle
	}
	loop := &cycle{}
	loop.Next = loop
	tests := []struct {
		name string
		in   any
	}{
		{"channel", make(chan int)},
		{"function", func() {}},
		{"complex", 1i},
		{"int keys", map[int]string{1: "a"}},
		{"nested channel", []any{1, map[string]any{"c": make(chan int)}}},
		{"cycle", loop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeResponse(&buf, tt.in); err == nil {
				t.Fatalf("EncodeResponse succeeded:\n%s", buf.String())
			}
			if buf.Len() != 0 {
				t.Errorf("EncodeResponse wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestFaultStrings(t *testing.T) {
	tests := []struct {
		f          *Fault
		wantCode   int
		wantString string
	}{
		{NewFault(UnknownMethod), 1, "UNKNOWN_METHOD"},
		{NewFault(IncorrectParameters), 2, "INCORRECT_PARAMETERS"},
		{Faultf(BadName, "%s", "foo"), 10, "BAD_NAME: foo"},
		{Faultf(SpawnError, "%s", "web"), 50, "SPAWN_ERROR: web"},
		{Faultf(BadArguments, ""), 3, "BAD_ARGUMENTS: "},
		{NewFault(CantReread), 92, "CANT_REREAD"},
		{NewFault(5), 5, "UNKNOWN"},
	}
	for _, tt := range tests {
		if tt.f.Code != tt.wantCode || tt.f.String != tt.wantString {
			t.Errorf("got %d %q, want %d %q", tt.f.Code, tt.f.String, tt.wantCode, tt.wantString)
		}
	}
	codes := map[string]int{
		"UNKNOWN_METHOD": UnknownMethod, "INCORRECT_PARAMETERS": IncorrectParameters, "BAD_ARGUMENTS": BadArguments,
		"SIGNATURE_UNSUPPORTED": SignatureUnsupported, "SHUTDOWN_STATE": ShutdownState, "BAD_NAME": BadName,
		"BAD_SIGNAL": BadSignal, "NO_FILE": NoFile, "NOT_EXECUTABLE": NotExecutable, "FAILED": Failed,
		"ABNORMAL_TERMINATION": AbnormalTermination, "SPAWN_ERROR": SpawnError, "ALREADY_STARTED": AlreadyStarted,
		"NOT_RUNNING": NotRunning, "SUCCESS": Success, "ALREADY_ADDED": AlreadyAdded, "STILL_RUNNING": StillRunning,
		"CANT_REREAD": CantReread,
	}
	// supervisor's numbers (spec §4.1).
	want := map[string]int{
		"UNKNOWN_METHOD": 1, "INCORRECT_PARAMETERS": 2, "BAD_ARGUMENTS": 3, "SIGNATURE_UNSUPPORTED": 4,
		"SHUTDOWN_STATE": 6, "BAD_NAME": 10, "BAD_SIGNAL": 11, "NO_FILE": 20, "NOT_EXECUTABLE": 21, "FAILED": 30,
		"ABNORMAL_TERMINATION": 40, "SPAWN_ERROR": 50, "ALREADY_STARTED": 60, "NOT_RUNNING": 70, "SUCCESS": 80,
		"ALREADY_ADDED": 90, "STILL_RUNNING": 91, "CANT_REREAD": 92,
	}
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("codes = %v, want %v", codes, want)
	}
	for name, code := range codes {
		if FaultName(code) != name {
			t.Errorf("FaultName(%d) = %q, want %q", code, FaultName(code), name)
		}
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []any
		want    []Kind
		wantErr error
		after   []any
	}{
		{"none", []any{}, nil, nil, []any{}},
		{"unexpected", []any{1}, nil, NewFault(IncorrectParameters), nil},
		{"missing", []any{}, []Kind{String}, NewFault(IncorrectParameters), nil},
		{"wrong type", []any{1}, []Kind{String}, NewFault(IncorrectParameters), nil},
		{"optional left out", []any{"web"}, []Kind{String, Bool | Optional}, nil, []any{"web"}},
		{"optional given", []any{"web", false}, []Kind{String, Bool | Optional}, nil, []any{"web", false}},
		{"too many", []any{"web", true, 1}, []Kind{String, Bool | Optional}, NewFault(IncorrectParameters), nil},
		{"int for bool", []any{"web", 0, 2}, []Kind{String, Bool, Bool}, nil, []any{"web", false, true}},
		{"string for bool", []any{"false"}, []Kind{Bool}, NewFault(IncorrectParameters), nil},
		{"bool for int", []any{true, false}, []Kind{Int, Int}, nil, []any{1, 0}},
		{"string for int", []any{"10"}, []Kind{Int}, NewFault(IncorrectParameters), nil},
		{"int for double", []any{3}, []Kind{Double}, nil, []any{3.0}},
		{"base64 for string", []any{[]byte("hi")}, []Kind{String}, nil, []any{"hi"}},
		{"base64 for base64", []any{[]byte("hi")}, []Kind{Base64 | String}, nil, []any{[]byte("hi")}},
		{"string or int", []any{"HUP"}, []Kind{String | Int}, nil, []any{"HUP"}},
		{"int or string", []any{1}, []Kind{String | Int}, nil, []any{1}},
		{"any", []any{nil, map[string]any{}, []any{}}, []Kind{Any, Any, Any}, nil, []any{nil, map[string]any{}, []any{}}},
		{"struct and array", []any{map[string]any{}, []any{}}, []Kind{Struct, Array}, nil, []any{map[string]any{}, []any{}}},
		{"array for struct", []any{[]any{}}, []Kind{Struct}, NewFault(IncorrectParameters), nil},
		{"nil for string", []any{nil}, []Kind{String}, NewFault(IncorrectParameters), nil},
		{"Go type", []any{int64(1)}, []Kind{Int}, NewFault(IncorrectParameters), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Args(tt.args, tt.want...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Args = %v, want %v", err, tt.wantErr)
			}
			if f, ok := errors.AsType[*Fault](err); ok && f.String != "INCORRECT_PARAMETERS" {
				t.Errorf("fault string %q, want the bare name", f.String)
			}
			if err == nil && !reflect.DeepEqual(tt.args, tt.after) {
				t.Errorf("args = %#v, want %#v", tt.args, tt.after)
			}
		})
	}
}

func TestArgsPanicsOnRequiredAfterOptional(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Args([]any{"a", "b"}, String|Optional, String)
}
