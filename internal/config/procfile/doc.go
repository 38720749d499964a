// Package procfile reads Procfile applications: the Procfile (process types
// and their commands), the .env files (the app's environment), and turns
// them into gaffer jobs. It also writes those jobs in other formats: a
// gafferd INI file, a JSON job file, a supervisord.conf and systemd units.
//
// # Procfile
//
// Each line "name: command" defines a process type, as foreman reads it.
// Names are letters, digits, '_' and, as foreman accepts, '-'. Blank lines
// and lines starting with '#' are ignored; so is any line without a ':'
// (foreman ignores what does not match). A line with a ':' that is not a
// valid entry (a bad name, no command) is an error naming its line. Order
// is kept; a repeated name overrides the command but keeps its place.
//
// # .env
//
// The dotenv format (not the Python reference's naive split):
//
//	KEY=value            unquoted: trimmed; " #" starts a comment
//	export KEY=value     the shell's export prefix is allowed
//	KEY='literal $X'     single quotes: nothing is interpreted
//	KEY="a\nb ${X}"      double quotes: \n \t \r \" \\ \$ escapes, and may span lines
//	# comment
//
// $NAME, ${NAME} and ${NAME:-default} are replaced (outside single quotes)
// by an earlier key of the same or an earlier file, else by the OS
// environment, else by "" (or the default). \$ is a literal $. A line
// without '=', a bad key or an unterminated quote is an error
// "FILE:LINE: …". Keys are [A-Za-z_][A-Za-z0-9_.-]*.
//
// Everything here is a pure function of its input (and of the lookup
// function given for the OS environment): safe for concurrent use.
package procfile
