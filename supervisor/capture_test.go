package supervisor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

// TestCaptureModeKeepsBlocksOutOfTheLog: with capture_maxbytes, the bytes
// between the XSUPERVISOR tokens reach neither the log file, nor the tail,
// nor output subscribers; each block is one "comm" output event, even when
// the tokens are split across reads.
func TestCaptureModeKeepsBlocksOutOfTheLog(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "out.log")
	cfg := helperJob(t, "capt", "echo-stdin")
	cfg.RedirectInput = true
	cfg.RedirectOutput = []string{"stdout"}
	cfg.Logs = map[string]supervisor.LogFile{"stdout": {Path: log, CaptureMaxBytes: 100}}
	out := s.SubscribeOutput(100, supervisor.DropOldest, ".")
	defer out.Close()
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	pids, err := s.Pids(ctx, "capt")
	if err != nil || len(pids) != 1 {
		t.Fatalf("pids %v %v", pids, err)
	}
	write := func(text string) {
		t.Helper()
		if err := s.Write(ctx, pids[0], "stdin", []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	logged := func() string {
		b, _ := os.ReadFile(log)
		return string(b)
	}
	// The first read ends inside the begin token: what precedes it is
	// logged, the token's start is held back.
	write("before, and enough to decide <!--XSUPER")
	gaffertest.Eventually(t, wait, "the output before the token in the log", func() bool {
		return logged() == "before, and enough to decide "
	})
	write("VISOR:BEGIN-->sec")
	write("ret<!--XSUPERVISOR:E")
	write("ND--> after, and enough output to pass a token's length\n")
	var seen []string
	comm := gaffertest.WaitFor(t, out, wait, func(e events.Event) bool {
		seen = append(seen, e.Kind+":"+string(e.Data))
		return e.Kind == "comm"
	})
	if string(comm.Data) != "secret" || comm.Label != "stdout" || comm.Pid != pids[0] || comm.Name != "default.capt" {
		t.Errorf("comm event %+v, want the block \"secret\" of stdout", comm)
	}
	const want = "before, and enough to decide  after, and enough output to pass a token's length\n"
	gaffertest.Eventually(t, wait, "the output after the block in the log", func() bool {
		return strings.HasSuffix(logged(), "length\n")
	})
	if got := logged(); got != want {
		t.Errorf("log %q, want %q", got, want)
	}
	tail, err := s.Output(ctx, pids[0], "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tail.Last(1 << 10)); got != want {
		t.Errorf("tail %q, want %q", got, want)
	}
	for _, e := range seen {
		if strings.Contains(e, "output:") && strings.Contains(e, "secret") {
			t.Errorf("captured bytes published as output: %q", e)
		}
	}
}

// TestCaptureModeFlushesAtExit: bytes held back because they might start a
// token are logged when the stream ends.
func TestCaptureModeFlushesAtExit(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "out.log")
	cfg := helperJob(t, "once", "write-no-newline", "x<!--XSUPERVISOR:BEGIN-->blk<!--XSUPERVISOR:END-->end <")
	cfg.RedirectOutput = []string{"stdout"}
	cfg.Logs = map[string]supervisor.LogFile{"stdout": {Path: log, CaptureMaxBytes: 100}}
	cfg.Program = supervisor.DefaultProgram("default")
	cfg.Program.StartSecs = 0
	cfg.Program.AutoRestart = supervisor.RestartNever
	sub := s.Subscribe(100, supervisor.DropOldest, "state")
	defer sub.Close()
	if err := s.Load(ctx, "", cfg, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.WaitFor(t, sub, wait, func(e events.Event) bool { return e.To == "EXITED" })
	gaffertest.Eventually(t, wait, "the last bytes in the log", func() bool {
		b, _ := os.ReadFile(log)
		return string(b) == "xend <"
	})
}
