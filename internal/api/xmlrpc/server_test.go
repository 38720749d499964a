package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestServer returns a server with test.* methods covering every kind of
// answer.
func newTestServer(t *testing.T) *Server {
	t.Helper()
	s := NewServer()
	s.Logger = slog.New(slog.DiscardHandler)
	s.Register("test.echo", Method{
		Help:      "Return the arguments.",
		Signature: []string{"array"},
		Call:      func(_ context.Context, args []any) (any, error) { return args, nil },
	})
	s.Register("test.badName", Method{
		Help: ` Fail with BAD_NAME.

        @param string name  The name.
        @return boolean result  Never.
        `,
		Call: func(_ context.Context, args []any) (any, error) {
			if err := Args(args, String); err != nil {
				return nil, err
			}
			return nil, Faultf(BadName, "%s", args[0])
		},
	})
	s.Register("test.wrappedFault", Method{Call: func(context.Context, []any) (any, error) {
		return nil, fmt.Errorf("start web: %w", Faultf(AlreadyStarted, "%s", "web"))
	}})
	s.Register("test.error", Method{Call: func(context.Context, []any) (any, error) {
		return nil, errors.New("boom")
	}})
	s.Register("test.nilFault", Method{Call: func(context.Context, []any) (any, error) {
		var f *Fault
		return nil, f // the typed-nil mistake
	}})
	s.Register("test.panic", Method{Call: func(context.Context, []any) (any, error) {
		panic("kaboom")
	}})
	s.Register("test.unencodable", Method{Call: func(context.Context, []any) (any, error) {
		return make(chan int), nil
	}})
	s.Register("test.startProcess", Method{
		Help: `@param string name
               @param boolean wait
               @return boolean result`,
		Call: func(_ context.Context, args []any) (any, error) {
			if err := Args(args, String, Bool|Optional); err != nil {
				return nil, err
			}
			wait := true
			if len(args) > 1 {
				wait = args[1].(bool)
			}
			return map[string]any{"name": args[0], "wait": wait}, nil
		},
	})
	return s
}

func post(h http.Handler, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/RPC2", strings.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// call calls method on h as a client does and returns the decoded answer.
func call(t *testing.T, h http.Handler, method string, params ...any) (any, error) {
	t.Helper()
	var body bytes.Buffer
	if err := EncodeRequest(&body, method, params...); err != nil {
		t.Fatal(err)
	}
	w := post(h, body.String())
	if w.Code != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", method, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/xml" {
		t.Errorf("%s: Content-Type %q", method, ct)
	}
	if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
		t.Errorf("%s: Content-Length %q for %d bytes", method, cl, w.Body.Len())
	}
	v, err := DecodeResponse(w.Body)
	if err != nil {
		if _, ok := errors.AsType[*Fault](err); !ok {
			t.Fatalf("%s: %v", method, err)
		}
	}
	return v, err
}

// wantFault checks that err is the fault with exactly this code and string.
func wantFault(t *testing.T, err error, code int, text string) {
	t.Helper()
	f, ok := errors.AsType[*Fault](err)
	if !ok || f.Code != code || f.String != text {
		t.Errorf("got %v, want fault %d %q", err, code, text)
	}
}

