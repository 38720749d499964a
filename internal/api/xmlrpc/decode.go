package xmlrpc

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error DecodeRequest and DecodeResponse
// return for input that is not well-formed XML-RPC (the server answers such
// a request with HTTP 400).
var ErrMalformed = errors.New("malformed XML-RPC")

// MaxDepth bounds how deeply arrays and structs may nest in a decoded value:
// a value at the top of a param is at depth 1. Supervisor's methods take flat
// values, system.multicall four levels (calls, call, params, param); the bound
// keeps a hostile body from costing more than its size, and the encoder
// refuses deeper values (a cycle) so that we can read all we write.
const MaxDepth = 64

// DecodeRequest decodes a <methodCall>. Values become Go values:
//
//	<int>, <i4>, <i8>          int
//	<boolean>                  bool (0 or 1 only)
//	<string>, untyped <value>  string (untyped text is kept as is, white space included)
//	<double>                   float64
//	<dateTime.iso8601>         time.Time in UTC (20060102T15:04:05, also with dashes or a zone)
//	<base64>                   []byte (white space ignored, padding optional)
//	<struct>                   map[string]any (a repeated member name: the last wins)
//	<array>                    []any
//	<nil/>                     nil (the extension Python sends with allow_none)
//
// Element names are matched without their namespace prefix, so <ex:nil/>
// and <ex:i8> (Apache's extensions) work. A missing <params> means no params;
// an empty or missing <methodName> is an error. Input in ISO-8859-1 or
// US-ASCII is accepted when the XML declaration says so. Anything else that
// is not XML-RPC (unknown types, text between elements, a DTD, trailing
// content, nesting beyond MaxDepth, characters XML forbids) is an error
// wrapping ErrMalformed. The caller bounds the size of r.
func DecodeRequest(r io.Reader) (method string, params []any, err error) {
	p := newParser(r)
	root, err := p.root()
	if err != nil {
		return "", nil, err
	}
	if root.Name.Local != "methodCall" {
		return "", nil, p.errorf("root element is <%s>, want <methodCall>", root.Name.Local)
	}
	var haveName, haveParams bool
	for {
		el, ok, err := p.child()
		if err != nil {
			return "", nil, err
		}
		if !ok {
			break
		}
		switch {
		case el.Name.Local == "methodName" && !haveName:
			haveName = true
			if method, err = p.text(); err != nil {
				return "", nil, err
			}
		case el.Name.Local == "params" && !haveParams:
			haveParams = true
			if params, err = p.params(); err != nil {
				return "", nil, err
			}
		default:
			return "", nil, p.errorf("unexpected <%s> in <methodCall>", el.Name.Local)
		}
	}
	if err := p.end(); err != nil {
		return "", nil, err
	}
	if method == "" {
		return "", nil, p.errorf("no method name")
	}
	if params == nil {
		params = []any{}
	}
	return method, params, nil
}

// DecodeResponse decodes a <methodResponse>: its value, or a *Fault as the
// error when it holds a <fault>. Values decode as in DecodeRequest.
func DecodeResponse(r io.Reader) (any, error) {
	p := newParser(r)
	root, err := p.root()
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "methodResponse" {
		return nil, p.errorf("root element is <%s>, want <methodResponse>", root.Name.Local)
	}
	el, ok, err := p.child()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.errorf("empty <methodResponse>")
	}
	var v any
	var fault *Fault
	switch el.Name.Local {
	case "params":
		params, err := p.params()
		if err != nil {
			return nil, err
		}
		if len(params) != 1 {
			return nil, p.errorf("%d params in <methodResponse>, want 1", len(params))
		}
		v = params[0]
	case "fault":
		if v, err = p.valueElement("fault"); err != nil {
			return nil, err
		}
		if err := p.noMoreChildren("fault"); err != nil {
			return nil, err
		}
		m, _ := v.(map[string]any)
		code, okCode := m["faultCode"].(int)
		text, okText := m["faultString"].(string)
		if !okCode || !okText {
			return nil, p.errorf("<fault> is not a {faultCode: int, faultString: string} struct")
		}
		fault = &Fault{Code: code, String: text}
	default:
		return nil, p.errorf("unexpected <%s> in <methodResponse>", el.Name.Local)
	}
	if err := p.noMoreChildren("methodResponse"); err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	if fault != nil {
		return nil, fault
	}
	return v, nil
}

// parser reads XML-RPC from a strict xml.Decoder. It recurses only through
// nested values, at most MaxDepth deep.
type parser struct {
	d *xml.Decoder
}

