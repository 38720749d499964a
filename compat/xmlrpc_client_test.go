package compat

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A minimal XML-RPC client, written here rather than shared with gafferd's
// codec so that the tests do not trust the code they check.

// fault is an XML-RPC fault answer.
type fault struct {
	Code   int
	String string
}

func (f *fault) Error() string { return fmt.Sprintf("fault %d: %s", f.Code, f.String) }

// methodCall encodes a call; params are string, int, bool, []any or map[string]any.
func methodCall(method string, params ...any) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<methodCall><methodName>" + html.EscapeString(method) + "</methodName><params>")
	for _, p := range params {
		b.WriteString("<param>")
		encodeValue(&b, p)
		b.WriteString("</param>")
	}
	b.WriteString("</params></methodCall>\n")
	return b.String()
}

func encodeValue(b *strings.Builder, v any) {
	b.WriteString("<value>")
	switch v := v.(type) {
	case string:
		b.WriteString("<string>" + html.EscapeString(v) + "</string>")
	case int:
		b.WriteString("<int>" + strconv.Itoa(v) + "</int>")
	case bool:
		if v {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case []any:
		b.WriteString("<array><data>")
		for _, e := range v {
			encodeValue(b, e)
		}
		b.WriteString("</data></array>")
	case map[string]any:
		b.WriteString("<struct>")
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString("<member><name>" + html.EscapeString(k) + "</name>")
			encodeValue(b, v[k])
			b.WriteString("</member>")
		}
		b.WriteString("</struct>")
	default:
		panic(fmt.Sprintf("methodCall: unsupported %T", v))
	}
	b.WriteString("</value>")
}

// xnode is a generic XML element.
type xnode struct {
	XMLName  xml.Name
	Text     string  `xml:",chardata"`
	Children []xnode `xml:",any"`
}

func (n xnode) child(name string) (xnode, bool) {
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c, true
		}
	}
	return xnode{}, false
}

// decodeResponse decodes a methodResponse into a Go value (string, int, bool,
// float64, []any, map[string]any, []byte, nil) or a *fault.
func decodeResponse(body []byte) (any, error) {
	var root xnode
	if err := xml.Unmarshal(body, &root); err != nil {
		return nil, fmt.Errorf("decoding %q: %w", body, err)
	}
	if root.XMLName.Local != "methodResponse" {
		return nil, fmt.Errorf("not a methodResponse: %q", body)
	}
	if f, ok := root.child("fault"); ok {
		v, ok := f.child("value")
		if !ok {
			return nil, fmt.Errorf("fault without value: %q", body)
		}
		fv, err := decodeValue(v)
		if err != nil {
			return nil, err
		}
		m, _ := fv.(map[string]any)
		code, ok1 := m["faultCode"].(int)
		text, ok2 := m["faultString"].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("malformed fault %#v", fv)
		}
		return nil, &fault{code, text}
	}
	params, _ := root.child("params")
	param, ok := params.child("param")
	if !ok {
		return nil, fmt.Errorf("response without a param: %q", body)
	}
	v, ok := param.child("value")
	if !ok {
		return nil, fmt.Errorf("param without value: %q", body)
	}
	return decodeValue(v)
}

func decodeValue(v xnode) (any, error) {
	if len(v.Children) == 0 {
		return v.Text, nil // no type element: a string
	}
	c := v.Children[0]
	switch c.XMLName.Local {
	case "string":
		return c.Text, nil
	case "int", "i4", "i8":
		return strconv.Atoi(strings.TrimSpace(c.Text))
	case "boolean":
		switch strings.TrimSpace(c.Text) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("boolean %q", c.Text)
	case "double":
		return strconv.ParseFloat(strings.TrimSpace(c.Text), 64)
	case "nil":
		return nil, nil
	case "dateTime.iso8601":
		return c.Text, nil
	case "base64":
		return base64.StdEncoding.DecodeString(strings.TrimSpace(c.Text))
	case "array":
		out := []any{}
		data, _ := c.child("data")
		for _, e := range data.Children {
			x, err := decodeValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case "struct":
		out := map[string]any{}
		for _, m := range c.Children {
			name, _ := m.child("name")
			val, ok := m.child("value")
			if !ok {
				return nil, fmt.Errorf("struct member %q without value", name.Text)
			}
			x, err := decodeValue(val)
			if err != nil {
				return nil, err
			}
			out[name.Text] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown XML-RPC type <%s>", c.XMLName.Local)
}

// post sends body to /RPC2 and returns the HTTP status and answer.
func (d *daemon) post(body string) (int, []byte, error) {
	req, err := http.NewRequest("POST", "http://localhost/RPC2", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// tryRPC calls a method; the error is a *fault or a transport problem.
func (d *daemon) tryRPC(method string, params ...any) (any, error) {
	code, body, err := d.post(methodCall(method, params...))
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", method, code, body)
	}
	return decodeResponse(body)
}

// rpc calls a method that must succeed.
func (d *daemon) rpc(method string, params ...any) any {
	d.t.Helper()
	v, err := d.tryRPC(method, params...)
	if err != nil {
		d.t.Fatalf("%s %v: %v", method, params, err)
	}
	return v
}

// rpcFault calls a method that must fail with the given fault.
func (d *daemon) rpcFault(code int, text string, method string, params ...any) {
	d.t.Helper()
	v, err := d.tryRPC(method, params...)
	f, ok := err.(*fault)
	if !ok {
		d.t.Errorf("%s %v = %#v, %v; want fault %d %q", method, params, v, err, code, text)
		return
	}
	if f.Code != code || f.String != text {
		d.t.Errorf("%s %v: fault %d %q; want %d %q", method, params, f.Code, f.String, code, text)
	}
}

// since is time.Since, rounded for messages.
func since(t0 time.Time) time.Duration { return time.Since(t0).Round(time.Millisecond) }
