package config

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/gafferhq/gaffer/supervisor"
)

// supervisord splits command = with Python's shlex.split(command): POSIX
// mode, no comments. These tests hold gaffer's splitter
// (supervisor.SplitCommand, used for both config formats) to it: a table of
// tricky inputs with shlex's answers written down, the same table and a few
// hundred generated inputs checked against a real python3 when there is one,
// and FuzzSplitCommandShlex.

// shlexResult is one answer of shlex.split: the words, or the message of
// the ValueError it raised ("No closing quotation", "No escaped character").
type shlexResult struct {
	Words []string `json:"words"`
	Error string   `json:"error"`
}

// shlexCases were answered by Python 3.11's shlex.split.
var shlexCases = []struct {
	in   string
	want shlexResult
}{
	{`/bin/echo a b`, shlexResult{Words: []string{"/bin/echo", "a", "b"}}},
	// Inside double quotes a backslash escapes only " and \: it stays
	// before $ and ` (a POSIX shell would drop it).
	{"echo \"\\$HOME\" \"\\`x\\`\"", shlexResult{Words: []string{"echo", `\$HOME`, "\\`x\\`"}}},
	{`"\a\b"`, shlexResult{Words: []string{`\a\b`}}},
	{`"\\\"" x`, shlexResult{Words: []string{`\"`, "x"}}},
	{`"\\"\\""`, shlexResult{Words: []string{`\\`}}},
	{`"a\"b\'c"`, shlexResult{Words: []string{`a"b\'c`}}},
	{"\"\\\n\"", shlexResult{Words: []string{"\\\n"}}},
	// Outside quotes a backslash escapes any character, newline included:
	// unlike sh, backslash-newline is not a line continuation.
	{`\a\b`, shlexResult{Words: []string{"ab"}}},
	{"a\\\nb", shlexResult{Words: []string{"a\nb"}}},
	{"a\\\tb", shlexResult{Words: []string{"a\tb"}}},
	{`a\ \ b`, shlexResult{Words: []string{"a  b"}}},
	{`\"`, shlexResult{Words: []string{`"`}}},
	{`\'`, shlexResult{Words: []string{`'`}}},
	{"é\\é", shlexResult{Words: []string{"éé"}}},
	// Inside single quotes nothing is escaped.
	{`'a\'`, shlexResult{Words: []string{`a\`}}},
	{`"'"`, shlexResult{Words: []string{`'`}}},
	{`'"'`, shlexResult{Words: []string{`"`}}},
	// Quotes join the pieces of one word; empty quotes are an empty word.
	{`a"b"c`, shlexResult{Words: []string{"abc"}}},
	{`x'y z'"w"v`, shlexResult{Words: []string{"xy zwv"}}},
	{`''`, shlexResult{Words: []string{""}}},
	{`'' ""`, shlexResult{Words: []string{"", ""}}},
	{`x "" y`, shlexResult{Words: []string{"x", "", "y"}}},
	// Whitespace is space, tab, CR and LF only; # is no comment.
	{"a\r\nb", shlexResult{Words: []string{"a", "b"}}},
	{"a\vb\fc", shlexResult{Words: []string{"a\vb\fc"}}},
	{"a\x00b", shlexResult{Words: []string{"a\x00b"}}},
	{"a #c", shlexResult{Words: []string{"a", "#c"}}},
	{" ", shlexResult{Words: []string{}}},
	{"", shlexResult{Words: []string{}}},
	// Errors.
	{`a\`, shlexResult{Error: "No escaped character"}},
	{`a"b\`, shlexResult{Error: "No escaped character"}},
	{`"abc\`, shlexResult{Error: "No escaped character"}},
	{`'abc\`, shlexResult{Error: "No closing quotation"}},
	{`"abc\\`, shlexResult{Error: "No closing quotation"}},
	{`"abc\ `, shlexResult{Error: "No closing quotation"}},
	{`sh -c 'x`, shlexResult{Error: "No closing quotation"}},
}

// split runs supervisor.SplitCommand and puts its answer in shlex's terms.
// An error that is not ErrUnterminatedQuote, or that does not carry shlex's
// wording, is reported as such so that it never compares equal.
func split(s string) shlexResult {
	words, err := supervisor.SplitCommand(s)
	if err == nil {
		if words == nil {
			words = []string{}
		}
		return shlexResult{Words: words}
	}
	msg := err.Error()
	switch {
	case !errors.Is(err, supervisor.ErrUnterminatedQuote):
		return shlexResult{Error: "unexpected error: " + msg}
	case strings.Contains(msg, "no closing quotation"):
		return shlexResult{Error: "No closing quotation"}
	case strings.Contains(msg, "no escaped character"):
		return shlexResult{Error: "No escaped character"}
	}
	return shlexResult{Error: "unexpected wording: " + msg}
}

func TestSplitCommandIsShlex(t *testing.T) {
	for _, c := range shlexCases {
		if got := split(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitCommand(%q) = %+v, shlex.split gives %+v", c.in, got, c.want)
		}
	}
	py := startShlexOracle(t)
	if py == nil {
		t.Skip("python3 not found: the table was still checked")
	}
	for _, c := range shlexCases {
		if got := py.split(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("this python3's shlex.split(%q) = %+v, the table says %+v", c.in, got, c.want)
		}
	}
}

// TestSplitCommandAgreesWithPython compares a few hundred generated command
// lines, dense in quotes, backslashes and whitespace, with python3's
// shlex.split, all through one python3 process.
func TestSplitCommandAgreesWithPython(t *testing.T) {
	py := startShlexOracle(t)
	if py == nil {
		t.Skip("python3 not found")
	}
	pieces := []string{"a", "b", "é", " ", "  ", "\t", "\n", "\r", "'", `"`, `\`, `\\`, `\"`, `''`, `""`, "$", "`", "#", "x y"}
	r := rand.New(rand.NewPCG(1, 2))
	errs, words := 0, 0
	for range 400 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := b.String()
		want, got := py.split(in), split(in)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %+v, shlex.split gives %+v", in, got, want)
		}
		if want.Error != "" {
			errs++
		} else {
			words += len(want.Words)
		}
	}
	t.Logf("400 inputs: %d errors, %d words", errs, words)
	// The generator must exercise both outcomes, or it proves little.
	if errs < 50 || words < 200 {
		t.Errorf("generated inputs too tame: %d errors, %d words", errs, words)
	}
}

// shlexOracle is a python3 process answering shlex.split for one JSON string
// per line.
type shlexOracle struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
	cmd *exec.Cmd
}

const shlexScript = `
import json, shlex, sys
for line in sys.stdin:
    try:
        out = {"words": shlex.split(json.loads(line))}
    except ValueError as e:
        out = {"error": str(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
`

// startShlexOracle starts python3, or returns nil when there is none. tb
// stops it at cleanup; a nil tb leaves it to end with the test binary (its
// stdin closes then).
func startShlexOracle(tb testing.TB) *shlexOracle {
	path, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	cmd := exec.Command(path, "-c", shlexScript)
	cmd.Dir = os.TempDir() // no module of the working directory can shadow shlex or json
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	o := &shlexOracle{in: in, out: bufio.NewReader(out), cmd: cmd}
	tb.Cleanup(func() {
		in.Close() // python3 ends at the end of its input
		if err := cmd.Wait(); err != nil {
			tb.Errorf("python3: %v", err)
		}
	})
	return o
}

// split asks python3. Input that is not UTF-8 cannot travel in JSON
// unchanged: the caller skips it.
func (o *shlexOracle) split(s string) shlexResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	line, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	if _, err := o.in.Write(append(line, '\n')); err != nil {
		panic("python3: " + err.Error())
	}
	answer, err := o.out.ReadBytes('\n')
	if err != nil {
		panic("python3: " + err.Error())
	}
	var r shlexResult
	if err := json.Unmarshal(answer, &r); err != nil {
		panic("python3 answered " + string(answer))
	}
	if r.Error == "" && r.Words == nil {
		r.Words = []string{}
	}
	return r
}

// FuzzSplitCommandShlex checks that SplitCommand either fails with
// ErrUnterminatedQuote in shlex's words, or returns words that, quoted
// again, split back to themselves. With GAFFER_FUZZ_SHLEX=1 in the
// environment each input is also compared with python3's shlex.split:
//
//	GAFFER_FUZZ_SHLEX=1 go test -run='^$' -fuzz=FuzzSplitCommandShlex ./internal/config/
func FuzzSplitCommandShlex(f *testing.F) {
	for _, c := range shlexCases {
		f.Add(c.in)
	}
	var py *shlexOracle
	if os.Getenv("GAFFER_FUZZ_SHLEX") == "1" {
		if py = startShlexOracle(f); py == nil {
			f.Fatal("GAFFER_FUZZ_SHLEX=1 but python3 is not found")
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := split(s)
		if py != nil && utf8.ValidString(s) {
			if want := py.split(s); !reflect.DeepEqual(got, want) {
				t.Fatalf("SplitCommand(%q) = %+v, shlex.split gives %+v", s, got, want)
			}
		}
		if got.Error != "" {
			if got.Error != "No closing quotation" && got.Error != "No escaped character" {
				t.Fatalf("SplitCommand(%q): %s", s, got.Error)
			}
			return
		}
		quoted := make([]string, len(got.Words))
		for i, w := range got.Words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again := split(strings.Join(quoted, " \t\n"))
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("SplitCommand(%q) = %q, but quoted again it splits to %+v", s, got.Words, again)
		}
	})
}
