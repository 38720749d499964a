// Package stats samples per-process CPU and memory usage from /proc and
// shapes the result the way gaffer reports it (gaffer-events.md §7 and the
// job stats aggregates of gaffer-http-api.md §4.3).
//
// # What this package owns
//
//   - Reading one process's statistics from /proc/<pid>/stat through
//     github.com/prometheus/procfs ([Sampler.Sample]), on demand only.
//   - The CPU-percent bookkeeping: the percentage is computed against the
//     previous sample of the same process taken by the same [Sampler]. The
//     history is keyed by pid and the process start time, so a reused pid
//     never inherits another process's history.
//   - The per-process wire shape ([Stat], [ProcessStat]) and the "N/A"
//     convention ([Value]), the human size format ([HumanSize]) and the
//     "M:SS.hh" CPU time format.
//   - Job aggregates ([Aggregate], [JobStats]): sums, minima and maxima with
//     the "N/A" rules (no process, or any "N/A" member, makes the whole
//     family "N/A"; the reference's "N", "/", "A" defect is not reproduced).
//
// It does not own periodic sampling (the 0.1 s STATS stream timer belongs to
// the events/streams layer, which calls [Sampler.Sample] on its own
// schedule), the mapping between gaffer's internal pids and OS pids, or the
// extra 0.4.4 fields (username, nice, cmdline, children).
//
// # Concurrency contract
//
// The package starts no goroutines and no timers: all /proc I/O happens
// synchronously, on the caller's goroutine, inside [Sampler.Sample].
// A [Sampler] is safe for concurrent use by multiple goroutines. Its only
// shared state is the map of previous samples, guarded by a mutex that is
// never held during I/O. Concurrent samples of the same process are
// serialised on that map; a sample that turns out to be older than, or less
// than one clock tick (10 ms) newer than, the stored one does not move the
// baseline and reports the previously computed percentage.
//
// Because the CPU percentage is relative to the previous sample by the same
// Sampler, consumers that share one Sampler share baselines (an HTTP request
// for a process that is also being streamed measures from the last stream
// tick, as the reference did with its shared psutil objects). Use separate
// Samplers when independent windows are wanted.
//
// [Stat], [Value], [JobStats] and [ProcessStat] are plain values with no
// internal references; they may be copied and shared freely.
//
// # Choices that differ from the reference
//
//   - ctime prints proper hundredths and does not wrap minutes at 60:
//     75 minutes 5.2 seconds is "75:05.20" (the reference printed "15:05.20"
//     and derived the hundredths from the unpadded microseconds).
//   - cpu and mem are rounded to one decimal; aggregate sums are rounded to
//     one decimal too, so summing 0.1 three times gives 0.3.
//   - Numbers always marshal with a decimal point ("0.0", "12.0"), like the
//     reference's Python floats.
//   - Raw fields of [Stat] (RSS, VSize, CPUSeconds, Age, Started) are not
//     marshalled; the JSON object has exactly the keys of §7.
//
// # Linux specifics
//
// CPU times come in clock ticks of USER_HZ = 100 (the value procfs hard-codes
// for every Go-supported platform), so CPU time and process start time have
// a 10 ms resolution. Age is CLOCK_BOOTTIME now minus the start time in
// /proc/<pid>/stat (the two use the same clock, so suspends and wall-clock
// steps do not skew it). The pid must be a process (thread group leader);
// a thread id gives that thread's figures only. A zombie still has a stat
// file and is reported (with zero memory) until it is reaped.
package stats
