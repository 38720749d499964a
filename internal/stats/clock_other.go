//go:build !linux

package stats

import "time"

// sinceBoot is not available outside Linux; the Sampler falls back to the
// wall clock and the boot time from /proc/stat.
func sinceBoot() (time.Duration, bool) { return 0, false }
