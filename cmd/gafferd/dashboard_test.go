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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

func init() {
	// tick: print "tick N" every 100 ms, N counting from 1, until killed.
	gaffertest.Helpers["tick"] = func([]string) int {
		t := time.NewTicker(100 * time.Millisecond)
		for i := 1; ; i++ {
			fmt.Printf("tick %d\n", i)
			<-t.C
		}
	}
}

func TestRootServesDashboardToBrowsersAndWelcomeToClients(t *testing.T) {
	d := startDaemon(t, "[job:sleeper]\ncmd = sleep 300\n")
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://gafferd"+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := d.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, accept := range []string{"", "*/*", "application/json"} {
		resp, body := get("/", accept)
		var welcome struct{ Welcome string }
		if json.Unmarshal([]byte(body), &welcome); resp.StatusCode != 200 || welcome.Welcome != "gaffer" {
			t.Errorf("GET / with Accept %q: %s %q, want the JSON welcome", accept, resp.Status, body)
		}
	}
	const chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
	for _, c := range []struct{ path, accept string }{{"/", chrome}, {"/ui/", ""}, {"/ui/", "application/json"}} {
		resp, body := get(c.path, c.accept)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, `src="/ui/app.js"`) {
			t.Errorf("GET %s with Accept %q: %s %s, want the dashboard", c.path, c.accept, resp.Status, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
	// The API's other routes are untouched by a browser's Accept header.
	if resp, body := get("/jobs", chrome); resp.StatusCode != 200 || !strings.Contains(body, `"default.sleeper"`) {
		t.Errorf("GET /jobs from a browser: %s %q", resp.Status, body)
	}
}

// chromium finds the browser for the dashboard test. Without one the test
// is skipped on a developer's machine and fails in CI (CI=true), where
// scripts/test.sh installs Debian's chromium.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found in PATH; CI must run the browser test (scripts/test.sh installs chromium)")
	}
	t.Skip("no chromium found in PATH: skipping the browser test (apt-get install chromium to run it)")
	return ""
}

// tcpDaemon is a gafferd listening on loopback TCP, which a browser can reach.
type tcpDaemon struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	waited chan error
	exited bool // stop has waited for it; owned by the test's goroutine
}

var listeningRe = regexp.MustCompile(`msg=listening addr=tcp:(127\.0\.0\.1:\d+)`)

// startTCPDaemon starts gafferd with config on bind (127.0.0.1:0 for any
// port) and waits until it listens.
func startTCPDaemon(t *testing.T, config, bind string) *tcpDaemon {
	t.Helper()
	d := &tcpDaemon{stderr: &syncBuffer{}, waited: make(chan error, 1)}
	d.cmd = exec.Command(gafferdBin, "-c", config, "--bind", bind)
	d.cmd.Stderr = d.stderr
	d.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, gaffertest.HelperEnv+"=") })
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.waited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("gafferd (%s) stderr:\n%s", d.addr, d.stderr)
		}
	})
	gaffertest.Eventually(t, 10*time.Second, "gafferd listening on TCP", func() bool {
		if m := listeningRe.FindStringSubmatch(d.stderr.String()); m != nil {
			d.addr = m[1]
			return true
		}
		return false
	})
	return d
}

// stop ends gafferd with SIGTERM (it stops its jobs first), once.
func (d *tcpDaemon) stop(t *testing.T) {
	if d.exited {
		return
	}
	d.exited = true
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.waited:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.waited
		t.Error("gafferd did not stop on SIGTERM")
	}
}

