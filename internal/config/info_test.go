package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dumpInfo renders a tree as "key=value{…}" for comparisons.
func dumpInfo(n *infoNode) string {
	var b strings.Builder
	for i, c := range n.children {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%q", c.key, c.value)
		if c.block {
			b.WriteString("{" + dumpInfo(c) + "}")
		}
	}
	return b.String()
}

func TestInfoParser(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"pairs", "a 1\nb two\n", `a="1" b="two"`},
		{"key alone", "a\n", `a=""`},
		{"quotes and escapes", `a "x y" ; comment` + "\n" + `b "\t\n\"\\\'\0"` + "\n",
			`a="x y" b="\t\n\"\\'\x00"`},
		{"quoted key", `"my key" v` + "\n", `my key="v"`},
		{"continued string", "a \"one \" \\\n  \"two\"\n", `a="one two"`},
		{"nested blocks", "p {\n  env {\n    FOO bar\n  }\n  depends {\n    x {\n      delay 600\n    }\n  }\n}\n",
			`p=""{env=""{FOO="bar"} depends=""{x=""{delay="600"}}}`},
		{"brace on next line", "p\n{\n  command sleep\n}\n", `p=""{command="sleep"}`},
		{"key value block", "p v {\n c 1\n}\n", `p="v"{c="1"}`},
		{"inline block", "depends { progx }\n", `depends=""{progx=""}`},
		{"inline empty block", "p {}\n", `p=""{}`},
		{"comments", "; top\na 1 ; trailing\n  ; indented\n", `a="1"`},
		{"semicolon ends a word", "a b;c\n", `a="b"`},
		{"duplicates kept", "a 1\na 2\n", `a="1" a="2"`},
		{"crlf and tabs", "p {\r\n\tcommand\tsleep\r\n}\r\n", `p=""{command="sleep"}`},
		{"url value", "eventurl tcp://*:3456\n", `eventurl="tcp://*:3456"`},
	}
	for _, tt := range tests {
		root, _, err := noFS.parseInfo("t.conf", []byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := dumpInfo(root); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if root, _, _ := noFS.parseInfo("t.conf", []byte("a 1\na 2\n")); root.child("a").value != "1" {
		t.Error("the first of duplicate keys does not win")
	}
}

func TestInfoParserErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"p {\n c 1\n", `t.conf:3: syntax error: block p (line 1) is not closed with "}"`},
		{"}\n", `t.conf:1: syntax error: "}" without an open block`},
		{"{\n", `t.conf:1: syntax error: "{" without a key before it`},
		{"a b c\n", `t.conf:1: syntax error: unexpected "c" after a (a value with blanks needs double quotes)`},
		{"a \"b\n", "t.conf:1: syntax error: no closing quote"},
		{`a "\q"` + "\n", `t.conf:1: syntax error: unknown escape \q`},
		{"a \"b\" \\", `t.conf:1: syntax error: a line ends with \ but no line follows`},
		{"a \"b\" \\\nc\n", "t.conf:2: syntax error: a continued value must go on with a quoted string"},
		{"# comment\n", "t.conf:1: syntax error: unknown directive # (only #include"},
		{"#define x\n", "unknown directive #define"},
		{"#include\n", "#include needs a file name"},
		{"#include a b\n", "#include takes one file name"},
		{"a b\"c\n", "a quote inside the word b"},
		{strings.Repeat("a {\n", 200), "blocks nested more than 100 deep"},
	}
	for _, tt := range tests {
		_, _, err := noFS.parseInfo("t.conf", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrSyntax) && !strings.Contains(tt.want, "#include") {
			t.Errorf("%q: error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestInfoInclude(t *testing.T) {
	fsys := memFS(map[string]string{
		"/etc/gaggled/main.conf":        "gaggled {\n  #include \"globals.conf\"\n}\n#include \"progs/web.conf\"\nlast 1\n",
		"/etc/gaggled/globals.conf":     "killwait 3000\n",
		"/etc/gaggled/progs/web.conf":   "web {\n  command web\n}\n#include db.conf\n",
		"/etc/gaggled/progs/db.conf":    "db {\n  command db\n}\n",
		"/etc/gaggled/loop.conf":        "#include \"loop.conf\"\n",
		"/etc/gaggled/missing.conf":     "#include \"nothere.conf\"\n",
		"/etc/gaggled/unbalanced.conf":  "a {\n#include \"close.conf\"\n",
		"/etc/gaggled/close.conf":       "}\n",
		"/etc/gaggled/errinclude.conf":  "#include \"bad.conf\"\n",
		"/etc/gaggled/bad.conf":         "ok 1\nbad \"x\n",
		"/etc/gaggled/unused-file.conf": "",
	})
	root, files, err := fsys.parseInfo("/etc/gaggled/main.conf", []byte(mustRead(t, fsys, "/etc/gaggled/main.conf")))
	if err != nil {
		t.Fatal(err)
	}
	want := `gaggled=""{killwait="3000"} web=""{command="web"} db=""{command="db"} last="1"`
	if got := dumpInfo(root); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := strings.Join(files, " "); got != "/etc/gaggled/main.conf /etc/gaggled/globals.conf /etc/gaggled/progs/web.conf /etc/gaggled/progs/db.conf" {
		t.Errorf("files = %s", got)
	}
	if db := root.child("db"); db.pos.file != "/etc/gaggled/progs/db.conf" || db.pos.line != 1 {
		t.Errorf("db is at %+v", db.pos)
	}
	for file, want := range map[string]string{
		"loop.conf":       "includes nested more than 16 deep",
		"missing.conf":    "/etc/gaggled/missing.conf:1: #include: open",
		"unbalanced.conf": `/etc/gaggled/close.conf:1: syntax error: "}" without an open block`,
		"errinclude.conf": "/etc/gaggled/bad.conf:2: syntax error: no closing quote",
	} {
		p := "/etc/gaggled/" + file
		_, _, err := fsys.parseInfo(p, []byte(mustRead(t, fsys, p)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v, want %q", file, err, want)
		}
	}
}

func mustRead(t *testing.T, fsys fileSystem, p string) string {
	t.Helper()
	b, err := fsys.readFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
