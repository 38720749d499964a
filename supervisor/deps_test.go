package supervisor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDependsOnAndProbesJSONRoundTrip(t *testing.T) {
	in := `{"name":"web","cmd":"srv","depends_on":["db:healthy","cache",{"job":"migrate","condition":"completed"},{"job":"other.q","delay":1.5,"propagate":true}],
		"readiness":{"kind":"http","url":"http://127.0.0.1:8080/health","period":2},"liveness":{"kind":"tcp","address":"127.0.0.1:8080","failure_threshold":5}}`
	var c JobConfig
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Dependency{{Job: "db", Condition: Healthy}, {Job: "cache"}, {Job: "migrate", Condition: Completed},
		{Job: "other.q", Delay: 1500 * time.Millisecond, Propagate: true}}
	if len(c.DependsOn) != len(want) {
		t.Fatalf("depends_on = %+v", c.DependsOn)
	}
	for i := range want {
		if c.DependsOn[i] != want[i] {
			t.Errorf("dependency %d = %+v, want %+v", i, c.DependsOn[i], want[i])
		}
	}
	if r := c.Readiness; r == nil || r.Kind != ProbeHTTP || r.Period != 2*time.Second || r.Timeout != time.Second || r.FailureThreshold != 3 {
		t.Errorf("readiness = %+v", r)
	}
	if l := c.Liveness; l == nil || l.Kind != ProbeTCP || l.FailureThreshold != 5 {
		t.Errorf("liveness = %+v", l)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back JobConfig
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if !back.Equal(c) {
		t.Errorf("round trip changed the config:\n%s", out)
	}
	other := c.clone()
	other.DependsOn[0].Propagate = true
	if other.Equal(c) || c.DependsOn[0].Propagate {
		t.Error("clone shares depends_on, or Equal ignores it")
	}
}

func TestDependsOnAndProbeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"depends_on":[{"job":"db","condition":"up"}]}`, `condition "up"`},
		{`{"depends_on":[""]}`, "without a job name"},
		{`{"depends_on":[{"job":"db","wait":1}]}`, "unknown field"},
		{`{"readiness":{"kind":"exec"}}`, "exec probe without a command"},
		{`{"readiness":{"kind":"http","url":"ftp://x"}}`, "want http://"},
		{`{"liveness":{"kind":"notify"}}`, "only be a readiness probe"},
		{`{"liveness":{"kind":"tcp","address":"h:1","period":0}}`, "0 < period"},
		{`{"liveness":{"kind":"ping"}}`, `kind "ping"`},
	} {
		var c JobConfig
		err := json.Unmarshal([]byte(strings.Replace(tc.in, "{", `{"name":"a","cmd":"b",`, 1)), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadValue) && !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("%s: %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}
