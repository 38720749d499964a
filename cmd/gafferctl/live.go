package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/supervisor"
)

// addLiveCommands adds the commands that follow gafferd over its websocket
// channel: watch, tail, send (and stats --watch, in jobs.go).
func (a *app) addLiveCommands(root *cobra.Command) {
	root.AddGroup(&cobra.Group{ID: "live", Title: "Live commands (websocket channel):"})
	for _, c := range []*cobra.Command{a.watchCmd(), a.tailCmd(), a.sendCmd()} {
		c.GroupID = "live"
		root.AddCommand(c)
	}
}

// channel opens the client's websocket channel; it is closed with ctx.
func (a *app) channel(ctx context.Context) (*client.Client, *client.Channel, error) {
	c, err := a.client()
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.Channel(ctx)
	if err != nil {
		return nil, nil, err
	}
	go func() {
		<-ctx.Done()
		ch.Close()
	}()
	return c, ch, nil
}

// follow hands every event to on until ctx is done (an interrupt: success)
// or the channel ends (an error).
func follow(ctx context.Context, ch *client.Channel, on func(client.ChannelEvent) error) error {
	for {
		ev, err := ch.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: the normal way to stop
			}
			return fmt.Errorf("gafferd closed the channel: %w", err)
		}
		if err := on(ev); err != nil {
			return err
		}
	}
}

// ---- watch -----------------------------------------------------------------

func (a *app) watchCmd() *cobra.Command {
	var noColor bool
	cmd := &cobra.Command{
		Use:   "watch [PATTERN]",
		Short: "Print events as they happen, until interrupted",
		Long: `Print gafferd's events as they happen, one line each:

    HH:MM:SS <job> | <event type> <job>

PATTERN selects events by type, on whole dot-separated words: "spawn",
"job.default.web" (every event of that job), "proc.3" (events of one
process). Without it every event is printed. Names are coloured (12
colours, one per job) when the output is a terminal, unless --no-color.
watch runs until interrupted (Ctrl-C, SIGTERM) and then exits 0.`,
		Args: nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return untilInterrupted(cmd.Context(), a.watch(cmd.Context(), args, noColor))
		},
	}
	cmd.Flags().BoolVar(&noColor, "no-color", false, "never colour the output")
	return cmd
}

// untilInterrupted makes an interrupt a success, even while the command is
// still connecting: a following command's normal way to end.
func untilInterrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// watch prints the events of the pattern in args (every event without one).
func (a *app) watch(ctx context.Context, args []string, noColor bool) error {
	topic := "EVENTS"
	if len(args) == 1 && args[0] != "." && args[0] != "" {
		topic = "EVENTS:" + args[0]
	}
	_, ch, err := a.channel(ctx)
	if err != nil {
		return err
	}
	if err := ch.Subscribe(ctx, topic); err != nil {
		return err
	}
	paint := newPalette(!noColor && isTerminal(a.out))
	return follow(ctx, ch, func(ev client.ChannelEvent) error {
		if a.json {
			_, err := fmt.Fprintf(a.out, "%s\n", ev.Raw)
			return err
		}
		_, err := fmt.Fprintf(a.out, "%s %s\n", paint(ev.Name, time.Now().Format("15:04:05")+" "+ev.Name+" |"), eventText(ev))
		return err
	})
}

// eventText is "<event type> <job>", as gafferctl 0.4 printed events.
func eventText(ev client.ChannelEvent) string { return ev.Event + " " + ev.Name }

