package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/deps"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestParseDependsOn(t *testing.T) {
	dep := func(name string, c supervisor.Condition, delay time.Duration, prop bool) depRef {
		return depRef{Name: name, Dep: supervisor.Dependency{Condition: c, Delay: delay, Propagate: prop}}
	}
	good := []struct {
		in   string
		want []depRef
	}{
		{"", nil},
		{"  ", nil},
		{"db", []depRef{dep("db", "", 0, false)}},
		{"db (healthy), cache, migrate (completed), queue (started, delay=2, propagate)", []depRef{
			dep("db", supervisor.Healthy, 0, false), dep("cache", "", 0, false),
			dep("migrate", supervisor.Completed, 0, false), dep("queue", supervisor.Started, 2*time.Second, true)}},
		{"shop.db(delay = 0.5)", []depRef{dep("shop.db", "", 500*time.Millisecond, false)}},
		{"a ( propagate ) ,b", []depRef{dep("a", "", 0, true), dep("b", "", 0, false)}},
	}
	for _, tt := range good {
		got, err := parseDependsOn(tt.in, validIniDepName)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseDependsOn(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"db,", "an empty item"},
		{",db", "an empty item"},
		{"db cache", `"db cache" is not a name`},
		{"db (healthy", "no closing parenthesis after db"},
		{"db (healthy) x", `unexpected "x" after db`},
		{"db (ready)", `unknown option "ready"`},
		{"db (heathy)", "did you mean healthy?"},
		{"db (healthy, completed)", "two conditions (healthy and completed)"},
		{"db (delay=-1)", "delay -1: must not be negative"},
		{"db (delay=soon)", `delay: invalid number "soon"`},
		{"db (delay=1, delay=2)", "delay given twice"},
		{"db (propagate, propagate)", "propagate given twice"},
		{"db (wait=1)", `unknown option "wait=1"`},
		{"db ()", "an empty option"},
		{"db, db (healthy)", "db is listed twice"},
		{"shop:db", `"shop:db": want JOB or SESSION.JOB`},
		{"shop.", `"shop.": want JOB or SESSION.JOB`},
	}
	for _, tt := range bad {
		_, err := parseDependsOn(tt.in, validIniDepName)
		if err == nil || !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseDependsOn(%q) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
	if _, err := parseDependsOn("grp.prog", validSupervisordDepName); err == nil || !strings.Contains(err.Error(), "want PROGRAM or GROUP:PROGRAM") {
		t.Errorf("supervisord name with a dot: %v", err)
	}
	if _, err := parseDependsOn("grp:prog, prog", validSupervisordDepName); err != nil {
		t.Errorf("supervisord names: %v", err)
	}
}

func TestINIDependsOnAndProbes(t *testing.T) {
	c, err := Parse("gafferd.ini", []byte(`[job:db]
cmd = postgres
readiness = tcp 127.0.0.1:5432
readiness_period = 0.5
readiness_failure_threshold = 5

[job:web]
cmd = web
depends_on = db (healthy), shop.queue (started, delay=2, propagate)
readiness_initial_delay = 1
readiness = http http://127.0.0.1:8080/health
liveness = exec ./check --quick
liveness_timeout = 3
liveness_success_threshold = 2

[job:shop:queue]
cmd = queue
readiness = notify
`))
	if err != nil {
		t.Fatal(err)
	}
	web := job(t, c, "default.web")
	wantDeps := []supervisor.Dependency{{Job: "db", Condition: supervisor.Healthy},
		{Job: "shop.queue", Condition: supervisor.Started, Delay: 2 * time.Second, Propagate: true}}
	if !reflect.DeepEqual(web.DependsOn, wantDeps) {
		t.Errorf("DependsOn = %+v, want %+v", web.DependsOn, wantDeps)
	}
	r := supervisor.DefaultProbe(supervisor.ProbeHTTP)
	r.URL, r.InitialDelay = "http://127.0.0.1:8080/health", time.Second
	if web.Readiness == nil || *web.Readiness != r {
		t.Errorf("Readiness = %+v, want %+v", web.Readiness, r)
	}
	l := supervisor.DefaultProbe(supervisor.ProbeExec)
	l.Command, l.Timeout, l.SuccessThreshold = "./check --quick", 3*time.Second, 2
	if web.Liveness == nil || *web.Liveness != l {
		t.Errorf("Liveness = %+v, want %+v", web.Liveness, l)
	}
	db := job(t, c, "default.db")
	if p := db.Readiness; p == nil || p.Kind != supervisor.ProbeTCP || p.Address != "127.0.0.1:5432" || p.Period != 500*time.Millisecond || p.FailureThreshold != 5 {
		t.Errorf("db readiness = %+v", p)
	}
	if p := job(t, c, "shop.queue").Readiness; p == nil || p.Kind != supervisor.ProbeNotify {
		t.Errorf("queue readiness = %+v", p)
	}
	for _, k := range []string{"depends_on", "readiness", "liveness"} {
		if !strings.Contains(strings.Join(web.Given, ","), k) {
			t.Errorf("Given %v lacks %s (job info would not echo it)", web.Given, k)
		}
	}
	// The job info round-trips through JSON.
	data, err := web.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back supervisor.JobConfig
	if err := back.UnmarshalJSON(data); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(back.DependsOn, wantDeps) || *back.Readiness != r || *back.Liveness != l {
		t.Errorf("JSON round trip: %s", data)
	}
}

func TestINIDependsOnAndProbeErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{"depends_on = db,,x", "gafferd.ini:3: [job:web] depends_on: invalid value \"db,,x\": an empty item"},
		{"depends_on = db (soon)", `gafferd.ini:3: [job:web] depends_on: invalid value "db (soon)": db: unknown option "soon"`},
		{"readiness = ftp x", `gafferd.ini:3: [job:web] readiness: invalid value "ftp x": unknown probe kind "ftp"`},
		{"readiness = http localhost:80", "the URL must start with http:// or https://"},
		{"readiness = http http://a/ http://b/", "an http probe takes one URL"},
		{"readiness = tcp 5432", "a tcp probe takes one HOST:PORT"},
		{"readiness = exec", "an exec probe needs a command"},
		{"readiness = exec 'unclosed", "no closing quotation"},
		{"readiness = notify now", "notify takes no argument"},
		{"liveness = notify", "[job:web] liveness: invalid value \"notify\": notify (READY=1 on $NOTIFY_SOCKET) can only be a readiness probe"},
		{"readiness = notify\nreadiness_period = 0", "[job:web] readiness_period: invalid value 0: must be more than 0 seconds"},
		{"readiness = notify\nreadiness_timeout = -1", "readiness_timeout: invalid value -1: want 0 to 604800 seconds"},
		{"liveness = tcp h:1\nliveness_failure_threshold = 0", "liveness_failure_threshold: invalid value 0: want 1 to 1000000"},
		{"liveness = tcp h:1\nliveness_success_threshold = many", `liveness_success_threshold: invalid integer "many"`},
		{"liveness = tcp h:1\nliveness_initial_delay = later", `liveness_initial_delay: invalid number "later"`},
		{"readiness_period = 5", "gafferd.ini:1: [job:web] readiness: missing: readiness timings are set but readiness = KIND … is not"},
		{"readiness_periode = 5", "readiness_periode: unknown key"},
	}
	for _, tt := range tests {
		_, err := Parse("gafferd.ini", []byte("[job:web]\ncmd = web\n"+tt.body+"\n[job:db]\ncmd = db\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error = %v\nwant it to contain %q", tt.body, err, tt.want)
		}
	}
}