func TestCallReturnsValue(t *testing.T) {
	s := newTestServer(t)
	v, err := call(t, s, "test.echo", "a", 1, true, map[string]any{"k": []any{2.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"a", 1, true, map[string]any{"k": []any{2.5}}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v, want %#v", v, want)
	}
}

func TestUncallableNamesAreUnknownMethod(t *testing.T) {
	s := newTestServer(t)
	for _, name := range []string{
		"echo", "test.echo.x", "test..echo", ".echo", "test.", "test._echo", "test.__init__",
		"nope.echo", "test.nope", "system.multicall.multicall", "Test.echo", " test.echo",
	} {
		_, err := call(t, s, name)
		wantFault(t, err, UnknownMethod, "UNKNOWN_METHOD")
	}
}

func TestFaultsAreAnsweredAsFaults(t *testing.T) {
	s := newTestServer(t)
	_, err := call(t, s, "test.badName", "foo")
	wantFault(t, err, BadName, "BAD_NAME: foo")
	_, err = call(t, s, "test.wrappedFault")
	wantFault(t, err, AlreadyStarted, "ALREADY_STARTED: web")
	_, err = call(t, s, "test.badName")
	wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
	_, err = call(t, s, "test.badName", 1)
	wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
}

func TestOptionalAndLenientArguments(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		params []any
		want   any
	}{
		{[]any{"web"}, map[string]any{"name": "web", "wait": true}},
		{[]any{"web", false}, map[string]any{"name": "web", "wait": false}},
		{[]any{"web", 0}, map[string]any{"name": "web", "wait": false}},
		{[]any{[]byte("web"), 1}, map[string]any{"name": "web", "wait": true}},
	}
	for _, tt := range tests {
		v, err := call(t, s, "test.startProcess", tt.params...)
		if err != nil || !reflect.DeepEqual(v, tt.want) {
			t.Errorf("startProcess%v = %v, %v; want %v", tt.params, v, err, tt.want)
		}
	}
	_, err := call(t, s, "test.startProcess", "web", true, true)
	wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
	_, err = call(t, s, "test.startProcess", "web", "false")
	wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
}

func TestHTTPErrors(t *testing.T) {
	s := newTestServer(t)
	request := func(method string) string {
		var b bytes.Buffer
		EncodeRequest(&b, method)
		return b.String()
	}
	tests := []struct {
		name     string
		method   string
		body     io.Reader
		length   int64 // -1: unknown (chunked)
		wantCode int
	}{
		{"GET", http.MethodGet, nil, 0, http.StatusBadRequest},
		{"PUT", http.MethodPut, strings.NewReader(request("test.echo")), -1, http.StatusBadRequest},
		{"not XML", http.MethodPost, strings.NewReader("garbage"), -1, http.StatusBadRequest},
		{"no method name", http.MethodPost, strings.NewReader("<methodCall><params/></methodCall>"), -1, http.StatusBadRequest},
		{"empty body", http.MethodPost, strings.NewReader(""), 0, http.StatusBadRequest},
		{"declared too large", http.MethodPost, strings.NewReader(request("test.echo")), MaxBody + 1, http.StatusRequestEntityTooLarge},
		{"too large", http.MethodPost, io.MultiReader(strings.NewReader("<methodCall><methodName>"), strings.NewReader(strings.Repeat("x", MaxBody))), -1, http.StatusRequestEntityTooLarge},
		{"error", http.MethodPost, strings.NewReader(request("test.error")), -1, http.StatusInternalServerError},
		{"panic", http.MethodPost, strings.NewReader(request("test.panic")), -1, http.StatusInternalServerError},
		{"typed nil fault", http.MethodPost, strings.NewReader(request("test.nilFault")), -1, http.StatusInternalServerError},
		{"unencodable", http.MethodPost, strings.NewReader(request("test.unencodable")), -1, http.StatusInternalServerError},
		{"largest body", http.MethodPost, strings.NewReader(request("test.echo") + strings.Repeat(" ", MaxBody-len(request("test.echo")))), -1, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/RPC2", tt.body)
			r.ContentLength = tt.length
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.wantCode, w.Body)
			}
			if tt.method != http.MethodPost && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", w.Header().Get("Allow"))
			}
		})
	}
}

