package stats

import (
	"encoding/json"
	"math"
	"testing"
)

func TestHumanSize(t *testing.T) {
	for _, tc := range []struct {
		in   uint64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{512, "512B"},
		{1023, "1023B"},
		{1024, "1K"},
		{1536, "1K"},
		{1<<20 - 1, "1023K"},
		{1 << 20, "1M"},
		{5<<20 + 12345, "5M"},
		{28 << 20, "28M"},
		{1<<30 - 1, "1023M"},
		{1 << 30, "1G"},
		{3<<30 + 1<<29, "3G"},
		{1 << 40, "1T"},
		{1 << 50, "1P"},
		{1 << 60, "1E"},
		{math.MaxUint64, "15E"},
	} {
		if got := HumanSize(tc.in); got != tc.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatCTime(t *testing.T) {
	for _, tc := range []struct {
		hundredths uint64
		want       string
	}{
		{0, "0:00.00"},
		{5, "0:00.05"},
		{30, "0:00.30"},
		{50, "0:00.50"},
		{100, "0:01.00"},
		{5999, "0:59.99"},
		{6000, "1:00.00"},
		{59*6000 + 5999, "59:59.99"},
		{60 * 6000, "60:00.00"},            // no wrap at the hour
		{75*6000 + 5*100 + 20, "75:05.20"}, // the reference prints "15:05.20"
	} {
		if got := formatCTime(tc.hundredths); got != tc.want {
			t.Errorf("formatCTime(%d) = %q, want %q", tc.hundredths, got, tc.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	return string(b)
}

func TestValueJSON(t *testing.T) {
	for _, tc := range []struct {
		in   Value
		want string
	}{
		{Value{}, `"N/A"`},
		{Value{V: 3, OK: false}, `"N/A"`},
		{Some(0), `0.0`},
		{Some(math.Copysign(0, -1)), `0.0`},
		{Some(12), `12.0`},
		{Some(0.4), `0.4`},
		{Some(250.5), `250.5`},
		{Some(1e21), `1000000000000000000000.0`},
		{Some(math.NaN()), `"N/A"`},
		{Some(math.Inf(1)), `"N/A"`},
	} {
		if got := mustJSON(t, tc.in); got != tc.want {
			t.Errorf("marshal %#v = %s, want %s", tc.in, got, tc.want)
		}
		if got := tc.in.String(); got != trimQuotes(tc.want) {
			t.Errorf("%#v.String() = %q, want %q", tc.in, got, trimQuotes(tc.want))
		}
	}

	for _, tc := range []struct {
		in   string
		want Value
	}{
		{`0.0`, Some(0)},
		{`0`, Some(0)},
		{`12.5`, Some(12.5)},
		{` "N/A" `, Value{}},
		{`null`, Value{}},
	} {
		var v Value
		if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
			t.Errorf("unmarshal %s: %v", tc.in, err)
			continue
		}
		if v != tc.want {
			t.Errorf("unmarshal %s = %#v, want %#v", tc.in, v, tc.want)
		}
	}
	for _, bad := range []string{`"N"`, `"1.5"`, `true`, `{}`} {
		var v Value
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("unmarshal %s: no error, got %#v", bad, v)
		}
	}
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func TestStatJSON(t *testing.T) {
	st := Stat{
		CPU: Some(0), Mem: Some(0.2), MemInfo1: "5M", MemInfo2: "28M", CTime: "0:00.30",
		RSS: 5 << 20, VSize: 28 << 20, CPUSeconds: 0.3, Age: 7, // raw fields are not encoded
	}
	const want = `{"cpu":0.0,"mem":0.2,"mem_info1":"5M","mem_info2":"28M","ctime":"0:00.30"}`
	if got := mustJSON(t, st); got != want {
		t.Errorf("Stat JSON\n got %s\nwant %s", got, want)
	}
	// Pointer and value marshal alike.
	if got := mustJSON(t, &st); got != want {
		t.Errorf("*Stat JSON\n got %s\nwant %s", got, want)
	}
	var back Stat
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if back != (Stat{CPU: Some(0), Mem: Some(0.2), MemInfo1: "5M", MemInfo2: "28M", CTime: "0:00.30"}) {
		t.Errorf("round trip: %#v", back)
	}

	const allNA = `{"cpu":"N/A","mem":"N/A","mem_info1":"N/A","mem_info2":"N/A","ctime":"N/A"}`
	if got := mustJSON(t, naStat()); got != allNA {
		t.Errorf("N/A Stat JSON\n got %s\nwant %s", got, allNA)
	}
	if got := mustJSON(t, Stat{}); got != allNA {
		t.Errorf("zero Stat JSON\n got %s\nwant %s", got, allNA)
	}
}

func TestProcessStatJSON(t *testing.T) {
	p := ProcessStat{PID: 1, OSPID: 26089, Stat: Stat{
		CPU: Some(0), Mem: Some(0.2), MemInfo1: "5M", MemInfo2: "28M", CTime: "0:00.30", RSS: 1,
	}}
	const want = `{"pid":1,"os_pid":26089,"cpu":0.0,"mem":0.2,"mem_info1":"5M","mem_info2":"28M","ctime":"0:00.30"}`
	if got := mustJSON(t, p); got != want {
		t.Errorf("ProcessStat JSON\n got %s\nwant %s", got, want)
	}
	var back ProcessStat
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	p.RSS = 0
	if back != p {
		t.Errorf("round trip: %#v, want %#v", back, p)
	}
	if got := mustJSON(t, []ProcessStat{p}); got != "["+want+"]" {
		t.Errorf("slice JSON: %s", got)
	}
}

func TestJobStatsJSON(t *testing.T) {
	// The response shape of gaffer-http-api.md §4.3, built by embedding.
	resp := struct {
		Name string `json:"name"`
		JobStats
		Stats []ProcessStat `json:"stats"`
	}{
		Name: "app.web",
		JobStats: JobStats{
			CPU: Some(0), Mem: Some(0.4), MaxCPU: Some(0), MinCPU: Some(0), MaxMem: Some(0.2), MinMem: Some(0.2),
		},
		Stats: []ProcessStat{{PID: 1, OSPID: 26089, Stat: Stat{
			CPU: Some(0), Mem: Some(0.2), MemInfo1: "5M", MemInfo2: "28M", CTime: "0:00.30",
		}}},
	}
	const want = `{"name":"app.web","cpu":0.0,"mem":0.4,"max_cpu":0.0,"min_cpu":0.0,"max_mem":0.2,"min_mem":0.2,` +
		`"stats":[{"pid":1,"os_pid":26089,"cpu":0.0,"mem":0.2,"mem_info1":"5M","mem_info2":"28M","ctime":"0:00.30"}]}`
	if got := mustJSON(t, resp); got != want {
		t.Errorf("job stats JSON\n got %s\nwant %s", got, want)
	}
	const empty = `{"cpu":"N/A","mem":"N/A","max_cpu":"N/A","min_cpu":"N/A","max_mem":"N/A","min_mem":"N/A"}`
	if got := mustJSON(t, Aggregate(nil)); got != empty {
		t.Errorf("empty aggregate JSON\n got %s\nwant %s", got, empty)
	}
	var back JobStats
	if err := json.Unmarshal([]byte(empty), &back); err != nil || back != (JobStats{}) {
		t.Errorf("unmarshal empty: %#v, %v", back, err)
	}
}

func cm(cpu, mem Value) Stat { return Stat{CPU: cpu, Mem: mem} }

func TestAggregate(t *testing.T) {
	na := Value{}
	for _, tc := range []struct {
		name string
		in   []Stat
		want JobStats
	}{
		{"nil", nil, JobStats{}},
		{"empty", []Stat{}, JobStats{}},
		{"one", []Stat{cm(Some(1.5), Some(0.2))}, JobStats{
			CPU: Some(1.5), MaxCPU: Some(1.5), MinCPU: Some(1.5),
			Mem: Some(0.2), MaxMem: Some(0.2), MinMem: Some(0.2),
		}},
		{"two", []Stat{cm(Some(0), Some(0.2)), cm(Some(0), Some(0.2))}, JobStats{
			CPU: Some(0), MaxCPU: Some(0), MinCPU: Some(0),
			Mem: Some(0.4), MaxMem: Some(0.2), MinMem: Some(0.2),
		}},
		{"sums rounded, multi-core", []Stat{cm(Some(0.1), Some(0.1)), cm(Some(150.2), Some(0.1)), cm(Some(0.1), Some(3.3))}, JobStats{
			CPU: Some(150.4), MaxCPU: Some(150.2), MinCPU: Some(0.1),
			Mem: Some(3.5), MaxMem: Some(3.3), MinMem: Some(0.1),
		}},
		{"min not first", []Stat{cm(Some(5), Some(2)), cm(Some(1), Some(1)), cm(Some(9), Some(4))}, JobStats{
			CPU: Some(15), MaxCPU: Some(9), MinCPU: Some(1),
			Mem: Some(7), MaxMem: Some(4), MinMem: Some(1),
		}},
		{"cpu N/A only", []Stat{cm(Some(5), Some(2)), cm(na, Some(1))}, JobStats{
			CPU: na, MaxCPU: na, MinCPU: na,
			Mem: Some(3), MaxMem: Some(2), MinMem: Some(1),
		}},
		{"mem N/A only", []Stat{cm(Some(5), na), cm(Some(1), Some(1))}, JobStats{
			CPU: Some(6), MaxCPU: Some(5), MinCPU: Some(1),
			Mem: na, MaxMem: na, MinMem: na,
		}},
		{"permission denied process", []Stat{cm(Some(5), Some(1)), naStat()}, JobStats{}},
		{"NaN counts as N/A", []Stat{cm(Some(math.NaN()), Some(1))}, JobStats{
			Mem: Some(1), MaxMem: Some(1), MinMem: Some(1),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Aggregate(tc.in); got != tc.want {
				t.Errorf("Aggregate = %+v\nwant        %+v", got, tc.want)
			}
		})
	}
}
