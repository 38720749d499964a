package xmlrpc

import (
	"encoding/base64"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The layout of what we write follows Python's xmlrpc.client.dumps, which
// supervisord uses, so that responses can be compared byte for byte.
const (
	xmlHeader      = "<?xml version='1.0'?>\n"
	dateTimeLayout = "20060102T15:04:05"
)

// EncodeResponse writes a <methodResponse> holding v. Go values map to
// XML-RPC types as follows:
//
//	bool                             <boolean>
//	int, int8..int64, uint..uint64   <int> (any 64-bit value: Python reads it; supervisor caps
//	                                 times to 32 bits itself, a method's business)
//	float32, float64                 <double>, in decimal notation (NaN, +Inf, -Inf as Python reads them)
//	string                           <string>, escaped; see below for characters XML cannot carry
//	[]byte                           <base64>
//	time.Time                        <dateTime.iso8601>, in UTC, to the second
//	slices and arrays ([]any, []string, [3]int...)   <array>; a nil slice is an empty array
//	maps with string keys            <struct>, members sorted by key; a nil map is an empty struct
//	structs                          <struct>, exported fields in order, named by their
//	                                 `xmlrpc:"name"` tag or else the field name; `xmlrpc:"-"`
//	                                 skips a field; embedded structs are flattened
//	pointers, interfaces             what they point to
//	nil (untyped, or a nil pointer or interface)        <nil/>
//
// Strings: &, < and > are escaped as Python escapes them, and \r as &#13;
// so that it survives the parser's newline normalization. XML 1.0 cannot
// carry the other C0 control characters (anything below 0x20 but tab and
// newline), U+FFFE, U+FFFF nor invalid UTF-8, not even as character
// references: Python's parser rejects the whole response ("not well-formed
// (invalid token)"), which is what supervisord sends when a log holds such
// bytes and supervisorctl's tail then fails. We write U+FFFD in their place,
// one per invalid byte or forbidden character, so the rest of the text
// arrives.
//
// <nil/> is an extension, but Python's client parses it whether or not
// allow_none is set (allow_none only lets it send None); supervisord itself
// never returns None, so methods should not return nil either.
//
// Other types (channels, functions, complex numbers, maps with other keys)
// and values nested deeper than MaxDepth (a cycle) are an error, and nothing
// is written.
func EncodeResponse(w io.Writer, v any) error {
	b, err := appendResponse(nil, v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func appendResponse(b []byte, v any) ([]byte, error) {
	e := encoder{b: append(b, xmlHeader+"<methodResponse>\n<params>\n<param>\n"...)}
	if err := e.value(reflect.ValueOf(v), 1); err != nil {
		return b, err
	}
	return append(e.b, "</param>\n</params>\n</methodResponse>\n"...), nil
}

// EncodeFault writes a <methodResponse> holding the fault f.
func EncodeFault(w io.Writer, f *Fault) error {
	_, err := w.Write(appendFault(nil, f))
	return err
}

func appendFault(b []byte, f *Fault) []byte {
	e := encoder{b: append(b, xmlHeader+"<methodResponse>\n<fault>\n"...)}
	e.faultStruct(f)
	return append(e.b, "</fault>\n</methodResponse>\n"...)
}

// EncodeRequest writes a <methodCall> of method with params, encoded as
// EncodeResponse encodes its value.
func EncodeRequest(w io.Writer, method string, params ...any) error {
	e := encoder{b: []byte(xmlHeader + "<methodCall>\n<methodName>")}
	e.escape(method)
	e.b = append(e.b, "</methodName>\n<params>\n"...)
	for _, p := range params {
		e.b = append(e.b, "<param>\n"...)
		if err := e.value(reflect.ValueOf(p), 1); err != nil {
			return err
		}
		e.b = append(e.b, "</param>\n"...)
	}
	e.b = append(e.b, "</params>\n</methodCall>\n"...)
	_, err := w.Write(e.b)
	return err
}

type encoder struct {
	b []byte
}

var timeType = reflect.TypeFor[time.Time]()

func (e *encoder) value(v reflect.Value, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("xmlrpc: cannot encode values nested more than %d deep", MaxDepth)
	}
	switch v.Kind() {
	case reflect.Invalid:
		e.b = append(e.b, "<value><nil/></value>\n"...)
	case reflect.Bool:
		if v.Bool() {
			e.b = append(e.b, "<value><boolean>1</boolean></value>\n"...)
		} else {
			e.b = append(e.b, "<value><boolean>0</boolean></value>\n"...)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.b = append(e.b, "<value><int>"...)
		e.b = strconv.AppendInt(e.b, v.Int(), 10)
		e.b = append(e.b, "</int></value>\n"...)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.b = append(e.b, "<value><int>"...)
		e.b = strconv.AppendUint(e.b, v.Uint(), 10)
		e.b = append(e.b, "</int></value>\n"...)
	case reflect.Float32, reflect.Float64:
		e.b = append(e.b, "<value><double>"...)
		e.b = strconv.AppendFloat(e.b, v.Float(), 'f', -1, v.Type().Bits())
		e.b = append(e.b, "</double></value>\n"...)
	case reflect.String:
		e.b = append(e.b, "<value><string>"...)
		e.escape(v.String())
		e.b = append(e.b, "</string></value>\n"...)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			e.base64(v.Bytes())
			return nil
		}
		return e.array(v, depth)
	case reflect.Array:
		return e.array(v, depth)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("xmlrpc: cannot encode %s: struct member names are strings", v.Type())
		}
		return e.mapStruct(v, depth)
	case reflect.Struct:
		if v.Type() == timeType {
			if !v.CanInterface() {
				return fmt.Errorf("xmlrpc: cannot encode a time.Time promoted from an unexported embedded struct")
			}
			t := v.Interface().(time.Time).UTC()
			if t.Year() < 1 || t.Year() > 9999 {
				return fmt.Errorf("xmlrpc: cannot encode %v: year out of range", t)
			}
			e.b = append(e.b, "<value><dateTime.iso8601>"...)
			e.b = t.AppendFormat(e.b, dateTimeLayout)
			e.b = append(e.b, "</dateTime.iso8601></value>\n"...)
			return nil
		}
		return e.fieldStruct(v, depth)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.b = append(e.b, "<value><nil/></value>\n"...)
			return nil
		}
		return e.value(v.Elem(), depth)
	default:
		return fmt.Errorf("xmlrpc: cannot encode %s", v.Type())
	}
	return nil
}