func TestMethodErrorsAreLogged(t *testing.T) {
	var logs syncBuffer
	s := newTestServer(t)
	s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	post(s, requestBody(t, "test.error"))
	post(s, requestBody(t, "test.panic"))
	post(s, requestBody(t, "test.unencodable"))
	out := logs.String()
	for _, want := range []string{"method=test.error err=boom", "method=test.panic panic=kaboom", "stack=", "method=test.unencodable"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d log lines, want 3:\n%s", n, out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func requestBody(t *testing.T, method string, params ...any) string {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeRequest(&b, method, params...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestListMethodsIsSorted(t *testing.T) {
	s := newTestServer(t)
	v, err := call(t, s, "system.listMethods")
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		"system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall",
		"test.badName", "test.echo", "test.error", "test.nilFault", "test.panic", "test.startProcess", "test.unencodable", "test.wrappedFault",
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %v\nwant %v", v, want)
	}
	_, err = call(t, s, "system.listMethods", 1)
	wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
}

func TestMethodHelpAndSignature(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		name     string
		wantHelp string
		wantSig  any // []any, or a fault code
	}{
		{"test.echo", "Return the arguments.", []any{"array"}},
		{"test.badName", " Fail with BAD_NAME.\n\n        @param string name  The name.\n        @return boolean result  Never.\n        ", []any{"boolean", "string"}},
		{"test.startProcess", "@param string name\n               @param boolean wait\n               @return boolean result", []any{"boolean", "string", "boolean"}},
		{"test.error", "", SignatureUnsupported},
		{"system.listMethods", helpListMethods, []any{"array"}},
		{"system.methodHelp", helpMethodHelp, []any{"string", "string"}},
		{"system.methodSignature", helpMethodSignature, []any{"array", "string"}},
		{"system.multicall", helpMulticall, []any{"array", "array"}},
	}
	for _, tt := range tests {
		help, err := call(t, s, "system.methodHelp", tt.name)
		if err != nil || help != tt.wantHelp {
			t.Errorf("methodHelp(%s) = %q, %v; want %q", tt.name, help, err, tt.wantHelp)
		}
		sig, err := call(t, s, "system.methodSignature", tt.name)
		if code, ok := tt.wantSig.(int); ok {
			wantFault(t, err, code, FaultName(code))
		} else if err != nil || !reflect.DeepEqual(sig, tt.wantSig) {
			t.Errorf("methodSignature(%s) = %v, %v; want %v", tt.name, sig, err, tt.wantSig)
		}
	}
	for _, method := range []string{"system.methodHelp", "system.methodSignature"} {
		_, err := call(t, s, method, "test.nope")
		wantFault(t, err, SignatureUnsupported, "SIGNATURE_UNSUPPORTED")
		_, err = call(t, s, method)
		wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
	}
}

func TestMulticall(t *testing.T) {
	s := newTestServer(t)
	calls := []any{
		map[string]any{"methodName": "test.echo", "params": []any{"a", 1}},
		map[string]any{"methodName": "test.badName", "params": []any{"foo"}},
		map[string]any{"methodName": "system.multicall", "params": []any{[]any{}}},
		map[string]any{"params": []any{}},
		map[string]any{"methodName": "test.nope"},
		map[string]any{"methodName": "test.echo"},
		"not a struct",
		map[string]any{"methodName": "test.echo", "params": "ab"},
		map[string]any{"methodName": 1},
		map[string]any{"methodName": "test.error"},
		map[string]any{"methodName": "test.panic"},
		map[string]any{"methodName": "test.nilFault"},
		map[string]any{"methodName": "test.wrappedFault", "params": []any{}},
		map[string]any{"methodName": "system.listMethods", "params": []any{}},
	}
	v, err := call(t, s, "system.multicall", calls)
	if err != nil {
		t.Fatal(err)
	}
	fault := func(code int, text string) any { return map[string]any{"faultCode": code, "faultString": text} }
	want := []any{
		[]any{"a", 1}, // bare, as supervisord answers: no one-item array
		fault(BadName, "BAD_NAME: foo"),
		fault(IncorrectParameters, "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"),
		fault(IncorrectParameters, "INCORRECT_PARAMETERS: No methodName"),
		fault(UnknownMethod, "UNKNOWN_METHOD"),
		[]any{},
		fault(IncorrectParameters, "INCORRECT_PARAMETERS: call is not a struct"),
		fault(IncorrectParameters, "INCORRECT_PARAMETERS"),
		fault(IncorrectParameters, "INCORRECT_PARAMETERS: methodName is not a string"),
		fault(Failed, "FAILED: boom"),
		fault(Failed, "FAILED: panic in test.panic: kaboom"),
		fault(Failed, "FAILED: <nil>"),
		fault(AlreadyStarted, "ALREADY_STARTED: web"),
		nil, // replaced below
	}
	list, _ := call(t, s, "system.listMethods")
	want[len(want)-1] = list
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got  %#v\nwant %#v", v, want)
	}

	for _, params := range [][]any{{}, {"x"}, {[]any{}, 1}} {
		_, err := call(t, s, "system.multicall", params...)
		wantFault(t, err, IncorrectParameters, "INCORRECT_PARAMETERS")
	}
	if v, err := call(t, s, "system.multicall", []any{}); err != nil || !reflect.DeepEqual(v, []any{}) {
		t.Errorf("empty multicall = %v, %v", v, err)
	}
}

