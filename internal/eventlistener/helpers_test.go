package eventlistener

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gafferhq/gaffer/internal/gaffertest"
)

// helperEnv names the helper of this package a re-executed test binary
// runs; gaffertest's helpers (GAFFER_HELPER) are available too.
const helperEnv = "GAFFER_EVENTLISTENER_HELPER"

// helpers are the listener programs the tests run, speaking supervisor's
// protocol for real on stdin/stdout.
var helpers = map[string]func(args []string) int{
	"listener": listenerMain,
	// garbage: write something that is not READY, then wait for stdin EOF.
	"garbage": func([]string) int {
		os.Stdout.WriteString("HELLO!\n")
		io.Copy(io.Discard, os.Stdin)
		return 0
	},
}

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		f := helpers[h]
		if f == nil {
			fmt.Fprintf(os.Stderr, "unknown helper %q\n", h)
			os.Exit(2)
		}
		os.Exit(f(os.Args[1:]))
	}
	gaffertest.RunHelper()
	os.Exit(m.Run())
}

// record is one event as a helper listener received it; one JSON line each
// in the listener's output file.
type record struct {
	Header  string            `json:"header"`
	Fields  map[string]string `json:"fields"`
	Payload string            `json:"payload"`
	Pid     int               `json:"pid"`
	Result  string            `json:"result"`
}

// listenerMain is a listener: READY, read one event (header line, then len
// bytes), append it to the -out file, answer; repeat until stdin ends.
//
//	-fail N        answer FAIL to the first N events of this process
//	-crash-once F  if file F does not exist: create it and exit 3 while BUSY
//	-bad-result    answer with a result line that has no length (→ UNKNOWN)
//	-gate FIFO     before each READY, read one byte from FIFO
func listenerMain(args []string) int {
	fs := flag.NewFlagSet("listener", flag.ContinueOnError)
	out := fs.String("out", "", "record file")
	fail := fs.Int("fail", 0, "FAIL the first N events")
	crashOnce := fs.String("crash-once", "", "marker file")
	badResult := fs.Bool("bad-result", false, "send a bad result line")
	gate := fs.String("gate", "", "fifo to read one byte from before each READY")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var gateF *os.File
	if *gate != "" {
		f, err := os.Open(*gate)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		gateF = f
	}
	in := bufio.NewReader(os.Stdin)
	for n := 0; ; n++ {
		if gateF != nil {
			if _, err := gateF.Read(make([]byte, 1)); err != nil {
				return 0
			}
		}
		os.Stdout.WriteString("READY\n")
		header, err := in.ReadString('\n')
		if err != nil {
			return 0
		}
		fields := map[string]string{}
		for _, tok := range strings.Fields(header) {
			k, v, _ := strings.Cut(tok, ":")
			fields[k] = v
		}
		size, err := strconv.Atoi(fields["len"])
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad header %q\n", header)
			return 2
		}
		// len counts characters, as a Python listener reads them.
		var pb strings.Builder
		for range size {
			r, _, err := in.ReadRune()
			if err != nil {
				return 0
			}
			pb.WriteRune(r)
		}
		payload := []byte(pb.String())
		result := "OK"
		if n < *fail {
			result = "FAIL"
		}
		crash := false
		if *crashOnce != "" {
			if _, err := os.Stat(*crashOnce); err != nil {
				crash = true
				result = "crash"
			}
		}
		if *badResult {
			result = "bad"
		}
		rec, _ := json.Marshal(record{Header: strings.TrimSuffix(header, "\n"), Fields: fields,
			Payload: string(payload), Pid: os.Getpid(), Result: result})
		if err := appendLine(*out, rec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		switch {
		case crash:
			os.WriteFile(*crashOnce, nil, 0o644)
			return 3
		case *badResult:
			os.Stdout.WriteString("RESULT two\n")
		default:
			// Separate writes: the manager must put the pieces together.
			os.Stdout.WriteString("RESULT ")
			os.Stdout.WriteString(strconv.Itoa(len(result)) + "\n" + result[:1])
			time.Sleep(time.Millisecond)
			os.Stdout.WriteString(result[1:])
		}
	}
}

func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
