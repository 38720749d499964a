package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MaxBody is the largest request body the server reads; larger ones are
// answered 413.
const MaxBody = 4 << 20

// Method is an XML-RPC method.
type Method struct {
	// Help is returned by system.methodHelp: supervisor returns the
	// method's docstring.
	Help string
	// Signature is returned by system.methodSignature: the return type,
	// then the type of each parameter, as XML-RPC names them
	// ({"boolean", "string", "boolean"}). When nil, Register derives it
	// from Help's "@return type name" and "@param type name" lines, as
	// supervisor derives it from docstrings; with no @return line,
	// system.methodSignature answers SIGNATURE_UNSUPPORTED.
	Signature []string
	// Call runs the method with the decoded arguments (see DecodeRequest
	// and Args) and returns the value to encode (see EncodeResponse) or
	// an error: a *Fault, possibly wrapped, is answered as that fault;
	// any other error is answered HTTP 500 (inside system.multicall, a
	// "FAILED: <error>" fault), as supervisord answers an unexpected
	// exception. Map the core's errors to faults in the method.
	//
	// Call may block: supervisor defers the response of
	// startProcess(name, wait=True) until the process is RUNNING, and a
	// Call does that by waiting before it returns. ctx is the request's:
	// it is cancelled when the client goes away, and the Call should then
	// stop waiting and return (what it returns is not delivered). Calls
	// run concurrently, one goroutine per request.
	Call func(ctx context.Context, args []any) (any, error)
}

// Server answers XML-RPC requests with the methods registered on it, and
// the introspection methods system.listMethods, system.methodHelp,
// system.methodSignature and system.multicall. It is safe for concurrent
// use.
type Server struct {
	// Logger receives unexpected errors and panics of methods;
	// slog.Default() when nil. Set it before serving.
	Logger *slog.Logger
	// Authorize, when set, is asked before every call (each call of a
	// system.multicall too) with the request's context, the method name
	// and its arguments; an error refuses the call and is answered as
	// Call errors are (return a *Fault). Set it before serving.
	Authorize func(ctx context.Context, method string, args []any) error

	mu      sync.RWMutex
	methods map[string]Method // by "namespace.method"; guarded by mu
}

// NewServer returns a server with the system.* methods.
func NewServer() *Server {
	s := &Server{methods: map[string]Method{}}
	s.Register("system.listMethods", Method{Help: helpListMethods, Call: s.listMethods})
	s.Register("system.methodHelp", Method{Help: helpMethodHelp, Call: s.methodHelp})
	s.Register("system.methodSignature", Method{Help: helpMethodSignature, Call: s.methodSignature})
	s.Register("system.multicall", Method{Help: helpMulticall, Call: s.multicall})
	return s
}

// Register adds the method name, "namespace.method". A name without
// exactly one dot or whose method part starts with "_" (clients cannot
// call those), a nil Call or a name registered twice is a programming
// error: Register panics, as http.ServeMux.Handle does.
func (s *Server) Register(name string, m Method) {
	if !callable(name) {
		panic(fmt.Sprintf("xmlrpc: bad method name %q", name))
	}
	if m.Call == nil {
		panic(fmt.Sprintf("xmlrpc: method %q has no Call", name))
	}
	if m.Signature == nil {
		m.Signature = signatureFromHelp(m.Help)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.methods[name]; dup {
		panic(fmt.Sprintf("xmlrpc: method %q registered twice", name))
	}
	s.methods[name] = m
}

// callable reports whether a client may call name: exactly one dot, and a
// method part not starting with "_" (supervisor's rules since
// CVE-2017-11610, spec §4).
func callable(name string) bool {
	ns, method, ok := strings.Cut(name, ".")
	return ok && ns != "" && method != "" && !strings.Contains(method, ".") && !strings.HasPrefix(method, "_")
}

func (s *Server) method(name string) (Method, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.methods[name]
	return m, ok
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ServeHTTP answers one XML-RPC request:
//
//	not POST                      400 (as supervisord), with Allow: POST
//	body over MaxBody             413
//	not XML-RPC, no method name   400
//	unknown or uncallable method  fault UNKNOWN_METHOD
//	Call returns a *Fault         that fault
//	Call returns another error    500, logged (supervisord: an unexpected exception)
//	Call panics                   500, logged with the stack
//	result cannot be encoded      500, logged
//
// A response is written in one piece with its Content-Length once the
// Call has returned.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusBadRequest)
		return
	}
	if r.ContentLength > MaxBody {
		httpError(w, http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			httpError(w, http.StatusRequestEntityTooLarge)
		} else {
			httpError(w, http.StatusBadRequest)
		}
		return
	}
	name, params, err := DecodeRequest(bytes.NewReader(body))
	if err != nil {
		s.logger().Debug("xmlrpc: bad request", "remote", r.RemoteAddr, "err", err)
		httpError(w, http.StatusBadRequest)
		return
	}

	ctx := r.Context()
	v, err := s.call(ctx, name, params)
	bp := responseBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 { // do not keep a huge log read around
			responseBufs.Put(bp)
		}
	}()
	buf := (*bp)[:0]
	if err != nil {
		if f, ok := errors.AsType[*Fault](err); ok && f != nil {
			buf, err = appendFault(buf, f), nil
		} else if ctx.Err() == nil && !errors.Is(err, errPanic) {
			s.logger().Error("xmlrpc: method failed", "method", name, "err", err)
		}
	} else {
		buf, err = appendResponse(buf, v)
		if err != nil {
			s.logger().Error("xmlrpc: cannot encode result", "method", name, "err", err)
		}
	}
	*bp = buf
	if err != nil {
		httpError(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.Write(buf)
}

// responseBufs recycles response buffers: status with many processes
// builds a 100 KB answer on every call, and growing it anew each time was
// a large part of the call.
var responseBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func httpError(w http.ResponseWriter, code int) {
	http.Error(w, http.StatusText(code), code)
}

// errPanic is wrapped by the error call returns for a panic, which call
// has logged already.
var errPanic = errors.New("panic")

// call runs the method name, turning an unknown name into UNKNOWN_METHOD
// and a panic into an error (logged here, with its stack).
func (s *Server) call(ctx context.Context, name string, args []any) (v any, err error) {
	m, ok := s.method(name)
	if !ok || !callable(name) {
		return nil, NewFault(UnknownMethod)
	}
	if s.Authorize != nil {
		if err := s.Authorize(ctx, name, args); err != nil {
			return nil, err
		}
	}
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("xmlrpc: method panicked", "method", name, "panic", p, "stack", string(debug.Stack()))
			v, err = nil, fmt.Errorf("%w in %s: %v", errPanic, name, p)
		}
	}()
	return m.Call(ctx, args)
}

