// Package config owns gaffer's configuration files: it turns a gafferd INI
// file (with its includes), a supervisord.conf (with its includes), a
// gaggled config (Boost INFO, with its includes) or a JSON job file into
// one canonical, validated value (Config, or []Job for JSON). Nothing else in gaffer parses these formats; gafferd applies
// command-line overrides on top of the result and hands the jobs to the
// supervisor. Everything here is a pure function of its input files (and,
// for supervisord.conf, of the environment, host name and working
// directory): safe for concurrent use, no side effects.
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
//
// # supervisord.conf
//
// Load reads a file as a supervisord.conf when IsSupervisord: it has a
// [supervisord], [unix_http_server], [inet_http_server], [program:…],
// [eventlistener:…], [group:…], [fcgi-program:…] or [rpcinterface:…]
// section. ParseSupervisord and LoadSupervisord read one directly. The
// rules are supervisor 4's (options.py, datatypes.py;
// supervisor-semantics.md §5), on the same reader with another dialect:
//
//   - Python 3 configparser as supervisor configures it: a ';' or '#' at
//     the start of a line or after whitespace starts a comment on every
//     line (so "command=sh -c 'a ; b'" is cut, as in supervisor), a repeated
//     section or key within a file is merged or overrides (a warning here),
//     no "env:NAME" keys, no configparser interpolation.
//   - %(name)s expansion is Python's "value % names" with format specs
//     (%(process_num)02d); %% is a literal %. Names: here (the directory of
//     the file the option is written in), ENV_X (gafferd's environment, then
//     [supervisord] environment= outside [supervisord], then a program's own
//     environment= in its per-process options), and in program-like
//     sections program_name, group_name, host_node_name, process_num and
//     numprocs, the last two in the per-process options only (command,
//     process_name, directory, environment, the *_logfile* options), as in
//     supervisor. [include] files also has host_node_name. An unknown name
//     is an error that lists the available ones. [supervisord] environment=
//     is expanded twice, as supervisor does (write %%%% for a literal %).
//   - Every [program:x] process is one Job (supervisor.JobConfig with a
//     Program): Session = its group (the [group:y] listing it, else x),
//     name = the expanded process_name; numprocs = N gives N jobs. Jobs are
//     in supervisor's start order: group priority, group name, process
//     priority, process name. Supervisord.Groups and .Listeners keep what
//     jobs cannot (group priorities, pools).
//   - Defaults are supervisor's (§5.3); supervisord's own relative paths
//     are made absolute against the working directory, program paths and
//     childlogdir against [supervisord] directory when set (where
//     supervisord has chdir'ed when it opens them), "~" is expanded.
//
// Deliberate departures from supervisor:
//
//   - Strict: an unknown key in a known section, and a malformed value,
//     are errors with file, line, section and key (supervisor ignores
//     unknown keys). All problems are reported at once, in file order.
//   - Values supervisor takes but cannot mean: negative sizes, startsecs,
//     stopwaitsecs or backups, stopsignal 0, a umask or chmod beyond 0777 /
//     07777, an empty user, more than a week in seconds.
//   - Names: besides ':', '/' and space, brackets and any whitespace are
//     refused in program, group and process names, and a process name is
//     checked after expansion. A group name (so a standalone program's
//     name) cannot hold a '.': groups are sessions and a full job name is
//     session.job.
//   - Nothing on the machine is looked up: users, groups and the existence
//     of directories are checked when gafferd starts or spawns, not here
//     (supervisor checks them while parsing).
//   - [fcgi-program:x] is a [program:x] whose processes share one listening
//     socket (socket, socket_backlog, socket_owner, socket_mode) as stdin;
//     sockets = NAME=URL, … is a gafferd extension (socket activation), see
//     sockets.go.
//   - Unsupported: syslog (warning), Python
//     extensions ([rpcinterface:x] factories other than supervisor's,
//     supervisor_twiddler's and supervisor_cache's: an error naming the
//     section and factory; result_handler: a warning), stdout_events_enabled or
//     capture without a log file (warning; gaffer publishes those events
//     only for logged streams). A [gaffer] or [job:…] section in a
//     supervisord.conf is an error.
//   - Limits: at most 10000 processes, 64 MiB of expanded text, format
//     widths of 4096.
//
// Dependencies and probes (depends.go) use the same keys in both INI
// dialects: depends_on = NAME [(CONDITION, delay=SECONDS, propagate)], …,
// readiness / liveness = KIND TARGET and their _initial_delay, _period,
// _timeout, _success_threshold and _failure_threshold. In a
// supervisord.conf they are gafferd extensions (supervisord rejects them);
// a name there is a program or group:program, resolved after every program
// is built to the full names of all its processes.
//
// # gaggled
//
// IsGaggled tells a gaggled config by content (see its doc); info.go reads
// the INFO syntax, gaggled.go maps programs onto supervisor programs of
// session "default" (gaggled-dependencies.md §1–§3).
//
// # Checks
//
// Load, Parse, ParseSupervisord, LoadSupervisord, ParseGaggled and
// LoadGaggled refuse dependency cycles and dependencies on jobs that are
// not in the config (internal/deps finds them). Check (gafferd -t) adds
// what is not refused at start-up: dependencies of jobs started at boot on
// jobs that are not, and commands not found on the job's PATH; it is the
// only part of the package that looks at the machine (PATH, files).
//
// The command is kept as written (getAllConfigInfo shows it so) and split
// at spawn by supervisor.SplitCommand, which gives exactly what supervisor's
// shlex.split gives, errors included ("No closing quotation", "No escaped
// character" are config errors here).
package config
