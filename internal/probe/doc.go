// Package probe checks whether a process is ready or alive, and receives
// sd_notify messages.
//
// A Prober runs one probe (exec, http or tcp) against one process. Start arms
// a single timer; when it fires the check runs on the timer's goroutine, and
// the timer is reset for the next check only after the check has finished,
// so checks of one prober never overlap and a check slower than Period only
// delays the next one. Between checks a prober costs one timer and no
// goroutine. The report callback runs on that goroutine, never concurrently
// with itself, and only when the status is first decided or changes:
//
//	            SuccessThreshold passes                 FailureThreshold failures
//	undecided ─────────────────────────► healthy ◄──────────────────────────────┐
//	    │                                   │ FailureThreshold failures           │
//	    │ FailureThreshold failures         ▼                                     │
//	    └─────────────────────────────► unhealthy ─── SuccessThreshold passes ────┘
//
// Stop cancels a check in flight and returns once no goroutine or timer of
// the prober is left.
//
// A Notifier is a unix datagram socket that processes write sd_notify
// messages to (READY=1, STATUS=…). One goroutine reads it and delivers each
// message, with the sender's pid taken from the kernel's credentials, on a
// bounded channel that drops the oldest message when the reader falls behind.
package probe
