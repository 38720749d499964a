package config

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
)

// values reads src and returns every section's interpolated values
// (DEFAULT under "DEFAULT"), failing the test on any read error.
func values(t *testing.T, src string) map[string]map[string]string {
	t.Helper()
	d := newDocument()
	if errs := d.read("t.ini", []byte(src)); len(errs) > 0 {
		t.Fatalf("read: %v", errors.Join(errs...))
	}
	out := map[string]map[string]string{}
	for _, sec := range append([]*section{d.defaults}, d.sections...) {
		m := map[string]string{}
		for _, k := range sec.order {
			v, err := d.get(sec, sec.keys[k])
			if err != nil {
				t.Fatalf("[%s] %s: %v", sec.name, k, err)
			}
			m[k] = v
		}
		if len(m) > 0 || sec != d.defaults {
			out[sec.name] = m
		}
	}
	return out
}

func TestReadDialect(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want map[string]map[string]string
	}{
		{"both delimiters, first wins, keys lower-cased",
			"[s]\nA = 1\nb: 2\nURL = http://h:80/x=y\nc:d = e\n",
			map[string]map[string]string{"s": {"a": "1", "b": "2", "url": "http://h:80/x=y", "c": "d = e"}}},
		{"comments, also indented; no inline comments",
			"# top\n[s]\n; c1\n  # c2\nk = v ; not a comment # nor this\n",
			map[string]map[string]string{"s": {"k": "v ; not a comment # nor this"}}},
		{"continuation lines, blank lines kept inside, trailing dropped, comments skipped",
			"[s]\nk = a\n  b\n\n  c\n  # skipped\n\t d\n\n\nj = 2\n",
			map[string]map[string]string{"s": {"k": "a\nb\n\nc\nd", "j": "2"}}},
		{"empty first line of a value",
			"[s]\nk =\n  a\n  b\n",
			map[string]map[string]string{"s": {"k": "\na\nb"}}},
		{"indented keys are keys, not continuations",
			"[s]\n  cmd = x\n  args = y\n",
			map[string]map[string]string{"s": {"cmd": "x", "args": "y"}}},
		{"deeper indentation continues an indented key",
			"[s]\n  cmd = x\n    y\n  args = z\n",
			map[string]map[string]string{"s": {"cmd": "x\ny", "args": "z"}}},
		{"quotes and backticks are plain text",
			"[s]\nq = \"a\"\nb = `x` y\nt = \"\"\"z\n\"k\" = 1\n",
			map[string]map[string]string{"s": {"q": `"a"`, "b": "`x` y", "t": `"""z`, `"k"`: "1"}}},
		{"trailing backslash is no continuation",
			"[s]\nk = a \\\nj = b\n",
			map[string]map[string]string{"s": {"k": `a \`, "j": "b"}}},
		{"section name runs to the first ]; a comment may follow",
			"[job:a] ; web\nk = 1\n[x]# c]\nk = 2\n",
			map[string]map[string]string{"job:a": {"k": "1"}, "x": {"k": "2"}}},
		{"section names are case-sensitive, DEFAULT is special",
			"[DEFAULT]\nd = 1\n[default]\nk = 2\n[Default]\nk = 3\n",
			map[string]map[string]string{"DEFAULT": {"d": "1"}, "default": {"k": "2"}, "Default": {"k": "3"}}},
		{"CRLF, CR and a BOM",
			"\ufeff[s]\r\nk = a\r\n  b\rj = c\r\n",
			map[string]map[string]string{"s": {"k": "a\nb", "j": "c"}}},
		{"env:NAME keys keep their name and case",
			"[s]\nenv:Foo = 1\nENV:BAR: a=b\nenv : X=y:z\nenv = plain\n",
			map[string]map[string]string{"s": {"env:foo": "1", "env:bar": "a=b", "env:x": "y:z", "env": "plain"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := values(t, tt.src); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEnvKeyKeepsCase(t *testing.T) {
	d := newDocument()
	d.read("t.ini", []byte("[s]\nenv:MixedCase = 1\n"))
	if e := d.byName["s"].keys["env:mixedcase"]; e == nil || e.name != "env:MixedCase" {
		t.Fatalf("entry = %+v", e)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		is      error
		line    int
		section string
		key     string
	}{
		{"key before any section", "k = 1\n[s]\n", ErrSyntax, 1, "", ""},
		{"line without delimiter", "[s]\nk = 1\njunk\n", ErrSyntax, 3, "s", ""},
		{"empty key", "[s]\n= 1\n", ErrSyntax, 2, "s", ""},
		{"empty section name", "[]\n", ErrSyntax, 1, "", ""},
		{"text after header", "[s] x\n", ErrSyntax, 1, "s", ""},
		{"duplicate section in one file", "[s]\na = 1\n[t]\n[s]\nb = 2\n", ErrDuplicate, 4, "s", ""},
		{"duplicate key in one section", "[s]\nk = 1\nK = 2\n", ErrDuplicate, 3, "s", "K"},
		{"duplicate key in DEFAULT", "[DEFAULT]\nk = 1\n[DEFAULT]\nk = 2\n", ErrDuplicate, 4, "DEFAULT", "k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := newDocument().read("t.ini", []byte(tt.src))
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), errors.Join(errs...))
			}
			var e *Error
			if !errors.As(errs[0], &e) || !errors.Is(e, tt.is) {
				t.Fatalf("err = %v, want %v", errs[0], tt.is)
			}
			if e.File != "t.ini" || e.Line != tt.line || e.Section != tt.section || e.Key != tt.key {
				t.Errorf("at %s:%d [%s] %s, want t.ini:%d [%s] %s", e.File, e.Line, e.Section, e.Key, tt.line, tt.section, tt.key)
			}
		})
	}
}

func TestDefaultSectionMayRepeat(t *testing.T) {
	if errs := newDocument().read("t.ini", []byte("[DEFAULT]\na = 1\n[s]\n[DEFAULT]\nb = 2\n")); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
}

func TestInterpolation(t *testing.T) {
	d := newDocument()
	src := "[DEFAULT]\nroot = /srv\ndir = %(root)s/%(name)s\n[s]\nname = web\nCmd = %(DIR)s/run --pct=50%% %(root)s\n"
	if errs := d.read("t.ini", []byte(src)); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	s := d.byName["s"]
	// References resolve in the reading section, then DEFAULT, also inside
	// a value inherited from DEFAULT; names are case-insensitive.
	if got, err := d.get(s, s.keys["cmd"]); err != nil || got != "/srv/web/run --pct=50% /srv" {
		t.Errorf("cmd = %q, %v", got, err)
	}
	if got, err := d.get(s, d.defaults.keys["dir"]); err != nil || got != "/srv/web" {
		t.Errorf("dir seen from [s] = %q, %v", got, err)
	}
	// [DEFAULT] itself has no name.
	if _, err := d.get(d.defaults, d.defaults.keys["dir"]); !errors.Is(err, ErrInterpolation) {
		t.Errorf("dir seen from [DEFAULT]: err = %v, want ErrInterpolation", err)
	}
}

// chain returns a section whose key k goes through n references to "end".
func chain(n int) string {
	src := "[s]\nk = %(d1)s\n"
	for i := 1; i < n; i++ {
		src += "d" + strconv.Itoa(i) + " = %(d" + strconv.Itoa(i+1) + ")s\n"
	}
	return src + "d" + strconv.Itoa(n) + " = end\n"
}

// TestInterpolationDepth: configparser allows 10 levels of references.
func TestInterpolationDepth(t *testing.T) {
	for n, ok := range map[int]bool{10: true, 11: false, 12: false} {
		d := newDocument()
		if errs := d.read("t.ini", []byte(chain(n))); len(errs) > 0 {
			t.Fatal(errors.Join(errs...))
		}
		s := d.byName["s"]
		got, err := d.get(s, s.keys["k"])
		if ok && (err != nil || got != "end") || !ok && !errors.Is(err, ErrInterpolation) {
			t.Errorf("%d references: got %q, %v", n, got, err)
		}
	}
}

func TestInterpolationErrors(t *testing.T) {
	for _, v := range []string{
		"50%",          // lone %
		"%d",           // neither %( nor %%
		"%(name",       // unterminated
		"%()s",         // empty name
		"%(name)d",     // not )s
		"%(missing)s",  // unknown key
		"%(loop)s",     // loop through DEFAULT
		"a %(self)s b", // self reference
	} {
		src := "[DEFAULT]\nloop = %(loop2)s\nloop2 = %(loop)s\n[s]\nname = x\nself = x%(self)s\nk = " + v + "\n"
		d := newDocument()
		if errs := d.read("t.ini", []byte(src)); len(errs) > 0 {
			t.Fatal(errors.Join(errs...))
		}
		s := d.byName["s"]
		if got, err := d.get(s, s.keys["k"]); !errors.Is(err, ErrInterpolation) {
			t.Errorf("%q: got %q, %v; want ErrInterpolation", v, got, err)
		}
	}
}
