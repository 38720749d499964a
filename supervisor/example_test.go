package supervisor_test

import (
	"context"
	"fmt"

	"github.com/gafferhq/gaffer/supervisor"
)

// A Go program can embed a supervisor: run it, load a job, watch its events.
func Example() {
	sup := supervisor.New(supervisor.Options{})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sup.Run(ctx)

	events := sup.Subscribe(16, supervisor.DropOldest, "exit")
	defer events.Close()

	job := supervisor.NewJobConfig("hello", "echo hello from gaffer")
	job.RedirectOutput = []string{"out"}
	if err := sup.Load(ctx, "demo", job, false); err != nil {
		fmt.Println(err)
		return
	}
	pid, _ := sup.Commit(ctx, "demo.hello", 0, nil) // a one-off run
	e := <-events.C()
	fmt.Println(e.Type, e.Name, e.Pid == pid, e.ExitStatus)

	stop()       // stop every process gracefully…
	<-sup.Done() // …and wait until they are gone
	// Output: exit demo.hello true 0
}