func TestLoadRefusesCyclesAndUnknownDependencies(t *testing.T) {
	_, err := Parse("gafferd.ini", []byte("[job:a]\ncmd = a\ndepends_on = b\n[job:b]\ncmd = b\ndepends_on = c\n[job:c]\ncmd = c\ndepends_on = default.a\n[job:d]\ncmd = d\ndepends_on = e\n"))
	if !errors.Is(err, deps.ErrCycle) || !errors.Is(err, deps.ErrUnknown) {
		t.Fatalf("error = %v, want a cycle and an unknown dependency", err)
	}
	for _, want := range []string{
		"gafferd.ini:1: [job:a] depends_on: dependency cycle: default.a -> default.b -> default.c -> default.a",
		"gafferd.ini:10: [job:d] depends_on: unknown dependency: default.d depends on default.e, which is not in this config",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Parse("gafferd.ini", []byte("[job:a]\ncmd = a\ndepends_on = a\n")); !errors.Is(err, deps.ErrCycle) ||
		!strings.Contains(err.Error(), "default.a -> default.a") {
		t.Errorf("self dependency: %v", err)
	}
	// A diamond is no cycle (gaggled's own check wrongly refused some).
	if _, err := Parse("gafferd.ini", []byte("[job:p]\ncmd = p\ndepends_on = q, r\n[job:q]\ncmd = q\ndepends_on = s\n[job:r]\ncmd = r\ndepends_on = s\n[job:s]\ncmd = s\n[job:t]\ncmd = t\ndepends_on = p\n")); err != nil {
		t.Errorf("diamond refused: %v", err)
	}
}

func TestSupervisordDependsOn(t *testing.T) {
	src := `[supervisord]
[program:db]
command = postgres
readiness = tcp 127.0.0.1:5432
liveness = exec pg_isready -q
liveness_period = 30

[program:worker]
command = worker %(process_num)s
process_name = worker_%(process_num)02d
numprocs = 2

[group:shop]
programs = web,cart

[program:web]
command = web
depends_on = db (healthy), worker (propagate), shop:cart
[program:cart]
command = cart
autostart = false
depends_on = db:db (delay=1.5)
`
	c, err := testHost(memFS(nil)).parseSupervisord(testConf, []byte(src))
	if err == nil {
		_, err = checked(c, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	web := job(t, c, "shop.web")
	want := []supervisor.Dependency{{Job: "db.db", Condition: supervisor.Healthy},
		{Job: "worker.worker_00", Propagate: true}, {Job: "worker.worker_01", Propagate: true}, {Job: "shop.cart"}}
	if !reflect.DeepEqual(web.DependsOn, want) {
		t.Errorf("web DependsOn = %+v\nwant %+v", web.DependsOn, want)
	}
	if d := job(t, c, "shop.cart").DependsOn; len(d) != 1 || d[0].Job != "db.db" || d[0].Delay != 1500*time.Millisecond {
		t.Errorf("cart DependsOn = %+v", d)
	}
	db := job(t, c, "db.db")
	if db.Readiness == nil || db.Readiness.Address != "127.0.0.1:5432" || db.Liveness == nil || db.Liveness.Command != "pg_isready -q" || db.Liveness.Period != 30*time.Second {
		t.Errorf("db probes = %+v, %+v", db.Readiness, db.Liveness)
	}

	for _, tt := range []struct{ src, want string }{
		{"[supervisord]\n[program:web]\ncommand=web\ndepends_on=dbb\n[program:db]\ncommand=db\n",
			`supervisord.conf:4: [program:web] depends_on: unknown program "dbb": no such program or eventlistener in this config (did you mean db?)`},
		{"[supervisord]\n[program:web]\ncommand=web\ndepends_on=db.x\n", `depends_on: invalid value "db.x": "db.x": want PROGRAM or GROUP:PROGRAM`},
		{"[supervisord]\n[group:a]\nprograms=db\n[group:b]\nprograms=db\n[program:db]\ncommand=db\n[program:web]\ncommand=web\ndepends_on=db\n",
			"program db is in groups a, b: write GROUP:db"},
		{"[supervisord]\n[program:db]\ncommand=db\nnumprocs=0\n[program:web]\ncommand=web\ndepends_on=db\n", "program db has no process (numprocs = 0)"},
		{"[supervisord]\n[program:web]\ncommand=web\nreadiness=notify\nreadiness_timeout=x\n", `[program:web] readiness_timeout: invalid number "x"`},
		{"[supervisord]\n[program:web]\ncommand=web\nliveness_period=3\n", "[program:web] liveness: missing: liveness timings are set"},
	} {
		_, err := testHost(memFS(nil)).parseSupervisord(testConf, []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\nerror = %v\nwant %q", tt.src, err, tt.want)
		}
	}
	// A cycle across groups is refused with the job names.
	_, err = ParseSupervisord("/etc/supervisord.conf", []byte("[supervisord]\n[program:a]\ncommand=a\ndepends_on=b\n[program:b]\ncommand=b\ndepends_on=a\n"))
	if !errors.Is(err, deps.ErrCycle) || !strings.Contains(err.Error(), "a.a -> b.b -> a.a") {
		t.Errorf("cycle: %v", err)
	}
}

func TestJSONDependsOnAndProbes(t *testing.T) {
	jobs, err := LoadJSONJobs("jobs.json", []byte(`{"jobs": [
		{"name": "db", "cmd": "postgres", "readiness": {"kind": "tcp", "address": "127.0.0.1:5432", "period": 0.5}},
		{"name": "web", "cmd": "web", "depends_on": ["db:healthy", {"job": "shop.queue", "delay": 2, "propagate": true}],
		 "liveness": {"kind": "http", "url": "http://127.0.0.1:8080/", "failure_threshold": 2}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	web := jobs[1].Config
	want := []supervisor.Dependency{{Job: "db", Condition: supervisor.Healthy}, {Job: "shop.queue", Delay: 2 * time.Second, Propagate: true}}
	if !reflect.DeepEqual(web.DependsOn, want) {
		t.Errorf("DependsOn = %+v", web.DependsOn)
	}
	if p := web.Liveness; p == nil || p.URL != "http://127.0.0.1:8080/" || p.FailureThreshold != 2 || p.Period != 10*time.Second {
		t.Errorf("Liveness = %+v", p)
	}
	if p := jobs[0].Config.Readiness; p == nil || p.Period != 500*time.Millisecond {
		t.Errorf("Readiness = %+v", p)
	}
	for _, tt := range []struct{ src, want string }{
		{`{"name": "web", "cmd": "web", "liveness": {"kind": "notify"}}`, "jobs.json: [web] liveness: a notify probe can only be a readiness probe"},
		{`{"name": "web", "cmd": "web", "readiness": {"kind": "tcp", "adress": "h:1"}}`, `unknown field "adress"`},
		{`{"name": "web", "cmd": "web", "depends_on": ["db:ready"]}`, `depends_on db: condition "ready": want started, healthy or completed`},
		{`{"name": "web", "cmd": "web", "depends_on": [{"job": "db", "delay": -1}]}`, "delay -1"},
	} {
		_, err := LoadJSONJobs("jobs.json", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\nerror = %v\nwant %q", tt.src, err, tt.want)
		}
	}
}
