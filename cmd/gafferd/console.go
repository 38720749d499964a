package main

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strings"

	"github.com/gafferhq/gaffer/internal/events"
	"github.com/gafferhq/gaffer/supervisor"
)

// consoleEvents are the events -v prints (gaffer's console output defaults).
var consoleEvents = []string{"start", "stop", "spawn", "reap", "exit", "stop_process", "flap", "spawn_error"}

// printConsole writes events (and with all, process output) as
// "HH:MM:SS name | text" lines, coloured per job on a terminal.
func printConsole(sup *supervisor.Supervisor, w io.Writer, all bool) {
	patterns := consoleEvents
	if all {
		patterns = []string{"."}
	}
	evs := sup.Subscribe(1024, supervisor.DropOldest, patterns...)
	var out <-chan events.Event
	if all {
		out = sup.SubscribeOutput(1024, supervisor.DropOldest, ".").C()
	}
	color := isTerminal(w)
	line := func(e events.Event, text string) {
		name := e.Name
		if color {
			c := fnv.New32a()
			c.Write([]byte(name))
			name = fmt.Sprintf("\x1b[%dm%s\x1b[0m", 31+c.Sum32()%6, name)
		}
		fmt.Fprintf(w, "%s %s | %s\n", e.Time.Format("15:04:05"), name, text)
	}
	for {
		select {
		case e, ok := <-evs.C():
			if !ok {
				return
			}
			switch {
			case e.Type == "spawn":
				line(e, fmt.Sprintf("spawn process with pid %d", e.Pid))
			case e.Type == "exit":
				line(e, fmt.Sprintf("exit process with pid %d (status %d, signal %d)", e.Pid, e.ExitStatus, e.TermSignal))
			case e.Pid != 0:
				line(e, fmt.Sprintf("%s process with pid %d", e.Type, e.Pid))
			case e.Reason != "":
				line(e, e.Type+" "+e.Name+": "+e.Reason)
			default:
				line(e, e.Type+" "+e.Name)
			}
		case e := <-out:
			if e.Kind != "output" {
				continue // captured blocks (Kind "comm") are not output
			}
			for _, l := range bytes.Split(e.Data, []byte("\n")) {
				if s := strings.TrimSpace(string(l)); s != "" {
					line(e, s)
				}
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
