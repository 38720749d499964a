package deps

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLevelsOfAChainAndADiamond(t *testing.T) {
	g, err := New([]string{"proxy", "app", "db", "cache", "worker"}, map[string][]string{
		"proxy": {"app"}, "app": {"db", "cache"}, "worker": {"db", "db"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"db", "cache"}, {"app", "worker"}, {"proxy"}}
	if got := g.Levels(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("levels = %v, want %v", got, want)
	}
	if got := g.Dependents("db"); !slices.Equal(got, []string{"app", "worker"}) {
		t.Errorf("dependents of db = %v", got)
	}
	if got := g.Dependencies("worker"); !slices.Equal(got, []string{"db"}) {
		t.Errorf("duplicate dependency kept: %v", got)
	}
	if got := g.Transitive("db"); !slices.Equal(got, []string{"app", "worker", "proxy"}) {
		t.Errorf("transitive dependents of db = %v", got)
	}
}

func TestCyclesAndUnknownNamesAreAllReported(t *testing.T) {
	_, err := New([]string{"a", "b", "c", "d", "s"}, map[string][]string{
		"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"ghost"}, "s": {"s"}, "x": {"a"},
	})
	if !errors.Is(err, ErrCycle) || !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"dependency cycle: a -> b -> c -> a", "dependency cycle: s -> s",
		"d depends on ghost", "dependencies given for x"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func FuzzNew(f *testing.F) {
	f.Add("a b c", "a:b b:c")
	f.Add("a b", "a:b b:a")
	f.Add("x", "x:x y:x")
	f.Fuzz(func(t *testing.T, nodes, edges string) {
		deps := map[string][]string{}
		for _, e := range strings.Fields(edges) {
			from, to, _ := strings.Cut(e, ":")
			deps[from] = append(deps[from], to)
		}
		g, err := New(strings.Fields(nodes), deps)
		if err != nil {
			return
		}
		// Every node is in exactly one level, after all its dependencies.
		level := map[string]int{}
		n := 0
		for k, l := range g.Levels() {
			if len(l) == 0 {
				t.Fatalf("empty level %d", k)
			}
			for _, x := range l {
				level[x] = k
				n++
			}
		}
		if n != len(g.Nodes()) {
			t.Fatalf("%d nodes in levels, %d nodes", n, len(g.Nodes()))
		}
		for _, x := range g.Nodes() {
			for _, d := range g.Dependencies(x) {
				if level[d] >= level[x] {
					t.Fatalf("%s (level %d) depends on %s (level %d)", x, level[x], d, level[d])
				}
			}
		}
	})
}
