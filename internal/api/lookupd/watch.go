package lookupd

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/internal/cluster"
)

// Event is one message of the registry stream (gaffer-lookupd §6.1). Which
// fields are present depends on Event: add_node, identify and remove_node
// carry Name, Origin and Version at the top level (all null for add_node);
// add_job and remove_job carry Node and JobName; add_process and
// remove_process carry Node, JobName and Pid.
type Event struct {
	Event   string
	Node    NodeRef
	JobName string
	Pid     int
}

// Registry stream event names.
const (
	EvAddNode       = "add_node"
	EvIdentify      = "identify"
	EvRemoveNode    = "remove_node"
	EvAddJob        = "add_job"
	EvRemoveJob     = "remove_job"
	EvAddProcess    = "add_process"
	EvRemoveProcess = "remove_process"
)

// MarshalJSON writes the event in lookupd's shape for its kind.
func (e Event) MarshalJSON() ([]byte, error) {
	switch e.Event {
	case EvAddNode:
		return json.Marshal(map[string]any{"event": e.Event, "name": nil, "origin": nil, "version": nil})
	case EvIdentify, EvRemoveNode:
		return json.Marshal(map[string]any{"event": e.Event, "name": e.Node.Name, "origin": e.Node.Origin,
			"version": e.Node.Version})
	case EvAddJob, EvRemoveJob:
		return json.Marshal(map[string]any{"event": e.Event, "node": e.Node, "job_name": e.JobName})
	case EvAddProcess, EvRemoveProcess:
		return json.Marshal(map[string]any{"event": e.Event, "node": e.Node, "job_name": e.JobName, "pid": e.Pid})
	}
	return nil, errors.New("lookupd: unknown event " + e.Event)
}

// view is what one listener has been told: node name → job name → pids.
// Owned by the listener's goroutine.
type view struct {
	nodes map[string]*viewNode
}

type viewNode struct {
	ref  NodeRef
	jobs map[string][]int // sorted pids
}

func newView() *view { return &view{nodes: map[string]*viewNode{}} }

// seed records nodes as already known, without events: a listener hears
// changes from the moment it connects, as with lookupd.
func (v *view) seed(nodes []cluster.NodeInfo) {
	for _, n := range nodes {
		v.apply(cluster.RegistryEvent{Kind: cluster.EventAdd, Node: n})
	}
}

// resync brings the view to nodes, the registry's whole state, and
// returns the events that tell the difference.
func (v *view) resync(nodes []cluster.NodeInfo) []Event {
	var out []Event
	present := map[string]bool{}
	for _, n := range nodes {
		present[n.Name] = true
		out = append(out, v.apply(cluster.RegistryEvent{Kind: cluster.EventUpdate, Node: n})...)
	}
	var gone []string
	for name := range v.nodes {
		if !present[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		out = append(out, v.apply(cluster.RegistryEvent{Kind: cluster.EventRemove, Node: cluster.NodeInfo{Name: name}})...)
	}
	return out
}

// apply brings the view to the event's state of the node and returns the
// lookupd events that tell a listener the difference. Registry events carry
// a node's whole state, so applying one twice yields nothing the second
// time.
func (v *view) apply(ev cluster.RegistryEvent) []Event {
	name := ev.Node.Name
	old := v.nodes[name]
	if ev.Kind == cluster.EventRemove {
		if old == nil {
			return nil
		}
		delete(v.nodes, name)
		return []Event{{Event: EvRemoveNode, Node: old.ref}}
	}
	var out []Event
	ref := refOf(ev.Node)
	if old == nil || old.ref != ref {
		if old != nil { // the node came back with another origin: a new node
			out = append(out, Event{Event: EvRemoveNode, Node: old.ref})
		}
		old = &viewNode{ref: ref, jobs: map[string][]int{}}
		v.nodes[name] = old
		out = append(out, Event{Event: EvAddNode}, Event{Event: EvIdentify, Node: ref})
	}
	want := map[string][]int{}
	var names []string
	for _, j := range ev.Node.Jobs {
		pids := slices.Clone(j.Pids)
		slices.Sort(pids)
		want[j.Name] = slices.Compact(pids)
		names = append(names, j.Name)
	}
	slices.Sort(names)
	// Gone jobs first (their processes went with them, as in lookupd).
	var gone []string
	for j := range old.jobs {
		if _, ok := want[j]; !ok {
			gone = append(gone, j)
		}
	}
	slices.Sort(gone)
	for _, j := range gone {
		for _, pid := range old.jobs[j] {
			out = append(out, Event{Event: EvRemoveProcess, Node: ref, JobName: j, Pid: pid})
		}
		out = append(out, Event{Event: EvRemoveJob, Node: ref, JobName: j})
		delete(old.jobs, j)
	}
	for _, j := range names {
		had, ok := old.jobs[j]
		if !ok {
			out = append(out, Event{Event: EvAddJob, Node: ref, JobName: j})
		}
		for _, pid := range had {
			if _, found := slices.BinarySearch(want[j], pid); !found {
				out = append(out, Event{Event: EvRemoveProcess, Node: ref, JobName: j, Pid: pid})
			}
		}
		for _, pid := range want[j] {
			if _, found := slices.BinarySearch(had, pid); !found {
				out = append(out, Event{Event: EvAddProcess, Node: ref, JobName: j, Pid: pid})
			}
		}
		old.jobs[j] = want[j]
	}
	return out
}

// watch serves one registry listener until it leaves or falls behind.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns})
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Listeners send nothing that matters (the reference client's pings):
	// read and drop, so control frames are answered and a close is seen.
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	events := h.reg.Watch(ctx) // before Nodes: no change falls between the two
	v := newView()
	v.seed(h.reg.Nodes())
	rewatched := false // since the last event
	for {
		var todo []Event
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusGoingAway, "")
			return
		case ev, ok := <-events:
			switch {
			case ok:
				rewatched = false
				todo = v.apply(ev)
			case ctx.Err() != nil:
				continue
			case rewatched: // closed again at once: the registry is gone
				conn.Close(websocket.StatusGoingAway, "registry closed")
				return
			default:
				// The registry dropped this watcher (it fell behind): watch
				// again and catch up from the registry's current state.
				rewatched = true
				events = h.reg.Watch(ctx)
				todo = v.resync(h.reg.Nodes())
			}
		}
		if err := h.send(ctx, conn, todo); err != nil {
			if ctx.Err() == nil {
				h.opts.Logger.Warn("lookupd: dropping a registry listener", "remote", r.RemoteAddr, "err", err)
				conn.Close(websocket.StatusPolicyViolation, "listener too slow")
			}
			return
		}
	}
}

// send writes events to a listener, each within the write timeout.
func (h *Handler) send(ctx context.Context, conn *websocket.Conn, events []Event) error {
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil { // a bug: every kind apply makes has a shape
			h.opts.Logger.Error("lookupd: encoding a registry event", "err", err)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, h.opts.WriteTimeout)
		err = conn.Write(wctx, websocket.MessageText, data)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}
