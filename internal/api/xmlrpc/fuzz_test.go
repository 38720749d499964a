package xmlrpc

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeRequest checks that no body makes DecodeRequest panic, that
// what it decodes encodes back to the same values, and that the server
// answers any body 200 or 400, never 500. Seeds: testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte("<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getState</methodName>\n<params>\n</params>\n</methodCall>\n"))
	f.Add([]byte("<methodCall><methodName>test.echo</methodName><params><param><value><struct><member><name>a</name>" +
		"<value><array><data><value><int>1</int></value><value>x</value><value><nil/></value></data></array></value>" +
		"</member></struct></value></param></params></methodCall>"))

	s := NewServer()
	s.Register("test.echo", Method{Call: func(_ context.Context, args []any) (any, error) { return args, nil }})
	f.Fuzz(func(t *testing.T, body []byte) {
		method, params, err := DecodeRequest(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		} else {
			var buf bytes.Buffer
			if err := EncodeRequest(&buf, method, params...); err != nil {
				t.Fatalf("EncodeRequest of decoded params: %v", err)
			}
			method2, params2, err := DecodeRequest(&buf)
			if err != nil {
				t.Fatalf("decoding what we encoded: %v\n%s", err, buf.Bytes())
			}
			if method2 != method || !sameValue(params2, params) {
				t.Fatalf("round trip: %q %#v, then %q %#v", method, params, method2, params2)
			}
		}

		for _, name := range []string{"test.echo", "system.multicall"} {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/RPC2", bytes.NewReader(body)))
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("%s: HTTP %d", name, w.Code)
			}
			if _, err := DecodeResponse(w.Body); w.Code == http.StatusOK && err != nil {
				if _, fault := errors.AsType[*Fault](err); !fault {
					t.Fatalf("%s: our response does not decode: %v", name, err)
				}
			}
			body = bytes.Replace(body, []byte("test.echo"), []byte("system.multicall"), 1)
		}
	})
}

// sameValue is reflect.DeepEqual for decoded values, with NaN equal to NaN.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && (a == b || math.IsNaN(a) && math.IsNaN(b))
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	default:
		return a == b
	}
}

// FuzzEscape checks that escaped text parses back (with encoding/xml) to the
// input, each byte or rune XML cannot carry replaced by U+FFFD.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"plain", "a&b<c>d\r\n\te", "\x00\x1f\x7f", "é\u2028\uFFFE\U0001F600", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e encoder
		e.escape(s)
		var got struct {
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal(append(append([]byte("<a>"), e.b...), "</a>"...), &got); err != nil {
			t.Fatalf("escape(%q) = %q: %v", s, e.b, err)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
				r = utf8.RuneError
			}
			want.WriteRune(r)
			i += size
		}
		if got.Text != want.String() {
			t.Fatalf("escape(%q) reads back as %q, want %q", s, got.Text, want.String())
		}
	})
}
