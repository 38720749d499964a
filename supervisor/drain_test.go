package supervisor_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
	"github.com/gafferhq/gaffer/supervisor"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// What a process writes as it stops at shutdown has reached the output
// sinks when Run returns: an embedding program (gaffer start's console)
// can print it before exiting.
func TestRunReturnsAfterTheLastOutput(t *testing.T) {
	var out lockedBuffer
	s := supervisor.New(supervisor.Options{OutputSinks: func(string, int, string) []io.Writer {
		return []io.Writer{&out}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	// The script is a file: the engine expands $VAR in command lines.
	script := filepath.Join(t.TempDir(), "bye.sh")
	if err := os.WriteFile(script, []byte(`trap 'i=0; while [ $i -lt 200 ]; do echo "bye $i"; i=$((i+1)); done; exit 0' TERM
echo up
while :; do sleep 0.05; done
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := supervisor.NewJobConfig("bye", "sh")
	cfg.Args = []string{script}
	cfg.RedirectOutput = []string{"out"}
	if err := s.Load(ctx, "default", cfg, true); err != nil {
		t.Fatal(err)
	}
	gaffertest.Eventually(t, wait, "the child's first line", func() bool { return strings.Contains(out.String(), "up\n") })
	cancel()
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("supervisor did not stop")
	}
	if got := out.String(); !strings.HasSuffix(got, "bye 199\n") {
		t.Errorf("output when Run returned ends with %q, want the last line the child wrote", got[max(len(got)-40, 0):])
	}
}
