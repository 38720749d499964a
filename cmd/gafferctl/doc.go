// Command gafferctl controls a running gafferd through its REST API, using
// only the public client package. It has gaffer 0.5's job commands (jobs,
// load, scale, commit, info, stats, ...) and the seed's gafferctl 0.4
// commands mapped onto jobs (processes, add_process, add, sub, kill,
// status, ...): where 0.4 had process templates, a NAME is a job.
//
// Output is aligned text for people, or JSON with --json. A command that
// succeeds with nothing to show prints "ok". On failure it prints one line,
// "gafferctl: <error>", on stderr and exits 1; bad usage exits 2.
//
// Everything runs on one goroutine: one invocation, one app value (app.go),
// built fresh by run, so tests run the command in-process.
package main
