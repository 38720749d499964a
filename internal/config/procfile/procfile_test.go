package procfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Type
		wantErr  error
		wantLine int
	}{
		{name: "entries in order", in: "web: ./web --port $PORT\nworker:bundle exec worker\n",
			want: []Type{{"web", "./web --port $PORT", 1}, {"worker", "bundle exec worker", 2}}},
		{name: "comments, blanks and CRLF", in: "# app\r\n\r\n  \nweb: run\r\n   # indented comment\n",
			want: []Type{{"web", "run", 4}}},
		{name: "dash and underscore names", in: "web-1: a\nq_2: b\n", want: []Type{{"web-1", "a", 1}, {"q_2", "b", 2}}},
		{name: "repeated name overrides in place", in: "web: a\nworker: b\nweb: c\n",
			want: []Type{{"web", "c", 3}, {"worker", "b", 2}}},
		{name: "line without colon ignored", in: "just some text\nweb: a\n", want: []Type{{"web", "a", 2}}},
		{name: "command keeps colons", in: "web: sh -c 'echo a:b'\n", want: []Type{{"web", "sh -c 'echo a:b'", 1}}},
		{name: "no final newline", in: "web: a", want: []Type{{"web", "a", 1}}},
		{name: "bad name", in: "web: a\nweb server: b\n", wantErr: ErrBadName, wantLine: 2},
		{name: "bad character", in: "\n\nw$b: b\n", wantErr: ErrBadName, wantLine: 3},
		{name: "empty name", in: ": b\n", wantErr: ErrBadName, wantLine: 1},
		{name: "no command", in: "web:   \n", wantErr: ErrNoCommand, wantLine: 1},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcfile(strings.NewReader(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				var pe *Error
				if !errors.As(err, &pe) || pe.Line != tt.wantLine {
					t.Fatalf("err = %v, want line %d", err, tt.wantLine)
				}
				if !strings.Contains(err.Error(), "line ") {
					t.Errorf("message %q does not name the line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseProcfileReportsEveryBadLine(t *testing.T) {
	_, err := ParseProcfile(strings.NewReader("a b: x\nok: y\nc:\n"))
	msg := err.Error()
	if !strings.Contains(msg, "line 1:") || !strings.Contains(msg, "line 3:") {
		t.Fatalf("error %q should name lines 1 and 3", msg)
	}
}

func TestParseDotenv(t *testing.T) {
	osEnv := map[string]string{"HOME": "/home/u", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := osEnv[k]; return v, ok }
	tests := []struct {
		name, in string
		want     map[string]string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}},
		{"unquoted trimmed", "A =   spaced out   \n", map[string]string{"A": "spaced out"}},
		{"empty value", "A=\nB=  \n", map[string]string{"A": "", "B": ""}},
		{"export prefix", "export A=1\nexport\tB=2\n", map[string]string{"A": "1", "B": "2"}},
		{"key named export", "export=1\n", map[string]string{"export": "1"}},
		{"full-line comments and blanks", "# c\n\n   # c2\nA=1\n", map[string]string{"A": "1"}},
		{"inline comment after space", "A=1 # note\nB=2\t# tab\n", map[string]string{"A": "1", "B": "2"}},
		{"hash without space is data", "A=a#b\nURL=http://h/#frag\n", map[string]string{"A": "a#b", "URL": "http://h/#frag"}},
		{"split at first equals", "A=b=c\n", map[string]string{"A": "b=c"}},
		{"single quotes literal", `A='$HOME \n "x" # not a comment'` + "\n", map[string]string{"A": `$HOME \n "x" # not a comment`}},
		{"double quote escapes", `A="l1\nl2\tt \"q\" \\ \$HOME"` + "\n", map[string]string{"A": "l1\nl2\tt \"q\" \\ $HOME"}},
		{"double quotes keep spaces and hash", `A="  x # y  "` + "\n", map[string]string{"A": "  x # y  "}},
		{"unknown escape kept", `A="a\qb"` + "\n", map[string]string{"A": `a\qb`}},
		{"multi-line double quotes", "A=\"one\ntwo\"\nB=3\n", map[string]string{"A": "one\ntwo", "B": "3"}},
		{"multi-line single quotes", "A='one\ntwo'\n", map[string]string{"A": "one\ntwo"}},
		{"comment after quotes", `A="x" # c` + "\n", map[string]string{"A": "x"}},
		{"expand earlier key", "A=1\nB=${A}-$A\n", map[string]string{"A": "1", "B": "1-1"}},
		{"expand os env", "B=$HOME/bin\n", map[string]string{"B": "/home/u/bin"}},
		{"earlier key beats os env", "HOME=/x\nB=$HOME\n", map[string]string{"HOME": "/x", "B": "/x"}},
		{"undefined is empty", "B=[$NOPE]\n", map[string]string{"B": "[]"}},
		{"default", "B=${NOPE:-dflt}\nC=${EMPTY:-e}\nD=${HOME:-x}\n", map[string]string{"B": "dflt", "C": "e", "D": "/home/u"}},
		{"expand in double quotes", `B="at $HOME"` + "\n", map[string]string{"B": "at /home/u"}},
		{"escaped dollar unquoted", `B=\$HOME` + "\n", map[string]string{"B": "$HOME"}},
		{"lone dollar kept", "B=5$ and $1 and ${\n", map[string]string{"B": "5$ and $1 and ${"}},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"dotted key", "log.level=debug\n", map[string]string{"log.level": "debug"}},
		{"CRLF", "A=1\r\nB=\"x\"\r\n", map[string]string{"A": "1", "B": "x"}},
		{"no final newline", "A=1", map[string]string{"A": "1"}},
		{"quote inside unquoted", `A=it's "fine"` + "\n", map[string]string{"A": `it's "fine"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			if err := ParseDotenv(".env", strings.NewReader(tt.in), got, lookup); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseDotenvErrors(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  error
		wantMsg  string // the message starts with it
	}{
		{"no equals", "A=1\n\nJUST_A_WORD\n", ErrNoEquals, "app.env:3: "},
		{"export without value", "export A\n", ErrNoEquals, "app.env:1: "},
		{"key with space", "MY KEY=1\n", ErrBadKey, "app.env:1: "},
		{"key starting with digit", "# c\n1A=1\n", ErrBadKey, "app.env:2: "},
		{"empty key", "=1\n", ErrBadKey, "app.env:1: "},
		{"unterminated double", "A=1\nB=\"open\nC=3\n", ErrUnterminated, "app.env:2: "},
		{"unterminated single", "A='open\n", ErrUnterminated, "app.env:1: "},
		{"text after quote", "A=\"x\"y\n", ErrTrailing, "app.env:1: "},
		{"text after multi-line quote", "A=\"x\ny\" z\n", ErrTrailing, "app.env:2: "},
		{"hash glued to quote", "A='x'#c\n", ErrTrailing, "app.env:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseDotenv("app.env", strings.NewReader(tt.in), map[string]string{}, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Fatalf("message %q, want prefix %q", err, tt.wantMsg)
			}
		})
	}
}

func FuzzParseProcfile(f *testing.F) {
	for _, s := range []string{"web: a b\n", "# c\nweb: x\nweb: y\n", "a b: c\n", "w:\n", ":\n", "\ufeffweb: x\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		types, err := ParseProcfile(strings.NewReader(in))
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, ty := range types {
			if !validTypeName(ty.Name) || ty.Command == "" || strings.TrimSpace(ty.Command) != ty.Command || seen[ty.Name] {
				t.Fatalf("bad type %#v", ty)
			}
			seen[ty.Name] = true
		}
	})
}

func FuzzParseDotenv(f *testing.F) {
	for _, s := range []string{"A=1\n", "export A='x'\n", "A=\"a\\n$B ${C:-d}\"\n", "A=\"\n", "A=1 # c\n", "1=2", "A=${", "A=\"x\"y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		env := map[string]string{}
		err := ParseDotenv("f", strings.NewReader(in), env, func(string) (string, bool) { return "os", true })
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > strings.Count(in, "\n")+1 {
				t.Fatalf("error with a bad line: %v", err)
			}
			return
		}
		for k := range env {
			if !validKey(k) {
				t.Fatalf("invalid key %q accepted", k)
			}
		}
	})
}
