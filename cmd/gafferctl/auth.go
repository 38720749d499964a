package main

import (
	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/internal/cli/authcmd"
	"github.com/gafferhq/gaffer/internal/cli/userconfig"
)

// addAuthCommands adds the TLS flags and the login, key and user commands
// (internal/cli/authcmd, shared with gaffer).
func (a *app) addAuthCommands(root *cobra.Command) {
	authcmd.AddTLSFlags(root, &a.sec)
	authcmd.AddCommands(root, authcmd.Env{
		Program: "gafferctl",
		Client:  a.client,
		In:      a.in,
		Out:     a.out,
		JSON:    &a.json,
		Usage:   func(err error) error { return usageError{err} },
	})
}

// The user config's reader and writer, as this package's tests name them.
var (
	parseUserConfig = userconfig.Parse
	setNodeKey      = userconfig.SetNodeKey
)
