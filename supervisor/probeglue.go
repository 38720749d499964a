package supervisor

import (
	"context"

	"github.com/gafferhq/gaffer/internal/probe"
)

// The bridge between the loop and internal/probe.

type probeRunner = func(ctx context.Context, argv, env []string, dir string) (int, string, error)

// startProber starts one prober of kind exec, http or tcp.
func startProber(p Probe, argv, env []string, dir string, run probeRunner, report func(probeResult)) (stopper, error) {
	spec := probe.Spec{Kind: string(p.Kind), Command: argv, URL: p.URL, Address: p.Address,
		InitialDelay: p.InitialDelay, Period: p.Period, Timeout: p.Timeout,
		SuccessThreshold: p.SuccessThreshold, FailureThreshold: p.FailureThreshold}
	return probe.Start(spec, env, dir, run, func(r probe.Result) {
		report(probeResult{healthy: r.Healthy, detail: r.Detail})
	}), nil
}

// listenNotify opens the sd_notify socket; deliver is called for each
// message, on the socket's own goroutine, until the socket is closed.
func listenNotify(path string, deliver func(notifyMsg)) (notifier, error) {
	n, err := probe.ListenNotify(path)
	if err != nil {
		return nil, err
	}
	go func() {
		for m := range n.C() {
			deliver(notifyMsg{pid: m.Pid, vars: m.Vars})
		}
	}()
	return n, nil
}
