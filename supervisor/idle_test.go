package supervisor

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// An idle supervisor with running children has no timer armed: nothing
// wakes it until a child exits or a request arrives.
func TestIdleArmsNoTimer(t *testing.T) {
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	defer func() { cancel(); <-s.Done() }()
	cfg := NewJobConfig("idle", "sleep 60")
	cfg.NumProcesses = 3
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	var armed time.Time
	if err := s.do(ctx, func() error { armed = s.timerAt; return nil }); err != nil {
		t.Fatal(err)
	}
	if !armed.IsZero() {
		t.Fatalf("idle supervisor armed a timer for %v", armed)
	}
	// A stop arms exactly the graceful-timeout deadline.
	if err := s.StopJob(ctx, "idle"); err != nil {
		t.Fatal(err)
	}
	var live int
	if err := s.do(ctx, func() error { armed, live = s.timerAt, len(s.procs); return nil }); err != nil {
		t.Fatal(err)
	}
	if armed.IsZero() && live > 0 {
		t.Fatal("stopping processes but no kill deadline armed")
	}
}

func TestJobInfoJSONMatchesEncodingJSON(t *testing.T) {
	info := JobInfo{Name: `we"ird<name>é`, Active: true, Running: 2, RunningOut: 1, MaxProcesses: 3,
		Processes: []int{1, 4}, Stopped: false, Waiting: "backoff: restart in 1s", LastError: "spawn \x01 failed",
		Config: NewJobConfig("web", "sleep 1")}
	got, err := info.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("invalid JSON %s: %v", got, err)
	}
	type plain JobInfo
	want, _ := json.Marshal(plain(info))
	json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("AppendJSON = %s\nencoding/json = %s", got, want)
	}
}
