package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 123456 1000 200 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "a (weird) name" || st.state != 'S' || st.ppid != 17 || st.utime != 7 || st.stime != 3 || st.start != 123456 {
		t.Errorf("parseStat = %+v", st)
	}
	if _, err := parseStat([]byte("1 (x) S 1")); err == nil {
		t.Error("short stat: no error")
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {50, 5}, {90, 9}, {99, 10}, {100, 10}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestJobInfos(t *testing.T) {
	for _, c := range []struct {
		body string
		n    int
		ok   bool
	}{
		{`{"jobs":[{"name":"default.a"},{"name":"default.b"}]}`, 2, true},
		{`{"jobs":{"default.a":{"running":1}}}`, 1, true},
		{`{"jobs":["default.a","default.b"]}`, 0, false},
		{`not json`, 0, false},
	} {
		n, ok := jobInfos([]byte(c.body))
		if n != c.n || ok != c.ok {
			t.Errorf("jobInfos(%s) = %d, %v; want %d, %v", c.body, n, ok, c.n, c.ok)
		}
	}
}

func TestCPUDelta(t *testing.T) {
	a := usage{schedNs: 1e6, ticks: 1, tids: "1,2", sched: true}
	b := usage{schedNs: 3e6, ticks: 2, tids: "1,2", sched: true}
	if got := cpuDelta(a, b); got != 2*time.Millisecond {
		t.Errorf("same threads: %v, want 2ms (schedstat)", got)
	}
	b.tids = "1"
	if got := cpuDelta(a, b); got != 10*time.Millisecond {
		t.Errorf("a thread ended: %v, want 10ms (ticks)", got)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{{0, "ms", "0"}, {0.4071, "ms", "0.407"}, {2.861, "ms", "2.86"}, {16.52, "MB", "16.5"}, {1008.7, "ms", "1009"}, {20, "", "20"}} {
		if got := formatValue(c.v, c.unit); got != c.want {
			t.Errorf("formatValue(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
	r := &row{}
	r.have[gafferd], r.have[baseline], r.have[supervisord] = true, true, true
	r.v[gafferd], r.v[baseline], r.v[supervisord] = 3.1, 2.86, 1009
	if got := r.ratioCell(gafferd, baseline); got != "1.08×" {
		t.Errorf("ratio = %q", got)
	}
	if got := r.ratioCell(gafferd, supervisord); got != "0.0031×" {
		t.Errorf("small ratio = %q", got)
	}
	if got := r.ratioCell(supervisord, baseline); got != "353×" {
		t.Errorf("big ratio = %q", got)
	}
}

func TestXMLMember(t *testing.T) {
	body := []byte(`<?xml version='1.0'?><methodResponse><params><param><value><struct>
<member>
<name>statename</name>
<value><string>EXITED</string></value>
</member>
<member><name>exitstatus</name><value><int>0</int></value></member>
<member><name>description</name><value><string>Nov 23 12:10 &amp; more</string></value></member>
</struct></value></param></params></methodResponse>`)
	for name, want := range map[string]string{"statename": "EXITED", "exitstatus": "0", "description": "Nov 23 12:10 & more", "pid": ""} {
		if got := xmlMember(body, name); got != want {
			t.Errorf("xmlMember(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestSupervisordConfigKeys(t *testing.T) {
	conf := supervisordConfig("/w", "/w/s.sock", []program{
		{name: "a", cmd: "sleep 1"},
		{name: "w", cmd: "writer", keys: [][2]string{{"autorestart", "false"}, {"stdout_logfile", "/w/w.log"}, {"autostart", "true"}}},
	})
	for _, want := range []string{
		"[program:a]\ncommand = sleep 1\nstartsecs = 0\nautorestart = true\nstdout_logfile = NONE\nstderr_logfile = NONE\n",
		"[program:w]\ncommand = writer\nstartsecs = 0\nautorestart = false\nstdout_logfile = /w/w.log\nstderr_logfile = NONE\nautostart = true\n",
		"[unix_http_server]\nfile = /w/s.sock\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func TestLogFilesAndWriterReport(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"w.log": 1, "w.log.1": 2, "w.log.10": 3, "w.log.2": 4, "w.err": 5, "w.log.x": 6} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	names, sizes := logFiles(dir)
	if got := strings.Join(names, " "); got != "w.log.10 w.log.2 w.log.1 w.log" {
		t.Errorf("logFiles = %s", got)
	}
	if fmt.Sprint(sizes) != "[3 4 2 1]" {
		t.Errorf("sizes = %v", sizes)
	}
	if got := logBytes(dir); got != 10 {
		t.Errorf("logBytes = %d, want 10", got)
	}
	report := "writer: 10 lines, 1000 bytes, wall 0.500 s, cpu 0.125 s"
	os.WriteFile(filepath.Join(dir, "w.err"), []byte("noise\n"+report+"\n"), 0o600)
	if got := writerReport(filepath.Join(dir, "w.err")); got != report {
		t.Errorf("writerReport = %q", got)
	}
	if d, ok := writerCPU(report); !ok || d != 125*time.Millisecond {
		t.Errorf("writerCPU = %v, %v", d, ok)
	}
}
