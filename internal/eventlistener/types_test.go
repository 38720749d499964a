package eventlistener

import (
	"testing"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

func TestStateEventPayloads(t *testing.T) {
	base := supervisor.Event{Type: "state", Process: "web", Group: "app", OSPid: 4321, Tries: 2}
	for _, tt := range []struct {
		from, to string
		expected bool
		osPid    int
		typ      string
		payload  string
	}{
		{"STOPPED", "STARTING", false, 0, "PROCESS_STATE_STARTING", "processname:web groupname:app from_state:STOPPED tries:2"},
		{"STARTING", "RUNNING", false, 4321, "PROCESS_STATE_RUNNING", "processname:web groupname:app from_state:STARTING pid:4321"},
		{"STARTING", "BACKOFF", false, 0, "PROCESS_STATE_BACKOFF", "processname:web groupname:app from_state:STARTING tries:2"},
		{"RUNNING", "STOPPING", false, 4321, "PROCESS_STATE_STOPPING", "processname:web groupname:app from_state:RUNNING pid:4321"},
		{"RUNNING", "EXITED", true, 4321, "PROCESS_STATE_EXITED", "processname:web groupname:app from_state:RUNNING expected:1 pid:4321"},
		{"RUNNING", "EXITED", false, 4321, "PROCESS_STATE_EXITED", "processname:web groupname:app from_state:RUNNING expected:0 pid:4321"},
		{"STOPPING", "STOPPED", false, 4321, "PROCESS_STATE_STOPPED", "processname:web groupname:app from_state:STOPPING pid:4321"},
		{"BACKOFF", "STOPPED", false, 0, "PROCESS_STATE_STOPPED", "processname:web groupname:app from_state:BACKOFF pid:0"},
		{"BACKOFF", "FATAL", false, 0, "PROCESS_STATE_FATAL", "processname:web groupname:app from_state:BACKOFF"},
		{"RUNNING", "UNKNOWN", false, 4321, "PROCESS_STATE_UNKNOWN", "processname:web groupname:app from_state:RUNNING"},
	} {
		e := base
		e.From, e.To, e.Expected, e.OSPid = tt.from, tt.to, tt.expected, tt.osPid
		typ, payload, ok := stateEvent(e)
		if !ok || typ != tt.typ || string(payload) != tt.payload {
			t.Errorf("%s→%s: %v %q %q, want %q %q", tt.from, tt.to, ok, typ, payload, tt.typ, tt.payload)
		}
	}
	if _, _, ok := stateEvent(supervisor.Event{To: "State(7)"}); ok {
		t.Error("a state supervisor has no event for became one")
	}
}

func TestTypeHierarchy(t *testing.T) {
	for _, tt := range []struct {
		typ, sub string
		want     bool
	}{
		{"PROCESS_STATE_RUNNING", "PROCESS_STATE", true},
		{"PROCESS_STATE_RUNNING", "EVENT", true},
		{"PROCESS_STATE_RUNNING", "PROCESS_STATE_RUNNING", true},
		{"PROCESS_STATE_RUNNING", "PROCESS_STATE_EXITED", false},
		{"TICK_60", "TICK", true},
		{"TICK_60", "TICK_5", false},
		{"REMOTE_COMMUNICATION", "PROCESS_COMMUNICATION", false},
		{"PROCESS_COMMUNICATION_STDERR", "PROCESS_COMMUNICATION", true},
		{"PROCESS_LOG_STDOUT", "PROCESS_STATE", false},
		{"SUPERVISOR_STATE_CHANGE_STOPPING", "EVENT", true},
		{"PROCESS_GROUP_REMOVED", "PROCESS_GROUP", true},
	} {
		if got := isA(tt.typ, tt.sub); got != tt.want {
			t.Errorf("isA(%s, %s) = %v", tt.typ, tt.sub, got)
		}
	}
	for typ := range parents {
		if !isA(typ, "EVENT") {
			t.Errorf("%s is not under EVENT", typ)
		}
	}
}

func TestEnvelopeCountsCharacters(t *testing.T) {
	got := string(envelope("srv", "pool1", 7, 3, "REMOTE_COMMUNICATION", []byte("type:x\nhé")))
	want := "ver:3.0 server:srv serial:7 pool:pool1 poolserial:3 eventname:REMOTE_COMMUNICATION len:9\ntype:x\nhé"
	if got != want {
		t.Fatalf("envelope\n%q\nwant\n%q", got, want)
	}
	// Not UTF-8: bytes.
	got = string(envelope("srv", "pool1", 7, 3, "REMOTE_COMMUNICATION", []byte("type:x\n\xff")))
	want = "ver:3.0 server:srv serial:7 pool:pool1 poolserial:3 eventname:REMOTE_COMMUNICATION len:8\ntype:x\n\xff"
	if got != want {
		t.Fatalf("envelope\n%q\nwant\n%q", got, want)
	}
}

func TestOutputPayloads(t *testing.T) {
	if got := string(outputPayload("web", "app", 12, "stderr", []byte("oops\n"))); got != "processname:web groupname:app pid:12 channel:stderr\noops\n" {
		t.Errorf("log payload %q", got)
	}
	if got := string(outputPayload("web", "app", 12, "", []byte("blob"))); got != "processname:web groupname:app pid:12\nblob" {
		t.Errorf("communication payload %q", got)
	}
}

func TestTimeslice(t *testing.T) {
	at := time.Unix(3607, 500)
	for _, tt := range []struct {
		period, want int64
	}{{5, 3605}, {60, 3600}, {3600, 3600}} {
		if got := timeslice(tt.period, at); got != tt.want {
			t.Errorf("timeslice(%d) = %d, want %d", tt.period, got, tt.want)
		}
	}
}