// Calls run in order, each finished before the next starts, as deferred
// calls are awaited in supervisord.
func TestMulticallRunsCallsInOrder(t *testing.T) {
	s := newTestServer(t)
	var order []string
	running := false
	s.Register("test.step", Method{Call: func(ctx context.Context, args []any) (any, error) {
		if running {
			t.Error("calls overlap")
		}
		running = true
		defer func() { running = false }()
		order = append(order, args[0].(string))
		return len(order), nil
	}})
	var calls []any
	for _, name := range []string{"a", "b", "c", "d"} {
		calls = append(calls, map[string]any{"methodName": "test.step", "params": []any{name}})
	}
	v, err := call(t, s, "system.multicall", calls)
	if err != nil || !reflect.DeepEqual(v, []any{1, 2, 3, 4}) || strings.Join(order, "") != "abcd" {
		t.Errorf("got %v, %v, order %v", v, err, order)
	}
}

// A Call that waits (startProcess with wait) sees its context cancelled
// when the client goes away.
func TestCallContextIsCancelledWhenClientLeaves(t *testing.T) {
	s := newTestServer(t)
	started := make(chan struct{})
	cancelled := make(chan struct{})
	s.Register("test.wait", Method{Call: func(ctx context.Context, _ []any) (any, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/RPC2", strings.NewReader(requestBody(t, "test.wait")))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	timeout := time.After(10 * time.Second)
	select {
	case <-started:
	case <-timeout:
		t.Fatal("method not called")
	}
	cancel()
	select {
	case <-cancelled:
	case <-timeout:
		t.Fatal("method's context not cancelled")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client: %v", err)
	}
}

func TestRegisterPanicsOnMisuse(t *testing.T) {
	call := func(context.Context, []any) (any, error) { return true, nil }
	tests := []struct {
		name   string
		method string
		m      Method
	}{
		{"no dot", "echo", Method{Call: call}},
		{"two dots", "a.b.c", Method{Call: call}},
		{"underscore", "a._b", Method{Call: call}},
		{"empty namespace", ".b", Method{Call: call}},
		{"empty method", "a.", Method{Call: call}},
		{"no Call", "a.b", Method{}},
		{"twice", "system.multicall", Method{Call: call}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			NewServer().Register(tt.method, tt.m)
		})
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := newTestServer(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprintf("n%d.m", i)
			s.Register(name, Method{Call: func(context.Context, []any) (any, error) { return i, nil }})
			w := post(s, requestBody(t, name))
			if v, err := DecodeResponse(w.Body); err != nil || v != i {
				t.Errorf("%s = %v, %v", name, v, err)
			}
			post(s, requestBody(t, "system.listMethods"))
		})
	}
	wg.Wait()
}
