package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is gaffer's own version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed, a process type gave up, or gafferd could not be reached
	exitUsage = 2 // bad command line
)

// usageError is a bad command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitStatus ends gaffer with a given status and no further message (the
// command has said what happened).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run executes one command line; it is main without the process around it,
// so tests run the remote commands in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{in: stdin, out: stdout, errOut: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if st, ok := errors.AsType[exitStatus](err); ok {
		return int(st)
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(a.explain(err).Error(), "\n", "; ")), " ")
	fmt.Fprintf(stderr, "gaffer: %s\n", msg)
	if _, ok := errors.AsType[usageError](err); ok {
		return exitUsage
	}
	return exitError
}
