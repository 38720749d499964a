package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// autoChars and autoLen are those of Python's tempfile names, which
// supervisord's AUTO logs use (mkstemp, TMP_MAX attempts).
const (
	autoChars    = "abcdefghijklmnopqrstuvwxyz0123456789_"
	autoLen      = 8
	autoAttempts = 10000
)

// AutoPath creates a new, empty log file in childlogdir for an AUTO
// stdout_logfile or stderr_logfile, named like supervisord's:
// <name>-<channel>---<identifier>-<8 random characters>.log, where channel is
// "stdout" or "stderr" and identifier is the [supervisord] identifier
// ("supervisor" by default). The file is created exclusively with mode 0600,
// as mkstemp creates it, so two processes never share one. The returned path
// is absolute (like Python 3.12's mkstemp), so a later chdir does not move it.
func AutoPath(childlogdir, name, channel, identifier string) (string, error) {
	if channel != "stdout" && channel != "stderr" {
		return "", fmt.Errorf("logs: AUTO log channel %q: want stdout or stderr", channel)
	}
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("logs: AUTO log for process %q: bad name", name)
	}
	if strings.ContainsAny(identifier, "/\x00") {
		return "", fmt.Errorf("logs: AUTO log identifier %q: bad identifier", identifier)
	}
	dir, err := filepath.Abs(childlogdir)
	if err != nil {
		return "", fmt.Errorf("logs: childlogdir: %w", err)
	}
	prefix := name + "-" + channel + "---" + identifier + "-"
	var random [autoLen]byte
	for range autoAttempts {
		for i := range random {
			random[i] = autoChars[rand.IntN(len(autoChars))]
		}
		path := filepath.Join(dir, prefix+string(random[:])+".log")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("logs: AUTO log: %w", err)
		}
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("logs: AUTO log: %w", err)
		}
		return path, nil
	}
	return "", fmt.Errorf("logs: AUTO log in %s for %s: %w", dir, prefix, fs.ErrExist)
}

// CleanAutoDir removes the AUTO logs (and their backups) that an earlier
// daemon with this identifier left in childlogdir, as supervisord does at
// startup unless nocleanup is set. It matches names the way supervisord does,
// `.+?---<identifier>-\S+\.log` at the start of the name, except that the
// identifier is taken literally rather than as a regular expression. It
// returns the paths removed; failures to remove are joined in err, and the
// other files are still removed.
func CleanAutoDir(childlogdir, identifier string) (removed []string, err error) {
	entries, err := os.ReadDir(childlogdir)
	if err != nil {
		return nil, fmt.Errorf("logs: clean childlogdir: %w", err)
	}
	re := regexp.MustCompile(`^.+?---` + regexp.QuoteMeta(identifier) + `-\S+\.log`)
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !re.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(childlogdir, e.Name())
		if err := os.Remove(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("logs: clean childlogdir: %w", errors.Join(errs...))
	}
	return removed, nil
}