// The docstrings of supervisor's system namespace, verbatim.
const (
	helpListMethods = ` Return an array listing the available method names

        @return array result  An array of method names available (strings).
        `
	helpMethodHelp = ` Return a string showing the method's documentation

        @param string name   The name of the method.
        @return string result The documentation for the method name.
        `
	helpMethodSignature = ` Return an array describing the method signature in the
        form [rtype, ptype, ptype...] where rtype is the return data type
        of the method, and ptypes are the parameter data types that the
        method accepts in method argument order.

        @param string name  The name of the method.
        @return array result  The result.
        `
	helpMulticall = `Process an array of calls, and return an array of
        results. Calls should be structs of the form {'methodName':
        string, 'params': array}. Each result will either be a
        single-item array containing the result value, or a struct of
        the form {'faultCode': int, 'faultString': string}. This is
        useful when you need to make lots of small calls without lots
        of round trips.

        @param array calls  An array of call requests
        @return array result  An array of results
        `
)

func (s *Server) listMethods(_ context.Context, args []any) (any, error) {
	if err := Args(args); err != nil {
		return nil, err
	}
	s.mu.RLock()
	names := make([]string, 0, len(s.methods))
	for name := range s.methods {
		names = append(names, name)
	}
	s.mu.RUnlock()
	slices.Sort(names)
	return names, nil
}

func (s *Server) methodHelp(_ context.Context, args []any) (any, error) {
	if err := Args(args, String); err != nil {
		return nil, err
	}
	m, ok := s.method(args[0].(string))
	if !ok {
		return nil, NewFault(SignatureUnsupported)
	}
	return m.Help, nil
}

func (s *Server) methodSignature(_ context.Context, args []any) (any, error) {
	if err := Args(args, String); err != nil {
		return nil, err
	}
	m, ok := s.method(args[0].(string))
	if !ok || len(m.Signature) == 0 {
		return nil, NewFault(SignatureUnsupported)
	}
	return m.Signature, nil
}

// multicall runs calls in order and returns, per call, its bare value or
// a {faultCode, faultString} struct, as supervisor's does (its docstring
// promises one-item arrays; its code, which clients rely on, does not wrap).
// A deferred call is waited for before the next one starts. Where
// supervisor answers HTTP 500 (a call that is not a struct, params that
// are not an array) each bad call gets an INCORRECT_PARAMETERS fault
// instead. When the client goes away, no further call starts.
func (s *Server) multicall(ctx context.Context, args []any) (any, error) {
	if err := Args(args, Array); err != nil {
		return nil, err
	}
	calls := args[0].([]any)
	results := make([]any, 0, len(calls))
	for _, c := range calls {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		results = append(results, s.multicallOne(ctx, c))
	}
	return results, nil
}

func (s *Server) multicallOne(ctx context.Context, c any) any {
	call, ok := c.(map[string]any)
	if !ok {
		return faultValue(Faultf(IncorrectParameters, "call is not a struct"))
	}
	var name string
	switch n := call["methodName"].(type) {
	case nil:
		return faultValue(Faultf(IncorrectParameters, "No methodName"))
	case string:
		name = n
	default:
		return faultValue(Faultf(IncorrectParameters, "methodName is not a string"))
	}
	if name == "system.multicall" {
		return faultValue(Faultf(IncorrectParameters, "Recursive system.multicall forbidden"))
	}
	params := []any{}
	if p, present := call["params"]; present {
		if params, ok = p.([]any); !ok {
			return faultValue(NewFault(IncorrectParameters))
		}
	}
	v, err := s.call(ctx, name, params)
	if err != nil {
		if f, ok := errors.AsType[*Fault](err); ok && f != nil {
			return faultValue(f)
		}
		if ctx.Err() == nil && !errors.Is(err, errPanic) {
			s.logger().Error("xmlrpc: method failed", "method", name, "err", err)
		}
		// supervisor: {'faultCode': FAILED, 'faultString': 'FAILED: <type>:<message>'}
		return faultValue(Faultf(Failed, "%v", err))
	}
	return v
}

func faultValue(f *Fault) map[string]any {
	return map[string]any{"faultCode": f.Code, "faultString": f.String}
}

// signatureFromHelp reads "@return type" and "@param type" lines as
// supervisor's gettags does: the last @return gives the return type, the
// @params the parameter types in order. Without @return, nil.
func signatureFromHelp(help string) []string {
	var sig []string
	haveReturn := false
	var params []string
	for line := range strings.Lines(help) {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "@") {
			continue
		}
		typ := ""
		if len(f) > 1 {
			typ = f[1]
		}
		switch f[0] {
		case "@return":
			sig, haveReturn = []string{typ}, true
		case "@param":
			params = append(params, typ)
		}
	}
	if !haveReturn {
		return nil
	}
	return append(sig, params...)
}
