package xmlrpc

import "time"

// Kind is a set of XML-RPC types a parameter may have, for Args. Kinds
// combine with |: String|Int accepts either (a signal is a name or a
// number).
type Kind uint16

// The kinds of decoded values (see DecodeRequest).
const (
	String   Kind = 1 << iota // string
	Int                       // int
	Bool                      // bool
	Double                    // float64
	DateTime                  // time.Time
	Base64                    // []byte
	Struct                    // map[string]any
	Array                     // []any
	Nil                       // nil
)

const (
	// Any accepts a value of any type.
	Any = String | Int | Bool | Double | DateTime | Base64 | Struct | Array | Nil
	// Optional marks a trailing parameter the client may leave out, like
	// the wait of supervisor's startProcess(name, wait=True). Only the
	// last parameters may be optional.
	Optional Kind = 1 << 15
)

// Args checks args, a Method's arguments, against the kinds of its
// parameters, and answers the bare INCORRECT_PARAMETERS fault when the
// count or a type is wrong, as supervisor does (there, Python raises a
// TypeError). Where Python accepts a value of another type, Args converts
// it in place, so that after Args a Call can use type assertions:
//
//   - a Bool parameter takes an int too, true if it is not 0 (Python's
//     truthiness: startProcess("web", 0) does not wait). Strings are not
//     accepted: "false" is truthy in Python, a trap we do not copy;
//   - an Int parameter takes a bool (0 or 1: Python's bool is an int);
//   - a Double parameter takes an int;
//   - a String parameter takes base64 ([]byte), as supervisor decodes base64
//     params to str.
//
// For example:
//
//	if err := xmlrpc.Args(args, xmlrpc.String, xmlrpc.Bool|xmlrpc.Optional); err != nil {
//		return nil, err
//	}
//	name, wait := args[0].(string), true
//	if len(args) > 1 {
//		wait = args[1].(bool)
//	}
//
// A required kind after an optional one is a programming error: Args
// panics.
func Args(args []any, want ...Kind) error {
	required := 0
	for i, k := range want {
		if k&Optional == 0 {
			if i != required {
				panic("xmlrpc.Args: a required parameter follows an optional one")
			}
			required++
		}
	}
	if len(args) < required || len(args) > len(want) {
		return NewFault(IncorrectParameters)
	}
	for i, a := range args {
		w := want[i] &^ Optional
		k := kindOf(a)
		if k&w != 0 {
			continue
		}
		switch {
		case k == Int && w&Bool != 0:
			args[i] = a.(int) != 0
		case k == Bool && w&Int != 0:
			n := 0
			if a.(bool) {
				n = 1
			}
			args[i] = n
		case k == Int && w&Double != 0:
			args[i] = float64(a.(int))
		case k == Base64 && w&String != 0:
			args[i] = string(a.([]byte))
		default:
			return NewFault(IncorrectParameters)
		}
	}
	return nil
}

// kindOf returns the kind of a decoded value, 0 for a type DecodeRequest
// does not produce.
func kindOf(v any) Kind {
	switch v.(type) {
	case string:
		return String
	case int:
		return Int
	case bool:
		return Bool
	case float64:
		return Double
	case time.Time:
		return DateTime
	case []byte:
		return Base64
	case map[string]any:
		return Struct
	case []any:
		return Array
	case nil:
		return Nil
	}
	return 0
}
