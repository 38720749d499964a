package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gafferhq/gaffer/supervisor"
)

// parseBool is configparser's getboolean.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("%w %q: want 1/yes/true/on or 0/no/false/off", ErrInvalidBool, s)
}

// parseInt is Python's int() for the forms people write: an optional sign
// and decimal digits.
func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w %q: out of range", ErrInvalidInt, s)
		}
		return 0, fmt.Errorf("%w %q", ErrInvalidInt, s)
	}
	return int(n), nil
}

// parseNumber accepts decimal numbers only: strconv.ParseFloat would also
// take "inf", "nan", hex and underscores, none of which is a sane duration.
func parseNumber(s string) (float64, error) {
	digits, ok := 0, s != ""
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == '-':
			ok = ok && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E')
		case r == '.' || r == 'e' || r == 'E':
		default:
			ok = false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if !ok || digits == 0 || err != nil {
		return 0, fmt.Errorf("%w %q", ErrInvalidNumber, s)
	}
	return f, nil
}

// maxSeconds keeps a duration in seconds within time.Duration.
const maxSeconds = float64(math.MaxInt64) / float64(time.Second)

func parseSeconds(s string) (time.Duration, error) {
	f, err := parseNumber(s)
	if err != nil {
		return 0, err
	}
	if math.Abs(f) >= maxSeconds {
		return 0, fmt.Errorf("%w %q: too large", ErrInvalidNumber, s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parseGracefulTimeout takes whole seconds; a fraction is truncated, as
// gaffer does for the API's float (gaffer-config.md §9).
func parseGracefulTimeout(s string) (time.Duration, error) {
	f, err := parseNumber(s)
	if err != nil {
		return 0, err
	}
	if math.Abs(f) >= maxSeconds {
		return 0, fmt.Errorf("%w %q: too large", ErrInvalidNumber, s)
	}
	return time.Duration(math.Trunc(f)) * time.Second, nil
}

const flappingForm = "want 1 to 4 whitespace-separated numbers: attempts window retry_in max_retry (e.g. 2 1 7 5)"

// parseFlapping reads "attempts [window [retry_in [max_retry]]]"; missing
// values take gaffer's defaults. The reference silently turns a malformed
// value (such as the documented comma form) into "no flapping"; here it is
// an error, since that silently removes crash-loop protection.
func parseFlapping(s string) (*supervisor.Flapping, error) {
	fields := strings.Fields(s)
	if strings.Contains(s, ",") {
		return nil, fmt.Errorf("%w %q: the comma-separated form is not accepted; %s", ErrInvalidValue, s, flappingForm)
	}
	if len(fields) == 0 || len(fields) > 4 {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalidValue, s, flappingForm)
	}
	f := supervisor.DefaultFlapping()
	var errs []error
	for i, v := range fields {
		var err error
		switch i {
		case 0:
			f.Attempts, err = parseInt(v)
		case 1:
			f.Window, err = parseSeconds(v)
		case 2:
			f.RetryIn, err = parseSeconds(v)
		case 3:
			f.MaxRetry, err = parseInt(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", [...]string{"attempts", "window", "retry_in", "max_retry"}[i], err))
		}
	}
	if len(errs) > 0 {
		return nil, invalidParts(s, flappingForm, errs)
	}
	return &f, nil
}

// Backoff defaults for the values left out; the same as the JSON form's in
// supervisor's JobConfig.UnmarshalJSON.
const (
	defaultBackoffMultiplier = 2
	defaultBackoffJitter     = 0.1
	defaultBackoffReset      = time.Minute
)

const backoffForm = "want 2 to 5 whitespace-separated numbers: initial max [multiplier [jitter [reset]]] (seconds, except multiplier and jitter)"

// parseBackoff reads our extension "initial max [multiplier [jitter [reset]]]".
func parseBackoff(s string) (*supervisor.Backoff, error) {
	fields := strings.Fields(s)
	if len(fields) < 2 || len(fields) > 5 {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalidValue, s, backoffForm)
	}
	b := supervisor.Backoff{Multiplier: defaultBackoffMultiplier, Jitter: defaultBackoffJitter, Reset: defaultBackoffReset}
	var errs []error
	for i, v := range fields {
		var err error
		switch i {
		case 0:
			b.Initial, err = parseSeconds(v)
		case 1:
			b.Max, err = parseSeconds(v)
		case 2:
			b.Multiplier, err = parseNumber(v)
		case 3:
			b.Jitter, err = parseNumber(v)
		case 4:
			b.Reset, err = parseSeconds(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", [...]string{"initial", "max", "multiplier", "jitter", "reset"}[i], err))
		}
	}
	if len(errs) > 0 {
		return nil, invalidParts(s, backoffForm, errs)
	}
	return &b, nil
}

// parseLabels splits a comma-separated list of stream labels. Empty entries
// are kept: the position of a label is its meaning (1st = stdout, 2nd =
// stderr), so dropping one would move the next; Validate reports them.
func parseLabels(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = trim(p)
	}
	return parts
}

// invalidParts reports the bad parts of a multi-number value on one line,
// keeping each part's error for errors.Is.
func invalidParts(s, form string, errs []error) error {
	format, args := "%w %q: ", []any{ErrInvalidValue, s}
	for _, err := range errs {
		format += "%w; "
		args = append(args, err)
	}
	return fmt.Errorf(format+"%s", append(args, form)...)
}
