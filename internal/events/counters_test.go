package events

import "testing"

func TestBusCountsPublishedAndDropped(t *testing.T) {
	b := NewBus()
	keep := b.Subscribe(10, DropOldest)
	defer keep.Close()
	slow := b.Subscribe(2, DropOldest)
	defer slow.Close()
	closing := b.Subscribe(1, CloseSub)
	for range 5 {
		b.Publish(Event{Type: "spawn"})
	}
	if got := b.Published(); got != 5 {
		t.Errorf("Published = %d, want 5", got)
	}
	// slow kept 2 of 5; closing held 1 and was closed by the 2nd.
	if slow.Dropped() != 3 {
		t.Errorf("slow subscriber dropped %d, want 3", slow.Dropped())
	}
	if closing.Err() != ErrOverflow {
		t.Errorf("closing subscriber: %v, want ErrOverflow", closing.Err())
	}
	if got := b.Dropped(); got != 3+1 {
		t.Errorf("bus Dropped = %d, want 4 (3 dropped by slow, 1 closing a subscription)", got)
	}
	if keep.Dropped() != 0 || len(keep.C()) != 5 {
		t.Errorf("a subscriber with room lost events: dropped %d, queued %d", keep.Dropped(), len(keep.C()))
	}
}