func newParser(r io.Reader) *parser {
	// encoding/xml takes a byte order mark for text; .NET clients send one.
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = charsetReader
	return &parser{d: d}
}

func (p *parser) errorf(format string, a ...any) error {
	line, _ := p.d.InputPos()
	return fmt.Errorf("xmlrpc: %w: line %d: %s", ErrMalformed, line, fmt.Sprintf(format, a...))
}

// token returns the next start tag, end tag or text, skipping comments and
// processing instructions (the XML declaration among them). A DTD is
// refused: XML-RPC has no use for one, and refusing it leaves no entity
// tricks to think about. Text is copied, as the decoder reuses its buffer.
func (p *parser) token() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, p.errorf("unexpected end of input")
			}
			return nil, fmt.Errorf("xmlrpc: %w: %w", ErrMalformed, err)
		}
		switch t := t.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			return t.Copy(), nil
		case xml.Directive:
			return nil, p.errorf("<!%s> not allowed", firstWord(t))
		}
	}
}

func firstWord(b []byte) string {
	if f := strings.Fields(string(b)); len(f) > 0 && len(f[0]) < 20 {
		return f[0]
	}
	return "..."
}

func isSpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

// root returns the document's root element.
func (p *parser) root() (xml.StartElement, error) {
	el, ok, err := p.child()
	if err != nil {
		return el, err
	}
	if !ok {
		return el, p.errorf("no root element")
	}
	return el, nil
}

// end checks that nothing but white space, comments and processing
// instructions follows the root element.
func (p *parser) end() error {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("xmlrpc: %w: %w", ErrMalformed, err)
		}
		switch t := t.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if !isSpace(t) {
				return p.errorf("text after the root element")
			}
		default:
			return p.errorf("content after the root element")
		}
	}
}

// child returns the next child element of the current element, or ok false
// when the current element ends. Text other than white space is an error.
func (p *parser) child() (el xml.StartElement, ok bool, err error) {
	for {
		t, err := p.token()
		if err != nil {
			return el, false, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			return t, true, nil
		case xml.EndElement:
			return el, false, nil
		case xml.CharData:
			if !isSpace(t) {
				return el, false, p.errorf("unexpected text %.20q", t)
			}
		}
	}
}

// expect reads the next child element, which must be named name.
func (p *parser) expect(name, in string) error {
	el, ok, err := p.child()
	if err != nil {
		return err
	}
	if !ok {
		return p.errorf("no <%s> in <%s>", name, in)
	}
	if el.Name.Local != name {
		return p.errorf("unexpected <%s> in <%s>, want <%s>", el.Name.Local, in, name)
	}
	return nil
}

// noMoreChildren reads the end of the current element, named in.
func (p *parser) noMoreChildren(in string) error {
	el, ok, err := p.child()
	if err != nil {
		return err
	}
	if ok {
		return p.errorf("unexpected <%s> in <%s>", el.Name.Local, in)
	}
	return nil
}

// text returns the text of the current element, up to its end tag; a child
// element is an error.
func (p *parser) text() (string, error) {
	var b strings.Builder
	for {
		t, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.StartElement:
			return "", p.errorf("unexpected <%s> in text", t.Name.Local)
		case xml.EndElement:
			return b.String(), nil
		case xml.CharData:
			b.Write(t)
		}
	}
}

// params reads the content of <params>: <param><value>...</value></param>*.
func (p *parser) params() ([]any, error) {
	params := []any{}
	for {
		el, ok, err := p.child()
		if err != nil {
			return nil, err
		}
		if !ok {
			return params, nil
		}
		if el.Name.Local != "param" {
			return nil, p.errorf("unexpected <%s> in <params>", el.Name.Local)
		}
		v, err := p.valueElement("param")
		if err != nil {
			return nil, err
		}
		if err := p.noMoreChildren("param"); err != nil {
			return nil, err
		}
		params = append(params, v)
	}
}

// valueElement reads a <value> element, the next child of the current one
// (named in), as a top-level value.
func (p *parser) valueElement(in string) (any, error) {
	if err := p.expect("value", in); err != nil {
		return nil, err
	}
	return p.value(1)
}

