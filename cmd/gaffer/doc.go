// Command gaffer manages Procfile applications (gaffer-config.md §4–5).
//
// "gaffer start" runs the app in the foreground with the supervisor
// package embedded (no gafferd): one single-process job per instance, so
// each gets its own PORT, output printed as "HH:MM:SS web.1 | line",
// restarts with flapping protection, a graceful stop on SIGINT/SIGTERM.
// gaffer is then the reaper and subreaper of everything it starts. "gaffer
// run" execs a one-off command with the app's environment. load, unload,
// scale, ps and status act on a running gafferd through the client
// package, with gafferctl's address flags; export writes the app as
// gafferd INI, JSON, supervisord.conf or systemd units (package
// internal/config/procfile).
//
// Each invocation is one app value (app.go) built by run, so tests run
// the remote commands in-process; start and run are tested as a binary.
package main
