// Package logs owns the log files of child processes and of the daemon, with
// supervisord's semantics (supervisor-semantics.md §4.3 and §5.3).
//
// # What this package owns
//
//   - [Writer]: one log file, opened O_APPEND, with size-based rotation like
//     supervisord's RotatingFileHandler (stdout_logfile_maxbytes,
//     stdout_logfile_backups, logfile_maxbytes, logfile_backups): name.N-1 →
//     name.N, …, name → name.1, then a fresh name. [Writer.Clear]
//     (clearProcessLogs, clearLog) and [Writer.Reopen] (SIGUSR2, after an
//     external logrotate) replace the open file too.
//   - Reading by the supervisor rules: [ReadFile] (readLog,
//     readProcessStdoutLog) and [TailFile] (tailProcessStdoutLog) by path,
//     for any log, open or not; [Writer.ReadLog] and [Writer.TailLog], the
//     same rules served from the Writer's own descriptor.
//   - Following: [Writer.Changed] (a channel closed on the next change) and
//     [Writer.Follow] (a stream of new bytes that survives rotation).
//   - AUTO log names in childlogdir ([AutoPath]) and their removal at
//     startup ([CleanAutoDir], supervisord's nocleanup=false).
//   - Capture mode ([Capture]): splitting a stream into ordinary output and
//     the blocks between supervisor's XSUPERVISOR tokens, which the core's
//     output pumps run in front of the Writer (stdout_capture_maxbytes).
//
// It does not decide which file a stream goes to (config, supervisor), keep
// the in-memory tail of a stream (supervisor.Tail), strip ANSI sequences or
// syslog: those sit in front of a Writer, which stores every byte it is
// given.
//
// # Concurrency contract
//
// A [Writer] is safe for concurrent use. One mutex guards the open file, its
// size and the rotation; it is held for the write(2) of each Write (and for
// the renames of a rotation), never while a reader copies data: readers take
// a snapshot (file, size) under the mutex and pread(2) without it. Closing a
// replaced file also happens after the mutex is released, because it may
// wait for such a read. Writes from several goroutines (stdout and stderr
// sharing one file) are serialised whole: the bytes of one Write are never
// interleaved with another's.
//
// The package starts no goroutine except the one behind each [Writer.Follow]
// stream, which ends when its context is done or when the Writer is closed
// and its last bytes are delivered. There are no timers: followers wake on
// [Writer.Changed], which costs a Write nothing while nobody waits.
//
// The size is counted in memory (one fstat when a file is opened, none per
// write), so each file must have one Writer: two Writers on one path would
// each count only their own bytes and rotate the file under each other.
// Share one Writer instead (stdout and stderr to the same file).
//
// # Choices that differ from the reference
//
//   - Rotation happens before the Write that would take the file past
//     MaxBytes, not after the write that reached it (supervisord rotates
//     when tell() >= maxBytes after writing). So rotated files never exceed
//     MaxBytes, except a file whose first Write alone is larger: a Write is
//     never split, so a line is never cut across files and each Write is
//     one write(2). An empty file is never rotated.
//   - [Writer.Clear] truncates the file in place instead of removing and
//     recreating it, so the path never disappears under a reader; like
//     supervisord, it keeps the backups (name.1 …).
//   - [TailFile] returns the bytes from offset to the end when the file has
//     not grown past offset+length, as supervisor's documentation promises
//     (§4.3). supervisord's tailFile returns the last length bytes in that
//     case too, sending bytes before offset again (Supervisor/supervisor
//     issue 583).
//   - A failed rotation loses nothing: the Write still goes to the current
//     file and returns the error with n == len(p). The next attempt waits
//     until the file has grown by another MaxBytes, so a persistent failure
//     (a directory that became read-only) costs renames once per MaxBytes,
//     not once per Write.
//   - Files that are not regular (/dev/stdout, a FIFO) are never rotated;
//     supervisord needs maxbytes=0 for them and fails otherwise.
package logs