// value reads the content of a <value> whose start tag was just read: text
// alone (an untyped string), or one type element surrounded by white space.
func (p *parser) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("values nested more than %d deep", MaxDepth)
	}
	var text []byte
	var v any
	typed := false
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			if typed && !isSpace(t) {
				return nil, p.errorf("text after the type element in <value>")
			}
			if !typed {
				text = append(text, t...)
			}
		case xml.StartElement:
			if typed {
				return nil, p.errorf("<value> holds more than one element")
			}
			if !isSpace(text) {
				return nil, p.errorf("text before <%s> in <value>", t.Name.Local)
			}
			if v, err = p.typed(t.Name.Local, depth); err != nil {
				return nil, err
			}
			typed = true
		case xml.EndElement:
			if typed {
				return v, nil
			}
			return string(text), nil
		}
	}
}

// typed reads the content of a type element such as <int>, up to its end.
func (p *parser) typed(kind string, depth int) (any, error) {
	switch kind {
	case "struct":
		return p.structValue(depth)
	case "array":
		return p.arrayValue(depth)
	}
	s, err := p.text()
	if err != nil {
		return nil, err
	}
	switch kind {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
		if err != nil {
			return nil, p.errorf("bad <%s> %.40q", kind, s)
		}
		return int(n), nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, p.errorf("bad <boolean> %.40q, want 0 or 1", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, p.errorf("bad <double> %.40q", s)
		}
		return f, nil
	case "dateTime.iso8601":
		t, err := parseDateTime(strings.TrimSpace(s))
		if err != nil {
			return nil, p.errorf("bad <dateTime.iso8601> %.40q", s)
		}
		return t, nil
	case "base64":
		b, err := decodeBase64(s)
		if err != nil {
			return nil, p.errorf("bad <base64>: %v", err)
		}
		return b, nil
	case "nil":
		if strings.TrimSpace(s) != "" {
			return nil, p.errorf("<nil> is not empty")
		}
		return nil, nil
	}
	return nil, p.errorf("unknown type <%s>", kind)
}

func (p *parser) structValue(depth int) (map[string]any, error) {
	m := map[string]any{}
	for {
		el, ok, err := p.child()
		if err != nil {
			return nil, err
		}
		if !ok {
			return m, nil
		}
		if el.Name.Local != "member" {
			return nil, p.errorf("unexpected <%s> in <struct>", el.Name.Local)
		}
		if err := p.expect("name", "member"); err != nil {
			return nil, err
		}
		name, err := p.text()
		if err != nil {
			return nil, err
		}
		if err := p.expect("value", "member"); err != nil {
			return nil, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.noMoreChildren("member"); err != nil {
			return nil, err
		}
		m[name] = v
	}
}

func (p *parser) arrayValue(depth int) ([]any, error) {
	if err := p.expect("data", "array"); err != nil {
		return nil, err
	}
	a := []any{}
	for {
		el, ok, err := p.child()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if el.Name.Local != "value" {
			return nil, p.errorf("unexpected <%s> in <data>", el.Name.Local)
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	if err := p.noMoreChildren("array"); err != nil {
		return nil, err
	}
	return a, nil
}

// dateTimeLayouts: Python's xmlrpc.client sends the first; the others are
// ISO 8601 forms other clients use.
var dateTimeLayouts = []string{
	"20060102T15:04:05",
	"2006-01-02T15:04:05",
	"20060102T15:04:05Z07:00",
	time.RFC3339,
}

func parseDateTime(s string) (time.Time, error) {
	var t time.Time
	var err error
	for _, layout := range dateTimeLayouts {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, err
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, errors.New("year out of range")
	}
	return t, nil
}

// decodeBase64 decodes standard base64, ignoring white space (Python wraps
// lines at 76 characters) and tolerating missing padding.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// charsetReader lets the decoder read the single-byte encodings a client may
// declare (Python's ServerProxy(encoding="iso-8859-1") does); UTF-8 is
// handled by encoding/xml itself.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf8":
		return input, nil
	case "iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii":
		br, ok := input.(io.ByteReader)
		if !ok {
			return nil, errors.New("xmlrpc: input is not an io.ByteReader")
		}
		return &latin1Reader{r: br}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", charset)
}

// latin1Reader converts ISO-8859-1 (of which US-ASCII is a subset) to UTF-8.
type latin1Reader struct {
	r    io.ByteReader
	pend []byte // the rest of a multi-byte rune that did not fit
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pend) > 0 {
			c := copy(p[n:], l.pend)
			l.pend = l.pend[c:]
			n += c
			continue
		}
		b, err := l.r.ReadByte()
		if err != nil {
			return n, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		l.pend = utf8.AppendRune(l.pend[:0], rune(b))
	}
	return n, nil
}
