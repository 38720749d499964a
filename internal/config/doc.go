// Package config owns gaffer's configuration files: it turns a gafferd INI
// file (with its includes) or a JSON job file into one canonical, validated
// value (Config, or []Job for JSON). Nothing else in gaffer parses these
// formats; gafferd applies command-line overrides on top of the result and
// hands the jobs to the supervisor.
//
// # INI dialect
//
// gafferd's files were read by Python's configparser, so that is the dialect
// accepted here (gaffer-config.md §2–3), with the behaviour of Python 3's
// ConfigParser:
//
//   - [section] headers (case-sensitive), key = value or key: value, split at
//     the first '=' or ':'; keys are case-insensitive (lower-cased).
//   - Full-line comments start with '#' or ';' (also when indented); there are
//     no inline comments, so "url = http://h/#x ; y" keeps the whole text.
//   - A line indented deeper than its key line continues the value (lines are
//     joined with "\n"); blank lines inside a value are kept, trailing ones
//     dropped.
//   - [DEFAULT] keys are visible in every section (see below for which
//     sections enumerate them).
//   - %(name)s is replaced by the key name of the same section or [DEFAULT],
//     recursively (10 levels); %% is a literal %, and any other % is an error.
//   - Within one file a section or a key may not appear twice (Python 3's
//     strict mode); across include files later files override keys.
//
// gopkg.in/ini.v1 was evaluated for this and is deliberately not used: no
// combination of its options matches configparser. It continues a value
// into any following indented line (so indented "key = v" lines are
// swallowed into the previous value), lets [a.b] inherit keys from [a],
// treats values starting with ` or """ as quoted (silently dropping text),
// strips quotes from key names, turns a "-" key into "#1", truncates
// multi-line values that reach past its 4 KiB read-ahead, and keeps no line
// numbers, which the error messages need.
//
// Deliberate departures from the reference:
//
//   - "env:NAME = value" works. configparser splits "env:NAME = v" at the
//     first ':' (key "env", value "NAME = v"), so the reference could never
//     read such keys; here a key "env" followed by ':' takes the text up to
//     the next '=' or ':' as NAME. NAME keeps the case it was written in;
//     like every key it is matched case-insensitively (env:Path and env:PATH
//     are the same key).
//   - Job sections are read session-first: [job:shop:web], [job:shop.web] and
//     [job:shop/web] are job web of session shop (the reference reads them
//     reversed; the spec recommends this order).
//   - Malformed values are errors naming file, line, section and key, never
//     silently ignored (the reference ignores a bad flapping value, for
//     example; an empty flapping value, which the reference reads as "all
//     defaults", is an error too). All problems are reported at once.
//   - Text after a section header's ']' that is not a comment is an error
//     (configparser drops it silently, e.g. "[job:web] cmd = x").
//   - Job sections are strict: a key that is not a job key is an error, so
//     per-section interpolation helpers must live in [DEFAULT].
//   - [DEFAULT] keys are inherited by [gaffer] and by job sections (where
//     DEFAULT keys that are not job keys are interpolation helpers and are
//     not reported as unknown). [webhooks] and [env:...] sections take only
//     their own keys: there every key is data, and helper variables must not
//     turn into webhooks or environment variables.
//   - Extensions: [gaffer] unix = PATH and "unix:PATH" entries in bind;
//     job keys backoff and custom_streams; several whitespace-separated URLs
//     per [webhooks] event.
package config
