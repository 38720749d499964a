package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Probe kinds run by a Prober. Notify readiness is not polled: it arrives
// through a Notifier.
const (
	KindExec = "exec"
	KindHTTP = "http"
	KindTCP  = "tcp"
)

// Defaults used when a Spec leaves a field at zero.
const (
	DefaultPeriod  = 10 * time.Second
	DefaultTimeout = time.Second
)

// Spec describes one probe. Zero thresholds count as 1; a zero Period or
// Timeout takes the default.
type Spec struct {
	Kind    string   // exec, http or tcp
	Command []string // exec: argv
	URL     string   // http: the URL to GET
	Address string   // tcp: host:port
	// InitialDelay is the wait before the first check, Period the wait
	// between the end of one check and the start of the next, Timeout the
	// limit of one check.
	InitialDelay, Period, Timeout time.Duration
	// SuccessThreshold consecutive passes make the status healthy,
	// FailureThreshold consecutive failures unhealthy.
	SuccessThreshold, FailureThreshold int
}

// Result is the outcome of one check. Detail says what was seen: "HTTP 200",
// "exit status 1", "dial tcp 127.0.0.1:80: connect: connection refused",
// "timeout after 1s".
type Result struct {
	Healthy bool
	Detail  string
}

// Runner runs an exec probe's command with env and working directory dir and
// returns its exit status (128+signal for a death by signal) and some of its
// output. It must return soon after ctx is done, having killed what it
// started. nil means the default, which uses os/exec and is only right for
// programs that do not reap every child themselves.
type Runner func(ctx context.Context, argv, env []string, dir string) (exitStatus int, output string, err error)

// Prober runs one probe on a schedule until Stop.
type Prober struct {
	spec   Spec            // immutable after Start
	env    []string        // immutable after Start
	dir    string          // immutable after Start
	run    Runner          // immutable after Start
	report func(Result)    // immutable after Start
	http   *http.Client    // immutable after Start; own transport, no keep-alive
	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc

	mu      sync.Mutex
	timer   *time.Timer // guarded by mu
	stopped bool        // guarded by mu
	// pending counts the armed timer plus a check in flight; Stop waits for
	// it to reach zero.
	pending sync.WaitGroup

	// Owned by the check goroutine (checks never overlap).
	passes, fails int
	decided       bool
	healthy       bool
}

// Start begins probing: the first check runs after spec.InitialDelay. report
// is called from the prober's goroutine, never concurrently, once when the
// status is first decided and again on every change.
func Start(spec Spec, env []string, dir string, run Runner, report func(Result)) *Prober {
	if spec.Period <= 0 {
		spec.Period = DefaultPeriod
	}
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultTimeout
	}
	spec.SuccessThreshold = max(spec.SuccessThreshold, 1)
	spec.FailureThreshold = max(spec.FailureThreshold, 1)
	if run == nil {
		run = ExecRunner
	}
	p := &Prober{spec: spec, env: env, dir: dir, run: run, report: report}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if spec.Kind == KindHTTP {
		p.http = newHTTPClient()
	}
	p.mu.Lock()
	p.pending.Add(1)
	p.timer = time.AfterFunc(max(spec.InitialDelay, 0), p.tick)
	p.mu.Unlock()
	return p
}

// Stop stops the schedule, cancels a check in flight and waits for it to
// end. No report is made after Stop returns. Stop may be called more than
// once.
func (p *Prober) Stop() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		if p.timer.Stop() {
			p.pending.Done() // the check it was armed for will never run
		}
	}
	p.mu.Unlock()
	p.cancel()
	p.pending.Wait()
	if p.http != nil {
		p.http.CloseIdleConnections()
	}
}

// tick runs one check on the timer's goroutine, then re-arms the timer.
func (p *Prober) tick() {
	defer p.pending.Done()
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		return
	}
	r := p.check()
	if p.ctx.Err() != nil {
		return // stopped during the check: the result means nothing
	}
	p.record(r)
	p.mu.Lock()
	if !p.stopped {
		p.pending.Add(1)
		p.timer.Reset(p.spec.Period)
	}
	p.mu.Unlock()
}

// record counts r towards the thresholds and reports a decided change.
func (p *Prober) record(r Result) {
	if r.Healthy {
		p.passes, p.fails = p.passes+1, 0
	} else {
		p.passes, p.fails = 0, p.fails+1
	}
	var next bool
	switch {
	case p.passes >= p.spec.SuccessThreshold:
		next = true
	case p.fails >= p.spec.FailureThreshold:
		next = false
	default:
		return
	}
	if p.decided && next == p.healthy {
		return
	}
	p.decided, p.healthy = true, next
	p.report(r)
}

// check runs one check bounded by the timeout.
func (p *Prober) check() Result {
	ctx, cancel := context.WithTimeout(p.ctx, p.spec.Timeout)
	defer cancel()
	var r Result
	switch p.spec.Kind {
	case KindExec:
		r = p.checkExec(ctx)
	case KindHTTP:
		r = p.checkHTTP(ctx)
	case KindTCP:
		r = checkTCP(ctx, p.spec.Address)
	default:
		return Result{Detail: fmt.Sprintf("probe kind %q cannot be polled: want exec, http or tcp", p.spec.Kind)}
	}
	if !r.Healthy && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Result{Detail: "timeout after " + p.spec.Timeout.String()}
	}
	return r
}

// maxDetailOutput bounds the command output quoted in a Result.
const maxDetailOutput = 200

func (p *Prober) checkExec(ctx context.Context) Result {
	if len(p.spec.Command) == 0 {
		return Result{Detail: "exec probe without a command"}
	}
	status, out, err := p.run(ctx, p.spec.Command, p.env, p.dir)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	d := fmt.Sprintf("exit status %d", status)
	if out = strings.TrimSpace(out); out != "" {
		if len(out) > maxDetailOutput {
			out = strings.ToValidUTF8(out[:maxDetailOutput], "") + "…"
		}
		d += ": " + out
	}
	return Result{Healthy: status == 0, Detail: d}
}

// newHTTPClient returns a client of its own: no connection is kept between
// checks, redirects are not followed (a 3xx passes), proxies are not used,
// and https certificates are not verified — a probe asks whether the process
// answers, not who it is, and processes commonly serve self-signed
// certificates on loopback (Kubernetes probes behave the same).
func newHTTPClient() *http.Client {
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (p *Prober) checkHTTP(ctx context.Context) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.spec.URL, nil)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	req.Header.Set("User-Agent", "gaffer-probe")
	resp, err := p.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the config; say what went wrong
		}
		return Result{Detail: err.Error()}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return Result{Healthy: resp.StatusCode >= 200 && resp.StatusCode < 400, Detail: fmt.Sprintf("HTTP %d", resp.StatusCode)}
}

func checkTCP(ctx context.Context, addr string) Result {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	c.Close()
	return Result{Healthy: true, Detail: "connected to " + addr}
}
