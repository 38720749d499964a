package lookupd_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/api/lookupd"
	"github.com/gafferhq/gaffer/internal/api/rest"
	"github.com/gafferhq/gaffer/internal/cluster"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

func TestMain(m *testing.M) {
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

// readEvent reads registry stream messages until one has the given event
// name, and returns it.
func readEvent(t *testing.T, ctx context.Context, conn *websocket.Conn, event string) map[string]any {
	t.Helper()
	for range 100 {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", event, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("not JSON: %s", data)
		}
		if m["event"] == event {
			return m
		}
	}
	t.Fatalf("no %s in 100 messages", event)
	return nil
}

func TestOverARealClusterNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sup := supervisor.New(supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	spawns := sup.Subscribe(1024, supervisor.DropOldest, "spawn")
	runCtx, stop := context.WithCancel(context.Background())
	go sup.Run(runCtx)
	api := httptest.NewServer(rest.New(sup, rest.Options{}))
	node, err := cluster.Start(ctx, sup, api.Config.Handler, cluster.Options{Embedded: true, Listen: "127.0.0.1:0",
		Name: "solo", Origin: api.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	reg := seeding{Node: node, seeded: make(chan struct{}, 1)}
	srv := httptest.NewServer(lookupd.New(reg, lookupd.Options{}))
	t.Cleanup(func() {
		srv.Close()
		node.Close()
		api.Close()
		stop()
		<-sup.Done()
		spawns.Close()
		for e := range spawns.C() {
			if !gaffertest.Gone(e.OSPid) {
				t.Errorf("process %d (os pid %d) still alive", e.Pid, e.OSPid)
			}
		}
	})

	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/lookup/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	select { // the listener's starting view is taken: changes from now on are told
	case <-reg.seeded:
	case <-ctx.Done():
		t.Fatal("the handler never read the registry")
	}
	c, _ := client.New(api.URL)
	job := supervisor.JobConfig{Name: "web", Cmd: gaffertest.Self(t), NumProcesses: 1,
		Env: map[string]string{gaffertest.HelperEnv: "sleep", "GORACE": "atexit_sleep_ms=0"}}
	if err := c.Load(ctx, "shop", job, true); err != nil {
		t.Fatal(err)
	}
	ref := map[string]any{"name": "solo", "origin": api.URL, "version": "0.1"}
	if m := readEvent(t, ctx, conn, "add_job"); m["job_name"] != "shop.web" || !sameMap(m["node"], ref) {
		t.Errorf("add_job = %v", m)
	}
	added := readEvent(t, ctx, conn, "add_process")
	if added["job_name"] != "shop.web" || added["pid"] != float64(1) {
		t.Errorf("add_process = %v", added)
	}
	// The query API sees what the stream told.
	resp, err := srv.Client().Get(srv.URL + "/findJob?name=shop.web")
	if err != nil {
		t.Fatal(err)
	}
	var found lookupd.SourcesAnswer
	err = json.NewDecoder(resp.Body).Decode(&found)
	resp.Body.Close()
	if err != nil || len(found.Sources) != 1 || found.Sources[0].Name != "solo" || len(found.Sources[0].Pids) != 1 ||
		found.Sources[0].NodeInfo.Origin != api.URL {
		t.Errorf("findJob = %+v, %v", found, err)
	}
	if err := c.Unload(ctx, "shop.web"); err != nil {
		t.Fatal(err)
	}
	if m := readEvent(t, ctx, conn, "remove_job"); m["job_name"] != "shop.web" {
		t.Errorf("remove_job = %v", m)
	}
}

// seeding is a cluster node that says when its nodes were read.
type seeding struct {
	*cluster.Node
	seeded chan struct{}
}

func (s seeding) Nodes() []cluster.NodeInfo {
	nodes := s.Node.Nodes()
	select {
	case s.seeded <- struct{}{}:
	default:
	}
	return nodes
}

func sameMap(got any, want map[string]any) bool {
	g, ok := got.(map[string]any)
	if !ok || len(g) != len(want) {
		return false
	}
	for k, v := range want {
		if g[k] != v {
			return false
		}
	}
	return true
}
