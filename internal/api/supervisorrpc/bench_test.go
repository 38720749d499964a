package supervisorrpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/supervisor"
)

// BenchmarkGetAllProcessInfo100Configured serves getAllProcessInfo for 100 programs
// configured as a supervisord.conf configures them (full environment, two
// log files), in process: the daemon's share of the bench/ scenario.
func BenchmarkGetAllProcessInfo100Configured(b *testing.B) {
	sup := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go sup.Run(ctx)
	b.Cleanup(func() { cancel(); <-sup.Done() })
	srv := xmlrpc.NewServer()
	Register(srv, &Daemon{Sup: sup, Version: "test", Identification: "supervisor", State: func() int { return 1 }})
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	dir := b.TempDir()
	for i := range 100 {
		name := fmt.Sprintf("p%03d", i)
		cfg := supervisor.NewJobConfig(name, "sleep 1000")
		cfg.Env = maps.Clone(env)
		cfg.OSEnv = true
		cfg.Program = supervisor.DefaultProgram(name)
		cfg.RedirectOutput = []string{"stdout", "stderr"}
		cfg.Logs = map[string]supervisor.LogFile{"stdout": {Path: dir + "/" + name + ".out", MaxBytes: 50 << 20, Backups: 10},
			"stderr": {Path: dir + "/" + name + ".err", MaxBytes: 50 << 20, Backups: 10}}
		if err := sup.Load(ctx, name, cfg, false); err != nil {
			b.Fatal(err)
		}
	}
	var req bytes.Buffer
	xmlrpc.EncodeRequest(&req, "supervisor.getAllProcessInfo")
	body := req.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("POST", "/RPC2", bytes.NewReader(body)))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
		io.Copy(io.Discard, w.Body)
	}
}
