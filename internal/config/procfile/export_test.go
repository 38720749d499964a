package procfile

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/supervisor"
)

// testApp writes a Procfile app whose commands and environment hold the
// characters each format must quote.
func testApp(t *testing.T, procfile, dotenv string) *App {
	t.Helper()
	root := filepath.Join(t.TempDir(), "shop")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(dotenv), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Load(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const (
	exportProcfile = "web: ./bin/web --port $PORT --name 'my shop' --rate=100%\n" +
		"worker: worker --queue=${QUEUE}\n" +
		"clock: sh -c 'echo tick'\n"
	exportEnv = "QUEUE=default\nGREETING=\"hello, 100% \\\"quoted\\\" world\"\nLIST='a b c'\nexport Mixed_Case=x\nGAFFER_REDIRECT_INPUT=worker\n"
)

// same compares what the round trip must keep.
func same(t *testing.T, what string, got, want supervisor.JobConfig) {
	t.Helper()
	type view struct {
		Name, Cmd      string
		Args           []string
		Env            map[string]string
		OSEnv          bool
		Cwd            string
		NumProcesses   int
		RedirectOutput []string
		RedirectInput  bool
	}
	g := view{got.Name, got.Cmd, got.Args, got.Env, got.OSEnv, got.Cwd, got.NumProcesses, got.RedirectOutput, got.RedirectInput}
	w := view{want.Name, want.Cmd, want.Args, want.Env, want.OSEnv, want.Cwd, want.NumProcesses, want.RedirectOutput, want.RedirectInput}
	if len(g.Args) == 0 {
		g.Args = nil
	}
	if len(w.Args) == 0 {
		w.Args = nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func TestAppJobs(t *testing.T) {
	a := testApp(t, exportProcfile, exportEnv)
	jobs, err := a.Jobs(map[string]int{"web": 2, "clock": 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(jobs))
	}
	web, worker := jobs[0], jobs[1]
	if web.Cmd != "./bin/web" || !slices.Equal(web.Args, []string{"--port", "$PORT", "--name", "my shop", "--rate=100%"}) {
		t.Errorf("web cmd %q args %q", web.Cmd, web.Args)
	}
	if web.NumProcesses != 2 || worker.NumProcesses != 1 || jobs[2].NumProcesses != 0 {
		t.Errorf("numprocesses %d %d %d", web.NumProcesses, worker.NumProcesses, jobs[2].NumProcesses)
	}
	if web.Env["PORT"] != "5000" || worker.Env["PORT"] != "5100" || jobs[2].Env["PORT"] != "5200" {
		t.Errorf("ports %s %s %s", web.Env["PORT"], worker.Env["PORT"], jobs[2].Env["PORT"])
	}
	if web.Env["GREETING"] != `hello, 100% "quoted" world` {
		t.Errorf("GREETING = %q", web.Env["GREETING"])
	}
	if _, ok := web.Env[RedirectInputKey]; ok || web.RedirectInput || !worker.RedirectInput {
		t.Errorf("GAFFER_REDIRECT_INPUT: web %v worker %v, env %q", web.RedirectInput, worker.RedirectInput, web.Env)
	}
	if web.Cwd != a.Root || !filepath.IsAbs(web.Cwd) {
		t.Errorf("cwd %q", web.Cwd)
	}
}

func TestLoadApp(t *testing.T) {
	t.Run("port from .env is the base", func(t *testing.T) {
		a := testApp(t, "a: x\nb: y\n", "PORT=7000\n")
		if a.Port("a", 1) != 7000 || a.Port("b", 3) != 7102 {
			t.Fatalf("ports %d %d", a.Port("a", 1), a.Port("b", 3))
		}
	})
	t.Run("bad app name", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "My App")
		os.Mkdir(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: x\n"), 0o644)
		if _, err := Load(Options{Root: dir}); err == nil || !strings.Contains(err.Error(), "invalid app name") {
			t.Fatalf("err = %v", err)
		}
		if _, err := Load(Options{Root: dir, Name: "myapp"}); err != nil {
			t.Fatalf("--app: %v", err)
		}
	})
	t.Run("env files in order, later wins", func(t *testing.T) {
		a := testApp(t, "web: x\n", "A=root\nB=root\n")
		extra := filepath.Join(t.TempDir(), "extra.env")
		os.WriteFile(extra, []byte("B=extra-$A\n"), 0o644)
		b, err := Load(Options{Root: a.Root, EnvFiles: []string{extra}})
		if err != nil {
			t.Fatal(err)
		}
		if b.Env["A"] != "root" || b.Env["B"] != "extra-root" {
			t.Fatalf("env %q", b.Env)
		}
	})
	t.Run("missing -e file", func(t *testing.T) {
		a := testApp(t, "web: x\n", "")
		if _, err := Load(Options{Root: a.Root, EnvFiles: []string{filepath.Join(a.Root, "nope.env")}}); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("procfile errors name the file and line", func(t *testing.T) {
		a := testApp(t, "web: x\n", "")
		os.WriteFile(filepath.Join(a.Root, "Procfile"), []byte("web: x\nbad name: y\n"), 0o644)
		_, err := Load(Options{Root: a.Root})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(a.Root, "Procfile")+":2: ") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("concurrency", func(t *testing.T) {
		a := testApp(t, "web: x\nworker: y\n", "")
		c, err := a.ParseConcurrency([]string{"web=2,worker=3", "worker=0"})
		if err != nil || c["web"] != 2 || c["worker"] != 0 {
			t.Fatalf("%v %v", c, err)
		}
		if c, _ := a.ParseConcurrency([]string{"all=4"}); c["web"] != 4 || c["worker"] != 4 {
			t.Fatalf("all=4: %v", c)
		}
		for _, bad := range []string{"web", "web=x", "nope=1", "web=-1"} {
			if _, err := a.ParseConcurrency([]string{bad}); err == nil {
				t.Errorf("%q accepted", bad)
			}
		}
	})
}

func exportOne(t *testing.T, a *App, format string, conc map[string]int) []byte {
	t.Helper()
	files, err := a.Export(format, conc)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	for _, data := range files {
		return data
	}
	return nil
}

func TestExportGafferdRoundTrip(t *testing.T) {
	a := testApp(t, exportProcfile, exportEnv)
	conc := map[string]int{"web": 3, "worker": 1, "clock": 0}
	want, _ := a.Jobs(conc)
	data := exportOne(t, a, "gafferd", conc)
	cfg, err := config.Parse("shop.ini", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(cfg.Jobs) != len(want) {
		t.Fatalf("%d jobs, want %d\n%s", len(cfg.Jobs), len(want), data)
	}
	for i, j := range cfg.Jobs {
		if j.Session != "shop" {
			t.Errorf("session %q", j.Session)
		}
		same(t, j.FullName(), j.Config, want[i])
	}
}

func TestExportGafferdRefusesWhatINICannotHold(t *testing.T) {
	a := testApp(t, "web: x\n", "A=\"  padded\"\n")
	if _, err := a.Export("gafferd", nil); !errors.Is(err, ErrNotExportable) || !strings.Contains(err.Error(), "env:A") {
		t.Fatalf("err = %v", err)
	}
}

func TestExportJSONRoundTrip(t *testing.T) {
	a := testApp(t, exportProcfile, exportEnv)
	conc := map[string]int{"web": 2}
	want, _ := a.Jobs(conc)
	data := exportOne(t, a, "json", conc)
	jobs, err := config.LoadJSONJobs("shop.json", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(jobs) != len(want) {
		t.Fatalf("%d jobs, want %d", len(jobs), len(want))
	}
	for i, j := range jobs {
		if j.Session != "shop" {
			t.Errorf("session %q", j.Session)
		}
		same(t, j.FullName(), j.Config, want[i])
	}
}

// expand resolves $NAME and ${NAME} as gaffer does at spawn.
func expand(w string, env map[string]string) string {
	var b strings.Builder
	for _, s := range segments(w) {
		if s.ref {
			b.WriteString(env[s.text])
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

func TestExportSupervisordRoundTrip(t *testing.T) {
	a := testApp(t, exportProcfile, exportEnv)
	conc := map[string]int{"web": 2, "worker": 1, "clock": 1}
	types, _ := a.Jobs(conc)
	data := exportOne(t, a, "supervisord", conc)
	cfg, err := config.ParseSupervisord("shop.conf", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	got := map[string]config.Job{}
	for _, j := range cfg.Jobs {
		got[j.Config.Name] = j
	}
	n := 0
	for _, typ := range types {
		for k := 1; k <= typ.NumProcesses; k++ {
			n++
			port := a.Port(typ.Name, k)
			name := "shop-" + typ.Name + "_" + strconv.Itoa(port)
			j, ok := got[name]
			if !ok {
				t.Fatalf("no job %s in %v\n%s", name, slices.Collect(maps.Keys(got)), data)
			}
			if j.Session != "shop" || j.Config.Cwd != a.Root || j.Config.NumProcesses != 1 {
				t.Errorf("%s: session %q cwd %q numprocesses %d", name, j.Session, j.Config.Cwd, j.Config.NumProcesses)
			}
			wantEnv := maps.Clone(typ.Env)
			wantEnv["PORT"] = strconv.Itoa(port)
			gotEnv := maps.Clone(j.Config.Env)
			maps.DeleteFunc(gotEnv, func(k, _ string) bool { return strings.HasPrefix(k, "SUPERVISOR_") })
			if !reflect.DeepEqual(gotEnv, wantEnv) {
				t.Errorf("%s env:\n got %q\nwant %q", name, gotEnv, wantEnv)
			}
			wantArgv, _ := argv(typ)
			for i := 1; i < len(wantArgv); i++ {
				wantArgv[i] = expand(wantArgv[i], wantEnv)
			}
			gotArgv, err := argv(j.Config)
			if err != nil || !slices.Equal(gotArgv, wantArgv) {
				t.Errorf("%s argv:\n got %q (%v)\nwant %q", name, gotArgv, err, wantArgv)
			}
		}
	}
	if len(cfg.Jobs) != n {
		t.Errorf("%d jobs, want %d", len(cfg.Jobs), n)
	}
}

func TestExportSupervisordRefusesInlineComment(t *testing.T) {
	a := testApp(t, "web: x\n", "A=\"a ;b\"\n")
	if _, err := a.Export("supervisord", nil); !errors.Is(err, ErrNotExportable) {
		t.Fatalf("err = %v", err)
	}
}

func TestExportSystemd(t *testing.T) {
	a := testApp(t, exportProcfile, exportEnv)
	files, err := a.Export("systemd", map[string]int{"web": 2, "clock": 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"shop-clock@.service", "shop-web@.service", "shop-worker@.service", "shop.target"}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	target := string(files["shop.target"])
	if !strings.Contains(target, "Wants=shop-web@5000.service shop-web@5001.service shop-worker@5100.service\n") {
		t.Errorf("target:\n%s", target)
	}
	web := string(files["shop-web@.service"])
	for _, line := range []string{
		"PartOf=shop.target\n",
		"WorkingDirectory=\"" + a.Root + "\"\n",
		"Environment=PORT=%i\n",
		`Environment="GREETING=hello, 100%% \"quoted\" world"` + "\n",
		`ExecStart="` + filepath.Join(a.Root, "bin/web") + `" "--port" "${PORT}" "--name" "my shop" "--rate=100%%"` + "\n",
	} {
		if !strings.Contains(web, line) {
			t.Errorf("web unit lacks %q:\n%s", line, web)
		}
	}
}

func TestExportUnknownFormat(t *testing.T) {
	a := testApp(t, "web: x\n", "")
	if _, err := a.Export("upstart", nil); err == nil || !strings.Contains(err.Error(), "supervisord") {
		t.Fatalf("err = %v", err)
	}
}
