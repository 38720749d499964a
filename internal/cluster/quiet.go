package cluster

import (
	"strings"
	_ "unsafe" // go:linkname

	_ "github.com/nats-io/nats-server/v2/server/pse" // the sampler quietSampler stops
)

// nats-server's pse package samples the process's CPU once a second, from
// its init function, for the server's monitoring pages — in every program
// that links the server, so in gafferd even when it runs no embedded NATS
// server or no cluster at all. An idle gafferd must not wake up.
//
// The sampler (pse.periodic) stops rescheduling itself when it cannot read
// its stat file, so QuietServerSampler points it at a name that cannot be
// opened. The replacement has the same length as the original, so a sample
// racing with the swap reads one whole string or the other, never a mix.
//
//go:linkname natsProcStatFile github.com/nats-io/nats-server/v2/server/pse.procStatFile
var natsProcStatFile string

// QuietServerSampler ends nats-server's once-a-second self-sampling within a
// second. Call it at start-up when this process will run no embedded NATS
// server (whose monitoring would want the samples). It does nothing in race
// builds, where the swap would be reported as the race it harmlessly is.
func QuietServerSampler() {
	if raceEnabled || natsProcStatFile == "" || strings.HasPrefix(natsProcStatFile, "\x00") {
		return
	}
	natsProcStatFile = "\x00" + natsProcStatFile[1:] // a NUL makes open(2) fail at once
}