func (e *encoder) base64(b []byte) {
	e.b = append(e.b, "<value><base64>\n"...)
	e.b = base64.StdEncoding.AppendEncode(e.b, b)
	e.b = append(e.b, "\n</base64></value>\n"...)
}

func (e *encoder) array(v reflect.Value, depth int) error {
	e.b = append(e.b, "<value><array><data>\n"...)
	for i := range v.Len() {
		if err := e.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	e.b = append(e.b, "</data></array></value>\n"...)
	return nil
}

func (e *encoder) member(name string, v reflect.Value, depth int) error {
	e.b = append(e.b, "<member>\n<name>"...)
	e.escape(name)
	e.b = append(e.b, "</name>\n"...)
	if err := e.value(v, depth+1); err != nil {
		return err
	}
	e.b = append(e.b, "</member>\n"...)
	return nil
}

func (e *encoder) mapStruct(v reflect.Value, depth int) error {
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	e.b = append(e.b, "<value><struct>\n"...)
	for _, k := range keys {
		if err := e.member(k.String(), v.MapIndex(k), depth); err != nil {
			return err
		}
	}
	e.b = append(e.b, "</struct></value>\n"...)
	return nil
}

func (e *encoder) fieldStruct(v reflect.Value, depth int) error {
	e.b = append(e.b, "<value><struct>\n"...)
	for _, f := range structFields(v.Type()) {
		fv, err := v.FieldByIndexErr(f.index)
		if err != nil {
			continue // promoted through a nil embedded pointer
		}
		if err := e.member(f.name, fv, depth); err != nil {
			return err
		}
	}
	e.b = append(e.b, "</struct></value>\n"...)
	return nil
}

// field is one member a struct type encodes to.
type field struct {
	name  string
	index []int
}

// fieldCache maps a struct type to its members: computing them takes most
// of the time of encoding a list of structs (getAllProcessInfo).
var fieldCache sync.Map // reflect.Type -> []field

func structFields(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for _, f := range reflect.VisibleFields(t) {
		tag, tagged := f.Tag.Lookup("xmlrpc")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && !tagged && isStruct(f.Type) {
			continue // its fields are promoted: VisibleFields lists them next
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs = append(fs, field{name, f.Index})
	}
	fieldCache.Store(t, fs)
	return fs
}

func isStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != timeType
}

func (e *encoder) faultStruct(f *Fault) {
	e.b = append(e.b, "<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>"...)
	e.b = strconv.AppendInt(e.b, int64(f.Code), 10)
	e.b = append(e.b, "</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>"...)
	e.escape(f.String)
	e.b = append(e.b, "</string></value>\n</member>\n</struct></value>\n"...)
}

// escape appends s as XML text; see EncodeResponse for what happens to
// characters XML cannot carry.
func (e *encoder) escape(s string) {
	last := 0
	for i := 0; i < len(s); {
		var repl string
		size := 1
		if c := s[i]; c < utf8.RuneSelf {
			// ASCII fast path: most of a response is plain text.
			switch {
			case c >= 0x20 && c != '&' && c != '<' && c != '>', c == '\t', c == '\n':
				i++
				continue
			case c == '&':
				repl = "&amp;"
			case c == '<':
				repl = "&lt;"
			case c == '>':
				repl = "&gt;"
			case c == '\r':
				repl = "&#13;"
			default:
				repl = "\uFFFD" // a control character XML cannot carry
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if (r != utf8.RuneError || size != 1) && isXMLChar(r) {
				i += size
				continue
			}
			repl = "\uFFFD"
		}
		e.b = append(e.b, s[last:i]...)
		e.b = append(e.b, repl...)
		i += size
		last = i
	}
	e.b = append(e.b, s[last:]...)
}

// isXMLChar reports whether r is in XML 1.0's Char production.
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
