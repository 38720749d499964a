package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// event is one record of testdata/listener.py.
type event struct {
	header  map[string]string
	payload string
	tokens  map[string]string // the payload's first line as key:value pairs
}

// events parses events.txt as written so far.
func (d *daemon) events() []event {
	d.t.Helper()
	b, _ := os.ReadFile(d.path("events.txt"))
	var out []event
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		head, payload, ok := strings.Cut(line, "\t")
		if !ok {
			d.t.Fatalf("malformed record %q", line)
		}
		e := event{header: tokenMap(head), payload: strings.ReplaceAll(payload, `\n`, "\n")}
		first, _, _ := strings.Cut(e.payload, "\n")
		e.tokens = tokenMap(first)
		out = append(out, e)
	}
	return out
}

func tokenMap(s string) map[string]string {
	m := map[string]string{}
	for _, tok := range strings.Fields(s) {
		k, v, _ := strings.Cut(tok, ":")
		m[k] = v
	}
	return m
}

var pidToken = regexp.MustCompile(`pid:\d+`)

// summary is an event's name and payload with the pid normalised.
func (e event) summary() string {
	return e.header["eventname"] + " " + pidToken.ReplaceAllString(e.payload, "pid:N")
}

// waitEvent waits until the listener has recorded eventname for process.
func (d *daemon) waitEvent(eventname, process string) {
	d.t.Helper()
	eventually(d.t, 15*time.Second, "listener to record "+eventname+" of "+process, func() bool {
		return slices.ContainsFunc(d.events(), func(e event) bool {
			return e.header["eventname"] == eventname && e.tokens["processname"] == process
		})
	})
}

func TestEventListenerProcessState(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	listener, err := os.ReadFile(filepath.Join("testdata", "listener.py"))
	if err != nil {
		t.Fatal(err)
	}
	both(t, func(t *testing.T, k kind) {
		d := start(t, k, setup{
			Files: map[string]string{"listener.py": string(listener)},
			Sections: []string{
				section("eventlistener:listener", "command="+python+" %(here)s/listener.py", "events=PROCESS_STATE"),
				program("target", "command=sleep 1000", "startsecs=0", "autostart=false"),
				program("exiter", `command=/bin/sh -c "sleep 0.3; exit 3"`, "startsecs=0", "autostart=false",
					"autorestart=false", "exitcodes=0"),
				// startsecs well above supervisord's latency in noticing an exit
				// (up to about a second: its loop's poll timeout).
				program("failer", `command=/bin/sh -c "exit 1"`, "startsecs=3", "startretries=1", "autostart=false"),
				section("group:grp", "programs=member"),
				program("member", "command=sleep 1000", "startsecs=0", "autostart=false"),
			},
		})
		// The listener hears about itself once it is RUNNING and READY.
		d.waitEvent("PROCESS_STATE_RUNNING", "listener")

		d.expectCtl(0, "target: started\n", "start", "target")
		d.waitEvent("PROCESS_STATE_RUNNING", "target")
		d.expectCtl(0, "target: stopped\n", "stop", "target")
		d.waitEvent("PROCESS_STATE_STOPPED", "target")
		d.rpc("supervisor.startProcess", "exiter", false)
		d.waitEvent("PROCESS_STATE_EXITED", "exiter")
		d.startFailing("failer")
		d.waitEvent("PROCESS_STATE_FATAL", "failer")
		d.expectCtl(0, "grp:member: started\n", "start", "grp:member")
		d.waitEvent("PROCESS_STATE_RUNNING", "member")
		d.expectCtl(0, "grp:member: stopped\n", "stop", "grp:*")
		d.waitEvent("PROCESS_STATE_STOPPED", "member")

		var got []string
		events := d.events()
		for _, e := range events {
			if e.tokens["processname"] != "listener" {
				got = append(got, e.summary())
			}
		}
		want := []string{
			"PROCESS_STATE_STARTING processname:target groupname:target from_state:STOPPED tries:0",
			"PROCESS_STATE_RUNNING processname:target groupname:target from_state:STARTING pid:N",
			"PROCESS_STATE_STOPPING processname:target groupname:target from_state:RUNNING pid:N",
			"PROCESS_STATE_STOPPED processname:target groupname:target from_state:STOPPING pid:N",
			"PROCESS_STATE_STARTING processname:exiter groupname:exiter from_state:STOPPED tries:0",
			"PROCESS_STATE_RUNNING processname:exiter groupname:exiter from_state:STARTING pid:N",
			"PROCESS_STATE_EXITED processname:exiter groupname:exiter from_state:RUNNING expected:0 pid:N",
			"PROCESS_STATE_STARTING processname:failer groupname:failer from_state:STOPPED tries:0",
			"PROCESS_STATE_BACKOFF processname:failer groupname:failer from_state:STARTING tries:1",
			"PROCESS_STATE_STARTING processname:failer groupname:failer from_state:BACKOFF tries:1",
			"PROCESS_STATE_BACKOFF processname:failer groupname:failer from_state:STARTING tries:2",
			"PROCESS_STATE_FATAL processname:failer groupname:failer from_state:BACKOFF",
			"PROCESS_STATE_STARTING processname:member groupname:grp from_state:STOPPED tries:0",
			"PROCESS_STATE_RUNNING processname:member groupname:grp from_state:STARTING pid:N",
			"PROCESS_STATE_STOPPING processname:member groupname:grp from_state:RUNNING pid:N",
			"PROCESS_STATE_STOPPED processname:member groupname:grp from_state:STOPPING pid:N",
		}
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		// The listener's own first events, and the headers of all.
		var own []string
		for _, e := range events {
			if e.tokens["processname"] == "listener" {
				own = append(own, e.summary())
			}
		}
		if wantOwn := []string{
			"PROCESS_STATE_STARTING processname:listener groupname:listener from_state:STOPPED tries:0",
			"PROCESS_STATE_RUNNING processname:listener groupname:listener from_state:STARTING pid:N",
		}; !slices.Equal(own, wantOwn) {
			t.Errorf("listener's own events:\n%s\nwant:\n%s", strings.Join(own, "\n"), strings.Join(wantOwn, "\n"))
		}
		lastSerial, lastPoolSerial := -1, -1
		for _, e := range events {
			h := e.header
			serial, err1 := strconv.Atoi(h["serial"])
			poolSerial, err2 := strconv.Atoi(h["poolserial"])
			if h["ver"] != "3.0" || h["server"] != "supervisor" || h["pool"] != "listener" ||
				h["len"] != strconv.Itoa(len(e.payload)) || err1 != nil || err2 != nil ||
				serial <= lastSerial || poolSerial <= lastPoolSerial {
				t.Errorf("header %v (payload %d bytes, previous serial %d poolserial %d)", h, len(e.payload), lastSerial, lastPoolSerial)
			}
			lastSerial, lastPoolSerial = serial, poolSerial
		}
		if len(events) > 0 && (events[0].header["serial"] != "0" || events[0].header["poolserial"] != "0") {
			t.Errorf("first event header %v, want serial 0 and poolserial 0", events[0].header)
		}
	})
}
