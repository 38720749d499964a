package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

func FuzzInfo(f *testing.F) {
	for _, s := range []string{
		"a 1\nb \"x y\" ; c\n",
		"p\n{\n  env { A \"\\t\\n\" }\n}\n",
		"a \"x\" \\\n  \"y\"\n",
		"#include \"x.conf\"\n",
		"depends { progx }\n}\n{\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, _, err := noFS.parseInfo("fuzz.conf", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "fuzz.conf" || ce.Line < 1 {
				t.Fatalf("problem without location: %v", err)
			}
			return
		}
		var walk func(n *infoNode, depth int)
		walk = func(n *infoNode, depth int) {
			if depth > maxInfoNesting+1 {
				t.Fatal("nesting beyond the limit")
			}
			for _, c := range n.children {
				if !c.block && len(c.children) > 0 {
					t.Fatalf("children without a block: %q", c.key)
				}
				walk(c, depth+1)
			}
		}
		walk(root, 0)
	})
}

func FuzzGaggled(f *testing.F) {
	files, _ := filepath.Glob("testdata/gaggled/*.conf")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a {\n command a\n depends { b { delay 5 propagate 1 } }\n}\nb {\n command \"x y\"\n argv \"1 2\"\n enabled false\n}\n"))
	f.Add([]byte("gaggled {\n killwait 0\n smtpgate {\n  mx m\n  from a@b\n  to c@d\n  helo h\n  auto true\n }\n}\n"))
	h := testHost(noFS)
	f.Fuzz(func(t *testing.T, data []byte) {
		if IsGaggled(data) && (IsSupervisord(data) || isJSON(data)) {
			t.Fatal("detected as gaggled's and as another format")
		}
		c, err := checked(h.parseGaggled("fuzz.conf", data))
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			for _, e := range splitErrors(err) {
				var ce *Error
				var p Problem
				if !errors.As(e, &ce) && !errors.As(e, &p) {
					t.Fatalf("problem without location: %v", e)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, j := range c.Jobs {
			if err := j.Config.Validate(); err != nil {
				t.Fatalf("invalid job accepted: %v", err)
			}
			if seen[j.FullName()] {
				t.Fatalf("duplicate job %s", j.FullName())
			}
			seen[j.FullName()] = true
			if words, err := supervisor.SplitCommand(j.Config.Cmd); err != nil || len(words) != 1 {
				t.Fatalf("command %q does not split into one word: %q %v", j.Config.Cmd, words, err)
			}
		}
		if c.Email != nil {
			if err := c.Email.Validate(); err != nil {
				t.Fatalf("invalid e-mail settings accepted: %v", err)
			}
		}
		_ = Check(c)
	})
}

func FuzzDependsOn(f *testing.F) {
	for _, s := range []string{
		"db (healthy), cache, migrate (completed), queue (started, delay=2, propagate)",
		"shop.db(delay=0.5)", "g:p, q", "a,", "a (", "a (delay=1e3)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, valid := range []func(string) error{validIniDepName, validSupervisordDepName} {
			refs, err := parseDependsOn(s, valid)
			if err != nil {
				if !errors.Is(err, ErrInvalidValue) {
					t.Fatalf("error without ErrInvalidValue: %v", err)
				}
				continue
			}
			var ds []supervisor.Dependency
			for _, r := range refs {
				if r.Name == "" || strings.ContainsAny(r.Name, " ,()") {
					t.Fatalf("bad name %q accepted from %q", r.Name, s)
				}
				d := r.Dep
				d.Job = r.Name
				if d.Delay < 0 {
					t.Fatalf("negative delay from %q", s)
				}
				ds = append(ds, d)
			}
			// What we write back reads back the same.
			again, err := parseDependsOn(formatDependsOn(ds), valid)
			if err != nil || !reflect.DeepEqual(again, refs) && !(len(again) == 0 && len(refs) == 0) {
				t.Fatalf("%q -> %q -> %+v, %v; want %+v", s, formatDependsOn(ds), again, err, refs)
			}
		}
	})
}
