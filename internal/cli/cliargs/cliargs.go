// Package cliargs checks the arguments of gafferctl's and gaffer's commands.
package cliargs

import "github.com/spf13/cobra"

// N accepts between min and max arguments (max < 0: no limit); usagef makes
// the program's error for a bad command line.
func N(min, max int, usagef func(format string, args ...any) error) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || (max >= 0 && len(args) > max) {
			return usagef("usage: %s", cmd.UseLine())
		}
		return nil
	}
}