// palette colours names, each new name taking the next of 12 colours.
func newPalette(on bool) func(name, s string) string {
	if !on {
		return func(_, s string) string { return s }
	}
	colours := []int{32, 33, 34, 35, 36, 31, 92, 93, 94, 95, 96, 91}
	given := map[string]int{}
	return func(name, s string) string {
		c, ok := given[name]
		if !ok {
			c = colours[len(given)%len(colours)]
			given[name] = c
		}
		return "\x1b[" + strconv.Itoa(c) + "m" + s + "\x1b[0m"
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// ---- stats --watch -----------------------------------------------------------

// watchStats streams a job's or a process's stats every interval.
func (a *app) watchStats(ctx context.Context, target string, every time.Duration) error {
	_, ch, err := a.channel(ctx)
	if err != nil {
		return err
	}
	if err := ch.SubscribeStats(ctx, "STATS:"+target, every); err != nil {
		return err
	}
	if !a.json {
		fmt.Fprintf(a.out, "%-8s  %6s  %7s  %6s  %5s  %6s  %6s  %s\n", "TIME", "PID", "OS_PID", "CPU", "MEM", "RSS", "VSZ", "CTIME")
	}
	return follow(ctx, ch, func(ev client.ChannelEvent) error {
		if a.json {
			_, err := fmt.Fprintf(a.out, "%s\n", ev.Raw)
			return err
		}
		var st client.ProcessStats
		if err := json.Unmarshal(ev.Raw, &st); err != nil {
			return err
		}
		_, err := fmt.Fprintf(a.out, "%-8s  %6d  %7d  %6s  %5s  %6s  %6s  %s\n", time.Now().Format("15:04:05"),
			st.Pid, st.OSPid, st.CPU, st.Mem, st.MemInfo1, st.MemInfo2, st.CTime)
		return err
	})
}

// ---- tail ------------------------------------------------------------------

// pidLabel splits PID[.label]; ok is false for a job name.
func pidLabel(s string) (pid int, label string, ok bool) {
	digits, label, _ := strings.Cut(s, ".")
	if !isPid(digits) {
		return 0, "", false
	}
	pid, err := strconv.Atoi(digits)
	return pid, label, err == nil
}

func (a *app) tailCmd() *cobra.Command {
	var followFlag bool
	var lines int
	cmd := &cobra.Command{
		Use:   "tail [-f] [-n LINES] JOB|PID[.LABEL]",
		Short: "Print a process's (or every process of a job's) recent output; -f follows it",
		Long: `Print the last LINES lines gafferd keeps in memory of a process's output
(its first redirect_output label, or LABEL), or of every process of a job,
each line prefixed with "<job>.<pid> | ".

With -f, keep printing new output until interrupted (Ctrl-C): for a job,
also of the processes it starts later. A process must redirect its output
(redirect_output) to have any. Output written while tail -f starts may be
printed twice.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return untilInterrupted(cmd.Context(), a.tail(cmd.Context(), args[0], lines, followFlag))
		},
	}
	cmd.Flags().BoolVarP(&followFlag, "follow", "f", false, "keep printing new output until interrupted")
	cmd.Flags().IntVarP(&lines, "lines", "n", 10, "lines of recent output to print first (-1: all that is kept)")
	return cmd
}

// tailer prints the output of one or more processes.
type tailer struct {
	out     io.Writer
	prefix  bool                     // "<job>.<pid> | " before each line (a job's processes)
	partial map[int]*strings.Builder // a line not yet ended, by pid
}

// write prints a chunk of pid's output.
func (t *tailer) write(job string, pid int, data string) {
	if !t.prefix {
		io.WriteString(t.out, data)
		return
	}
	b := t.partial[pid]
	if b == nil {
		b = &strings.Builder{}
		t.partial[pid] = b
	}
	for data != "" {
		line, rest, complete := strings.Cut(data, "\n")
		b.WriteString(line)
		if !complete {
			return
		}
		fmt.Fprintf(t.out, "%s.%d | %s\n", job, pid, b.String())
		b.Reset()
		data = rest
	}
}

// flush prints pid's unfinished line, at its exit.
func (t *tailer) flush(job string, pid int) {
	if b := t.partial[pid]; b != nil && b.Len() > 0 {
		fmt.Fprintf(t.out, "%s.%d | %s\n", job, pid, b.String())
		b.Reset()
	}
}

// lastLines keeps the last n lines of s (all of s when n < 0).
func lastLines(s string, n int) string {
	if n < 0 {
		return s
	}
	end := len(s)
	if strings.HasSuffix(s, "\n") {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if n--; n == 0 {
				return s[i+1:]
			}
		}
	}
	if n == 0 {
		return ""
	}
	return s
}

func (a *app) tail(ctx context.Context, target string, n int, followIt bool) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, ch, err := a.channel(ctx)
	if err != nil {
		return err
	}
	t := &tailer{out: a.out, partial: map[int]*strings.Builder{}}
	type proc struct {
		job   string
		label string
	}
	procs := map[int]proc{}
	var job string
	pid, label, isProcess := pidLabel(target)
	if isProcess {
		info, err := c.Process(ctx, pid)
		if err != nil {
			return err
		}
		job, procs[pid] = info.Name, proc{info.Name, label}
	} else {
		t.prefix = true
		info, err := c.Info(ctx, target)
		if err != nil {
			return err
		}
		job = info.Name
		for _, p := range info.Processes {
			procs[p] = proc{job, ""}
		}
	}
	// Follow first (the job's spawns and exits, the processes' output),
	// then print what is kept, so that nothing is missed in between.
	topic := func(pid int, label string) string {
		if label == "" {
			return fmt.Sprintf("STREAM:%d", pid)
		}
		return fmt.Sprintf("STREAM:%d.%s", pid, label)
	}
	if followIt {
		// The job's spawns and exits need manage permission; without it,
		// tail follows the output alone.
		if err := ch.Subscribe(ctx, "JOB:"+job); err != nil && !errors.Is(err, client.ErrForbidden) {
			return err
		}
		for pid, p := range procs {
			if err := ch.Subscribe(ctx, topic(pid, p.label)); err != nil {
				return explainStream(pid, err)
			}
		}
	}
	for _, pid := range slices.Sorted(maps.Keys(procs)) {
		args := []any{pid}
		if l := procs[pid].label; l != "" {
			args = append(args, l)
		}
		res, err := ch.Command(ctx, "tail", args, nil)
		if errors.Is(err, supervisor.ErrNotFound) && !isProcess {
			continue // exited meanwhile
		}
		if err != nil {
			return explainStream(pid, err)
		}
		var kept struct{ Data string }
		json.Unmarshal(res, &kept)
		t.write(procs[pid].job, pid, lastLines(kept.Data, n))
	}
	if !followIt {
		for pid, p := range procs {
			t.flush(p.job, pid)
		}
		return nil
	}
	err = follow(ctx, ch, func(ev client.ChannelEvent) error {
		switch {
		case strings.HasPrefix(ev.Topic, "STREAM:"):
			t.write(ev.Name, ev.Pid, ev.Data)
		case ev.Event == "spawn" && !isProcess:
			procs[ev.Pid] = proc{ev.Name, ""}
			if err := ch.Subscribe(ctx, topic(ev.Pid, "")); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
				return explainStream(ev.Pid, err)
			}
		case ev.Event == "exit":
			if _, ok := procs[ev.Pid]; ok {
				t.flush(ev.Name, ev.Pid)
				delete(procs, ev.Pid)
				if isProcess {
					cancel() // the process is gone: nothing more to follow
				}
			}
		}
		return nil
	})
	for pid, p := range procs { // unfinished lines, at an interrupt
		t.flush(p.job, pid)
	}
	return err
}

// explainStream names the process whose output cannot be read.
func explainStream(pid int, err error) error {
	var e *client.Error
	if errors.As(err, &e) && e.Reason == "stream_not_found" {
		return fmt.Errorf("process %d: no such output stream (is its output redirected? see redirect_output)", pid)
	}
	return err
}

// ---- send ------------------------------------------------------------------

func (a *app) sendCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "send PID[.STREAM] TEXT|-",
		Short: "Write TEXT (a newline is added if missing), or all of stdin with -, to a process",
		Long: `Write to a process's stdin, or to one of its custom streams with .STREAM.
TEXT gets a newline when it does not end with one; "-" copies gafferctl's
standard input as it is, until end of file. The process must have been
started with redirect_input (or declare the custom stream).`,
		Args: nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, stream, ok := pidLabel(args[0])
			if !ok {
				return usageErrorf("send %q: want PID or PID.STREAM", args[0])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if args[1] == "-" {
				return a.sendStdin(ctx, c, pid, stream)
			}
			text := args[1]
			if !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			_, ch, err := a.channel(ctx)
			if err != nil {
				return err
			}
			defer ch.Close()
			sendArgs := []any{pid, text}
			if stream != "" {
				sendArgs = append(sendArgs, stream)
			}
			if _, err := ch.Command(ctx, "send", sendArgs, nil); err != nil {
				return explainSend(pid, err)
			}
			return nil
		},
	}
}

// sendStdin copies stdin to the process over its per-process channel, so
// any bytes go through as they are.
func (a *app) sendStdin(ctx context.Context, c *client.Client, pid int, stream string) error {
	if stream == "stdin" {
		stream = ""
	}
	pc, err := c.ProcessChannel(ctx, pid, stream, client.ModeWrite)
	if err != nil {
		return err
	}
	defer pc.Close()
	r := bufio.NewReaderSize(a.in, 32<<10)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := pc.WriteContext(ctx, buf[:n]); werr != nil {
				return explainSend(pid, werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
}

// explainSend says why a process refused input.
func explainSend(pid int, err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		switch e.Reason {
		case "stdin not redirected", "EPERM":
			return fmt.Errorf("process %d does not read its input from gafferd (start it with redirect_input)", pid)
		case "stream_not_found", "ENOENT":
			return fmt.Errorf("process %d has no such stream", pid)
		}
	}
	return err
}