func (d *tcpDaemon) getJSON(t *testing.T, key, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addr+path, nil)
	req.Header.Set("X-Api-Key", key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// createKey creates an API key with the admin key and returns it.
func (d *tcpDaemon) createKey(t *testing.T, adminKey, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+d.addr+"/keys", strings.NewReader(body))
	req.Header.Set("X-Api-Key", adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		APIKey string `json:"api_key"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &v) != nil || v.APIKey == "" {
		t.Fatalf("POST /keys %s: %s %s", body, resp.Status, b)
	}
	return v.APIKey
}

// page is the dashboard open in headless chromium.
type page struct {
	t   *testing.T
	ctx context.Context // the tab's; each step derives a 10 s timeout from it
}

// openDashboard starts chromium on the dashboard at addr. Cleanup kills
// chromium (cancelling the allocator waits for it to exit).
func openDashboard(t *testing.T, addr string) *page {
	t.Helper()
	browser := chromium(t)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.WindowSize(1200, 720))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first Run starts chromium and lives as long as ctx: no timeout here.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal("opening the dashboard:", err)
	}
	return &page{t: t, ctx: ctx}
}

// text describes the page for failure messages.
func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`document.getElementById('conn').innerText + '\n' + document.getElementById('rows').innerText + '\n' + document.getElementById('notice').innerText`))
	return s
}

// until waits, at most 10 s, for a JavaScript condition on the page.
func (p *page) until(what, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+cond+")", chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		p.t.Fatalf("waiting for %s: %v\nthe page shows:\n%s", what, err, p.text())
	}
}

func (p *page) click(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("clicking %s: %v\nthe page shows:\n%s", sel, err, p.text())
	}
}

// eval evaluates a JavaScript expression into v.
func (p *page) eval(expr string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
}

// newTab opens the dashboard at addr in another tab of the same chromium:
// a tab has its own sessionStorage, so it starts logged out.
func (p *page) newTab(addr string) *page {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	p.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		p.t.Fatal("opening the dashboard in a new tab:", err)
	}
	return &page{t: p.t, ctx: ctx}
}

// fill types text into the input matching sel.
func (p *page) fill(sel, text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		p.t.Fatalf("typing into %s: %v", sel, err)
	}
}

// visible counts the elements matching sel that are displayed.
func visible(sel string) string {
	return `Array.from(document.querySelectorAll('` + sel + `')).filter(e => e.offsetParent !== null).length`
}

// Expressions on the dashboard's table.
func jobState(job string) string {
	return `(document.querySelector('tr.job[data-job="` + job + `"] td.state') || {}).textContent`
}

func procRows(job string) string {
	return `document.querySelectorAll('tr.proc[data-job="` + job + `"]').length`
}

const (
	logLines = `Number(document.getElementById('log-text').dataset.lines || 0)`
	osPids   = `Array.from(document.querySelectorAll('tr.proc td.ospid')).map(c => Number(c.textContent))`
	live     = `document.getElementById('conn').classList.contains('up')`
)

// checkTicks checks that the log tail holds "tick N" lines counting up by
// one: history and live output joined without a gap or a repeated line.
func (p *page) checkTicks() {
	p.t.Helper()
	var text string
	p.eval(`document.getElementById('log-text').textContent`, &text)
	prev := 0
	for i, line := range strings.Split(strings.TrimSpace(text), "\n") {
		n, err := strconv.Atoi(strings.TrimPrefix(line, "tick "))
		if err != nil || !strings.HasPrefix(line, "tick ") {
			p.t.Fatalf("log line %d: %q, want \"tick N\"", i+1, line)
		}
		if i > 0 && n != prev+1 {
			p.t.Fatalf("log line %d: tick %d after tick %d", i+1, n, prev)
		}
		prev = n
	}
}

// TestDashboardInBrowser drives the dashboard in headless chromium against a
// real gafferd: the jobs appear, stop and start change what the page shows
// without a reload, the log tail of a ticking process grows line by line,
// and the page reconnects when gafferd restarts.
func TestDashboardInBrowser(t *testing.T) {
	chromium(t) // skip early, before starting gafferd
	config := t.TempDir() + "/gaffer.ini"
	// require_key is on by default with a gaffer config file.
	ini := fmt.Sprintf(`
[job:ticker]
cmd = %s
redirect_output = stdout
[env:ticker]
gaffer_helper = tick

[job:sleeper]
cmd = sleep 300
numprocesses = 2

[job:shop:api]
cmd = sleep 300
readiness = exec true
readiness_period = 1
`, gaffertest.Self(t))
	if err := os.WriteFile(config, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := exec.Command(gafferdBin, "-c", config, "--create-admin-user", "ops")
	admin.Env = append(os.Environ(), "GAFFERD_ADMIN_PASSWORD=s3cret pass")
	out, err := admin.CombinedOutput()
	adminKey := regexp.MustCompile(`API Key: (\S+)`).FindSubmatch(out)
	if err != nil || adminKey == nil {
		t.Fatalf("gafferd --create-admin-user: %v\n%s", err, out)
	}
	d := startTCPDaemon(t, config, "127.0.0.1:0")
	p := openDashboard(t, d.addr)

	// Keys are required: the page asks for one, or for a user's password.
	p.until("the login form", `!document.getElementById('login').hidden && document.getElementById('dashboard').hidden`)
	p.fill("#user", "ops")
	p.fill("#password", "wrong")
	p.click(`#login-user button[type="submit"]`)
	p.until("a refused password", `document.getElementById('login-error').textContent.includes('wrong user or password')`)
	p.eval(`document.getElementById('password').value = ''`, new(string))
	p.fill("#password", "s3cret pass")
	p.click(`#login-user button[type="submit"]`)

	p.until("both jobs running, with their processes", jobState("default.ticker")+` === 'running' && `+
		jobState("default.sleeper")+` === 'running' && `+procRows("default.ticker")+` === 1 && `+procRows("default.sleeper")+` === 2 && `+jobState("shop.api")+` === 'running'`)
	p.until("the api's health", `document.querySelector('tr.job[data-job="shop.api"] td.info').textContent.includes('health: healthy') && `+
		`document.querySelector('tr.proc[data-job="shop.api"] td.info').textContent.startsWith('healthy')`)
	p.until("the live indicator and the user's name", live+` && document.getElementById('who').textContent === 'user ops'`)
	p.eval(`window.sameDocument = true`, new(bool)) // a reload would wipe it out

	p.click(`button[data-action="stop"][data-job="default.sleeper"]`)
	p.until("the sleeper shown stopped, without a reload", jobState("default.sleeper")+` === 'stopped' && `+
		procRows("default.sleeper")+` === 0 && window.sameDocument === true`)
	var info struct {
		Stopped   bool
		Processes []int
	}
	d.getJSON(t, string(adminKey[1]), "/jobs/default/sleeper", &info)
	if !info.Stopped || len(info.Processes) != 0 {
		t.Fatalf("after clicking stop, gafferd says stopped=%v processes=%v", info.Stopped, info.Processes)
	}
	p.click(`button[data-action="start"][data-job="default.sleeper"]`)
	p.until("the sleeper running again", jobState("default.sleeper")+` === 'running' && `+
		procRows("default.sleeper")+` === 2 && window.sameDocument === true`)

	p.click(`button[data-action="scale-up"][data-job="default.sleeper"]`)
	p.until("a third sleeper process", procRows("default.sleeper")+` === 3`)
	p.click(`button[data-action="scale-down"][data-job="default.sleeper"]`)
	p.until("two sleeper processes again", procRows("default.sleeper")+` === 2`)

	// Signal (HUP, the first choice) kills both sleepers, which gaffer
	// replaces; Restart stops the job and starts it again.
	sleeperPids := `Array.from(document.querySelectorAll('tr.proc[data-job="default.sleeper"] td.ospid')).map(c => Number(c.textContent))`
	for _, action := range []string{"signal", "restart"} {
		var before []int
		p.eval(sleeperPids, &before)
		old, _ := json.Marshal(before)
		p.click(`button[data-action="` + action + `"][data-job="default.sleeper"]`)
		p.until("two new sleepers after "+action, sleeperPids+`.length === 2 && `+sleeperPids+`.every(p => p > 0 && !`+string(old)+`.includes(p))`)
	}
	p.until("the sleeper running after the restart", jobState("default.sleeper")+` === 'running'`)

	// A read-only key, in a tab of its own: the job it may read, with its
	// log, and no button that would change anything.
	viewer := d.createKey(t, string(adminKey[1]), `{"label":"viewer","permissions":{"read":["default.ticker"]}}`)
	ro := p.newTab(d.addr)
	ro.until("the login form", `!document.getElementById('login').hidden`)
	ro.fill("#key", viewer)
	ro.click(`#login-key button[type="submit"]`)
	ro.until("the ticker, read-only", jobState("default.ticker")+` === 'running' && `+procRows("default.ticker")+` === 1`)
	var shown struct{ Jobs, Change, Logs int }
	ro.eval(`({jobs: document.querySelectorAll('tr.job').length,
		change: `+visible(`#rows button:not([data-action="log"]), #rows select`)+`,
		logs: `+visible(`#rows button[data-action="log"]`)+`})`, &shown)
	if shown.Jobs != 1 || shown.Change != 0 || shown.Logs != 1 {
		t.Fatalf("with a read-only key the page shows %d jobs (want 1), %d buttons or selects that change something (want 0), %d log buttons (want 1)",
			shown.Jobs, shown.Change, shown.Logs)
	}
	ro.click(`tr.proc[data-job="default.ticker"] button[data-action="log"]`)
	ro.until("the ticker's log, read-only", logLines+` >= 3`)
	ro.checkTicks()

	// A key that manages one session: its jobs, and live updates through
	// their JOB: topics instead of EVENTS.
	manager := d.createKey(t, string(adminKey[1]), `{"label":"default ops","permissions":{"manage":["default"]}}`)
	mg := p.newTab(d.addr)
	mg.until("the login form", `!document.getElementById('login').hidden`)
	mg.fill("#key", manager)
	mg.click(`#login-key button[type="submit"]`)
	mg.until("the jobs of session default only", jobState("default.ticker")+` === 'running' && `+
		jobState("default.sleeper")+` === 'running' && document.querySelectorAll('tr.job').length === 2`)
	mg.eval(`window.sameDocument = true`, new(bool))
	mg.click(`button[data-action="stop"][data-job="default.sleeper"]`)
	mg.until("the sleeper stopped, seen on its JOB: topic", jobState("default.sleeper")+` === 'stopped' && `+
		procRows("default.sleeper")+` === 0 && window.sameDocument === true`)
	mg.click(`button[data-action="start"][data-job="default.sleeper"]`)
	mg.until("the sleeper running again, seen on its JOB: topic", jobState("default.sleeper")+` === 'running' && `+
		procRows("default.sleeper")+` === 2`)

	p.until("cpu and memory of the ticker", `/%$/.test(document.querySelector('tr.proc[data-job="default.ticker"] td.cpu').textContent)`)

	p.click(`tr.proc[data-job="default.ticker"] button[data-action="log"]`)
	p.until("the ticker's log", logLines+` >= 5`)
	var first int
	p.eval(logLines, &first)
	p.until("the ticker's log to grow", fmt.Sprintf(`%s >= %d`, logLines, first+5))
	p.checkTicks()

	if path := os.Getenv("GAFFER_SCREENSHOT"); path != "" {
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatal("screenshot:", err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(png))
	}

	// gafferd restarts on the same address: the page notices, backs off,
	// reconnects and shows the new processes.
	var before []int
	p.eval(osPids, &before)
	addr := d.addr
	d.stop(t)
	p.until("the indicator to show the connection lost", "!"+live)
	d2 := startTCPDaemon(t, config, addr)
	if d2.addr != addr {
		t.Fatalf("gafferd restarted on %s, want %s", d2.addr, addr)
	}
	old, _ := json.Marshal(before)
	p.until("the page to reconnect and show the new processes", live+` && `+procRows("default.sleeper")+` === 2 && `+
		procRows("default.ticker")+` === 1 && window.sameDocument === true && `+
		osPids+`.every(p => p > 0 && !`+string(old)+`.includes(p))`)
}

// TestDashboardShowsSupervisorStates runs gafferd on a supervisord.conf:
// the page shows supervisor's states (from XML-RPC, then from events), no
// scale buttons for programs, and a Clear log button that empties the
// program's log file.
func TestDashboardShowsSupervisorStates(t *testing.T) {
	chromium(t)
	dir := t.TempDir()
	config := dir + "/supervisord.conf"
	conf := fmt.Sprintf(`[supervisord]
logfile = %[1]s/supervisord.log
childlogdir = %[1]s

[program:ticker]
command = %[2]s
environment = GAFFER_HELPER="tick"
startsecs = 1

[program:web]
command = sleep 300
startsecs = 0
`, dir, gaffertest.Self(t))
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startTCPDaemon(t, config, "127.0.0.1:0")
	p := openDashboard(t, d.addr)

	p.until("both programs RUNNING", jobState("ticker.ticker")+` === 'RUNNING' && `+jobState("web.web")+` === 'RUNNING'`)
	p.eval(`window.sameDocument = true`, new(bool))
	var shown struct{ Scale, Clear bool }
	p.eval(`({scale: !!document.querySelector('tr.job[data-job="web.web"] button[data-action="scale-up"]').offsetParent,
		clear: !!document.querySelector('tr.job[data-job="web.web"] button[data-action="clear-log"]').offsetParent})`, &shown)
	if shown.Scale || !shown.Clear {
		t.Fatalf("a program's buttons: scale shown %v (want false), clear log shown %v (want true)", shown.Scale, shown.Clear)
	}

	p.click(`button[data-action="stop"][data-job="web.web"]`)
	p.until("web STOPPED", jobState("web.web")+` === 'STOPPED' && `+procRows("web.web")+` === 0 && window.sameDocument`)
	p.click(`button[data-action="start"][data-job="web.web"]`)
	p.until("web RUNNING again", jobState("web.web")+` === 'RUNNING' && `+procRows("web.web")+` === 1`)
	p.click(`button[data-action="restart"][data-job="web.web"]`)
	var pid int
	p.eval(`Number(document.querySelector('tr.proc[data-job="web.web"]').dataset.pid)`, &pid)
	p.until("web restarted", fmt.Sprintf(`%s === 'RUNNING' && Number((document.querySelector('tr.proc[data-job="web.web"]') || {dataset: {}}).dataset.pid) > %d`,
		jobState("web.web"), pid))

	// The ticker's log file fills up; Clear log empties it.
	logs, _ := filepath.Glob(dir + "/ticker-stdout---*.log")
	if len(logs) != 1 {
		t.Fatalf("ticker's stdout log: %v", logs)
	}
	gaffertest.Eventually(t, 10*time.Second, "the ticker's log to hold 10 lines", func() bool {
		b, _ := os.ReadFile(logs[0])
		return strings.Count(string(b), "\n") >= 10
	})
	p.click(`button[data-action="clear-log"][data-job="ticker.ticker"]`)
	gaffertest.Eventually(t, 10*time.Second, "the ticker's log cleared", func() bool {
		b, _ := os.ReadFile(logs[0])
		return strings.Count(string(b), "\n") < 10
	})
	p.until("no error shown", `document.getElementById('notice').hidden`)
}
