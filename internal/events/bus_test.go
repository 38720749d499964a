package events

import (
	"errors"
	"testing"
)

func TestMatchIsOnWholeWords(t *testing.T) {
	for _, tt := range []struct {
		pattern, typ string
		want         bool
	}{
		{".", "job.app.web.exit", true},
		{"", "spawn", true},
		{"job.app", "job.app.web.exit", true},
		{"job.app.", "job.app.web.exit", true},
		{"job.app", "job.apple.x", false},
		{"exit", "job.app.web.exit", false},
		{"exit", "exit", true},
		{"job.app.web.exit", "job.app.web", false},
	} {
		if got := Match(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.typ, got, tt.want)
		}
	}
}

func TestSlowSubscriberNeverBlocksOthers(t *testing.T) {
	b := NewBus()
	drop := b.Subscribe(2, DropOldest, "spawn")
	closing := b.Subscribe(2, CloseSub, ".")
	fast := b.Subscribe(100, DropOldest, ".")
	for range 10 {
		b.Publish(Event{Type: "spawn"}) // never blocks, whoever reads
	}
	if got := drop.Dropped(); got != 8 {
		t.Errorf("DropOldest dropped %d, want 8", got)
	}
	var seqs []uint64
	for e := range drop.C() {
		seqs = append(seqs, e.Seq)
		if len(seqs) == 2 {
			break
		}
	}
	if seqs[0] != 9 || seqs[1] != 10 {
		t.Errorf("DropOldest kept %v, want the newest two (9, 10)", seqs)
	}
	n := 0
	for range closing.C() {
		n++
	}
	if n != 2 || !errors.Is(closing.Err(), ErrOverflow) {
		t.Errorf("CloseSub delivered %d then err %v; want 2 then ErrOverflow", n, closing.Err())
	}
	if len(fast.C()) != 10 {
		t.Errorf("fast subscriber got %d events, want all 10", len(fast.C()))
	}
	drop.Close()
	drop.Close() // twice is fine
	fast.Close()
}

func TestMessageShapes(t *testing.T) {
	exit := Event{Type: "exit", Kind: "exit", Name: "app.web", Pid: 3, OSPid: 42, ExitStatus: 0, TermSignal: 9}
	m := exit.Message()
	if m["event"] != "exit" || m["pid"] != 3 || m["os_pid"] != 42 || m["term_signal"] != 9 || m["once"] != false {
		t.Errorf("exit message = %v", m)
	}
	kill := Event{Type: "job.app.web.kill", Kind: "kill", Name: "app.web", Signum: 1}
	if m := kill.Message(); m["signum"] != 1 || m["pid"] != nil {
		t.Errorf("job kill message = %v", m)
	}
	load := Event{Type: "load", Kind: "load", Name: "app.web"}
	if m := load.Message(); len(m) != 2 {
		t.Errorf("load message = %v, want only event and name", m)
	}
}
