package config

import (
	"fmt"
	"strings"

	"github.com/gafferhq/gaffer/supervisor"
)

// The pidfile key (gaffer's [job:x] and, as a gafferd extension, the
// supervisord [program:x]) marks a command that daemonizes itself: it forks
// its daemon into the background, writes the daemon's pid to the file and
// exits 0; gafferd then supervises that pid (supervisor.JobConfig.PIDFile).

func init() {
	jobKeys["pidfile"] = true
	programKeys = append(programKeys, "pidfile")
}

// parsePIDFile checks a pidfile value: a file path, not a directory.
func parsePIDFile(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", fmt.Errorf("%w: empty pidfile path", ErrInvalidValue)
	case strings.ContainsRune(v, 0):
		return "", fmt.Errorf("%w: pidfile path holds a NUL byte", ErrInvalidValue)
	case strings.HasSuffix(v, "/") || strings.HasSuffix(v, "/.") || strings.HasSuffix(v, "/.."):
		return "", fmt.Errorf("%w: pidfile %q names a directory, not a file", ErrInvalidValue, v)
	}
	return v, nil
}

// programPIDFile reads a program's pidfile (expanded per process, so
// numprocs > 1 can give each process its own with %(process_num)s),
// relative to supervisord's directory (or the working directory), as
// directory= is.
func (b *sbuilder) programPIDFile(sec *section, x *expander, cfg *supervisor.JobConfig) {
	v, e, ok := b.value(sec, "pidfile", x)
	if !ok {
		return
	}
	p, err := parsePIDFile(v)
	if err != nil {
		b.fail(e.pos, sec.name, e.name, err)
		return
	}
	cfg.PIDFile = b.h.absPath(b.runDir(), p)
}
