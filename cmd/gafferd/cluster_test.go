package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// clusterDaemon is a gafferd of a cluster test, on its own unix socket,
// started (and restarted) with the same config and flags.
type clusterDaemon struct {
	*testDaemon
}

func startClusterDaemon(t *testing.T, name, ini string, args ...string) *clusterDaemon {
	t.Helper()
	d := &clusterDaemon{newTestDaemon(t, daemonOpts{
		config:  fmt.Sprintf("[gaffer]\nrequire_key = false\nbroadcast_address = http://%s.test:5000\n[cluster]\nname = %s\n%s", name, name, ini),
		args:    args,
		timeout: 15 * time.Second,
	})}
	d.start()
	return d
}

// kill SIGKILLs gafferd and the processes of its jobs.
func (d *clusterDaemon) kill(jobs ...string) {
	d.t.Helper()
	var pids []int
	for _, j := range jobs {
		pids = append(pids, d.osPids(j)...)
	}
	d.cmd.Process.Kill()
	<-d.waited
	d.waited <- nil
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

func (d *clusterDaemon) request(method, path, body string) (int, string) {
	d.t.Helper()
	r, _ := http.NewRequest(method, "http://gafferd"+path, strings.NewReader(body))
	resp, err := d.http.Do(r)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// nodes lists the cluster as d sees it: "name job,job" per node.
func (d *clusterDaemon) nodes() []string {
	d.t.Helper()
	st, body := d.request("GET", "/cluster/nodes", "")
	if st != http.StatusOK {
		d.t.Fatalf("GET /cluster/nodes: %d %s", st, body)
	}
	var v struct {
		Nodes []struct {
			Name, Origin string
			Jobs         []struct {
				Name    string
				Running int
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, n := range v.Nodes {
		var jobs []string
		for _, j := range n.Jobs {
			jobs = append(jobs, fmt.Sprintf("%s=%d", j.Name, j.Running))
		}
		out = append(out, n.Name+" "+strings.Join(jobs, ","))
	}
	return out
}

func TestGafferdCluster(t *testing.T) {
	port := gaffertest.FreeAddr(t)
	url := "nats://" + port
	job := strings.Replace(sleeperJob, "[job:web]", "[job:app.db]", 1)
	a := startClusterDaemon(t, "a", "embedded = true\nlisten = "+port+"\n")
	b := startClusterDaemon(t, "b", "", "--cluster", url)
	c := startClusterDaemon(t, "c", strings.Replace(job, "%s", gaffertest.Self(t), 1), "--cluster", url)
	all := []string{"a ", "b ", "c app.db=1"}
	for _, d := range []*clusterDaemon{a, b, c} {
		gaffertest.Eventually(t, 10*time.Second, "three nodes", func() bool { return slices.Equal(d.nodes(), all) })
	}

	// A job loaded on b through a's API runs on b.
	body := fmt.Sprintf(`{"name":"web","cmd":%q,"env":{"GAFFER_HELPER":"sleep","GORACE":"atexit_sleep_ms=0"}}`, gaffertest.Self(t))
	if st, resp := a.request("POST", "/cluster/b/jobs/app", body); st != http.StatusOK {
		t.Fatalf("load on b through a: %d %s", st, resp)
	}
	if got := b.jobs(); !slices.Equal(got, []string{"app.web"}) {
		t.Fatalf("b's jobs %q", got)
	}
	if len(b.osPids("app.web")) != 1 {
		t.Fatal("app.web does not run on b")
	}
	gaffertest.Eventually(t, 10*time.Second, "c seeing b's job", func() bool {
		return slices.Equal(c.nodes(), []string{"a ", "b app.web=1", "c app.db=1"})
	})

	// A killed node leaves every view; restarted, it comes back with its job.
	c.kill("app.db")
	for _, d := range []*clusterDaemon{a, b} {
		gaffertest.Eventually(t, 10*time.Second, "c gone", func() bool {
			return slices.Equal(d.nodes(), []string{"a ", "b app.web=1"})
		})
	}
	c.start()
	for _, d := range []*clusterDaemon{a, b} {
		gaffertest.Eventually(t, 10*time.Second, "c back", func() bool {
			return slices.Equal(d.nodes(), []string{"a ", "b app.web=1", "c app.db=1"})
		})
	}

	// A second node named b refuses to start, naming the first one.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gaffer.ini")
	os.WriteFile(cfg, []byte("[gaffer]\nrequire_key = false\n[cluster]\nname = b\nurl = "+url+"\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, gafferdBin, "-c", cfg, "--bind", "unix:"+filepath.Join(dir, "s.sock")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "http://b.test:5000") {
		t.Errorf("duplicate name: %v\n%s", err, out)
	}
}
