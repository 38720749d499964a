package supervisor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gafferhq/gaffer/supervisor"
)

// BenchmarkInfoAll100 is the "list everything" call with 100 jobs: the
// loop's InfoAll plus the JSON the REST API writes.
func BenchmarkInfoAll100(b *testing.B) {
	s := supervisor.New(supervisor.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	defer func() { cancel(); <-s.Done() }()
	for i := range 100 {
		cfg := supervisor.NewJobConfig(fmt.Sprintf("job%03d", i), "sleep 600")
		if err := s.Load(ctx, "", cfg, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		infos, err := s.InfoAll(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		// as the REST API writes the list
		buf := []byte(`{"jobs":[`)
		for i, info := range infos {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = info.AppendJSON(buf); err != nil {
				b.Fatal(err)
			}
		}
		buf = append(buf, "]}"...)
		if b.N == 1 && !json.Valid(buf) {
			b.Fatal("invalid JSON")
		}
	}
}
