// Package events holds gaffer's typed events and the bus that fans them out.
//
// Contract: Publish never blocks and never calls subscriber code. Each
// subscriber has its own bounded queue; when it is full the subscriber's
// overflow policy applies to that subscriber alone (drop the oldest event and
// count it, or close the subscription with ErrOverflow). A slow subscriber
// therefore never slows the publisher (the supervisor's loop) or anyone else.
// Events are delivered to each subscriber in publish order.
package events

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one thing that happened. Type is gaffer's dotted event type
// ("spawn", "job.app.web.exit", "proc.3.kill"); Kind is its last word.
type Event struct {
	Seq        uint64    // bus-wide sequence number, from 1
	Time       time.Time // when it was published
	Type       string
	Kind       string
	Name       string // full job name session.job
	Pid        int    // gaffer's internal process id, 0 when none
	OSPid      int
	ExitStatus int    // exit: exit code, or 128+signal when killed (TermSignal says which)
	TermSignal int    // exit: signal number or 0
	Once       bool   // exit: a committed (one-off) process
	Signum     int    // kill: the signal sent
	Label      string // output: the stream label
	Data       []byte // output: the bytes read
	Reason     string // optional human text
	// state events (supervisor process states): names such as "RUNNING".
	From, To string
	Tries    int  // backoff counter (STARTING, BACKOFF)
	Expected bool // EXITED: the exit status was in exitcodes
	Group    string
	Process  string // supervisor process name (the job name)
}

// Message returns the event as gaffer's JSON message: "event" plus the fields
// its kind carries (gaffer-events.md §2).
func (e Event) Message() map[string]any {
	m := map[string]any{"event": e.Type, "name": e.Name}
	switch e.Kind {
	case "spawn", "reap":
		m["pid"], m["os_pid"] = e.Pid, e.OSPid
	case "exit":
		m["pid"], m["os_pid"] = e.Pid, e.OSPid
		m["exit_status"], m["term_signal"], m["once"] = e.ExitStatus, e.TermSignal, e.Once
	case "stop_process":
		m["pid"] = e.Pid
	case "healthy", "unhealthy":
		m["pid"], m["os_pid"] = e.Pid, e.OSPid
	case "kill":
		if e.Pid != 0 {
			m["pid"] = e.Pid
		} else {
			m["signum"] = e.Signum
		}
	case "state":
		m["pid"], m["os_pid"] = e.Pid, e.OSPid
		m["from_state"], m["state"], m["tries"], m["expected"] = e.From, e.To, e.Tries, e.Expected
	case "output":
		m["event"] = e.Label
		m["pid"] = e.Pid
		m["data"] = string(e.Data)
	}
	if e.Reason != "" {
		m["reason"] = e.Reason
	}
	return m
}

// MarshalJSON writes Message.
func (e Event) MarshalJSON() ([]byte, error) { return json.Marshal(e.Message()) }

// Match reports whether an event type matches a subscription pattern: the
// pattern "." (or "") matches everything; otherwise the type must equal the
// pattern or start with pattern + "." (whole dot-separated words).
func Match(pattern, typ string) bool {
	pattern = strings.TrimSuffix(pattern, ".")
	if pattern == "" {
		return true
	}
	return typ == pattern || strings.HasPrefix(typ, pattern) && typ[len(pattern)] == '.'
}

// Overflow says what happens when a subscriber's queue is full.
type Overflow int

const (
	DropOldest Overflow = iota // drop the oldest queued event and count it
	CloseSub                   // close the subscription; Err returns ErrOverflow
)

// ErrOverflow is the reason a CloseSub subscription was closed.
var ErrOverflow = errors.New("subscriber too slow: event queue overflowed")

// Bus fans events out to subscribers. The zero value is not usable; use NewBus.
type Bus struct {
	mu      sync.RWMutex
	subs    map[*Sub]struct{}
	seq     atomic.Uint64 // events published so far
	dropped atomic.Uint64 // events lost to full queues, all subscribers together
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[*Sub]struct{}{}} }

// Sub is one subscription. Read events from C; call Close when done.
type Sub struct {
	bus      *Bus
	patterns []string
	ch       chan Event
	policy   Overflow
	dropped  atomic.Uint64
	mu       sync.Mutex // guards closed and err, and serializes sends against close
	closed   bool
	err      error
}

// Subscribe registers a subscriber for events matching any of patterns, with
// a queue of size events (at least 1).
func (b *Bus) Subscribe(size int, policy Overflow, patterns ...string) *Sub {
	if size < 1 {
		size = 1
	}
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	s := &Sub{bus: b, patterns: patterns, ch: make(chan Event, size), policy: policy}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// C is the subscriber's queue. It is closed by Close or on overflow.
func (s *Sub) C() <-chan Event { return s.ch }

// Dropped is the number of events dropped so far (DropOldest policy).
func (s *Sub) Dropped() uint64 { return s.dropped.Load() }

// Err is ErrOverflow when the bus closed the subscription, nil otherwise.
func (s *Sub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close unsubscribes and closes C. Safe to call more than once.
func (s *Sub) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.close(nil)
}

func (s *Sub) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.err = err
		close(s.ch)
	}
}

func (s *Sub) matches(typ string) bool {
	for _, p := range s.patterns {
		if Match(p, typ) {
			return true
		}
	}
	return false
}

// deliver queues e without blocking.
func (s *Sub) deliver(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for {
		select {
		case s.ch <- e:
			return
		default:
		}
		if s.policy == CloseSub {
			s.bus.dropped.Add(1) // e itself: the queue before it stays readable
			s.closed = true
			s.err = ErrOverflow
			close(s.ch)
			go s.bus.remove(s)
			return
		}
		select {
		case <-s.ch: // make room: the oldest event goes
			s.dropped.Add(1)
			s.bus.dropped.Add(1)
		default:
		}
	}
}

func (b *Bus) remove(s *Sub) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// Publish stamps e with a sequence number and time and queues it for every
// matching subscriber. It never blocks.
func (b *Bus) Publish(e Event) {
	e.Seq = b.seq.Add(1)
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Kind == "" {
		e.Kind = e.Type[strings.LastIndexByte(e.Type, '.')+1:]
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.matches(e.Type) {
			s.deliver(e)
		}
	}
}

// Published is the number of events published on the bus so far.
func (b *Bus) Published() uint64 { return b.seq.Load() }

// Dropped is the number of events subscribers lost so far, all together:
// those a DropOldest queue dropped, and the one that closed a CloseSub
// subscription on overflow.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// HasSubscribers reports whether anyone listens to typ; publishers use it to
// skip building costly events (output chunks) nobody reads.
func (b *Bus) HasSubscribers(typ string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.matches(typ) {
			return true
		}
	}
	return false
}
