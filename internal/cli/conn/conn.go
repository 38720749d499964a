// Package conn is how gafferctl and gaffer reach gafferd: the --host, --unix
// and --api-key options, the client they make, and the words for the errors
// of talking to it.
package conn

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
	"github.com/gafferhq/gaffer/internal/cli/authcmd"
)

// Flags say where gafferd is and which API key to send.
type Flags struct {
	Host, Unix, APIKey string
}

// AddFlags adds --host, --unix and --api-key to root and its subcommands;
// apiKeyUsage is --api-key's help.
func (f *Flags) AddFlags(root *cobra.Command, apiKeyUsage string) {
	pf := root.PersistentFlags()
	pf.StringVar(&f.Host, "host", "", "gafferd URL, http://host:port or https://host:port")
	pf.StringVar(&f.Unix, "unix", "", "gafferd unix socket path")
	// The environment is read at use, so that help never prints a key.
	pf.StringVar(&f.APIKey, "api-key", "", apiKeyUsage)
}

// Dial makes the client the flags and the TLS files say: gafferd at --host
// or --unix, else at client.DefaultAddress; the API key is --api-key,
// $GAFFER_API_KEY or the user config's key. Every error it returns is one
// of the command line.
func (f Flags) Dial(sec client.TLSFiles) (*client.Client, error) {
	addr := f.Host
	switch {
	case f.Host != "" && f.Unix != "":
		return nil, errors.New("--host and --unix are exclusive")
	case f.Unix != "":
		addr = "unix://" + f.Unix
	case addr == "":
		addr = client.DefaultAddress()
	}
	opts, err := authcmd.ClientOptions(addr, f.APIKey, sec)
	if err != nil {
		return nil, err
	}
	return client.New(addr, opts...)
}

// Client is *c, made by Dial the first time; usage marks Dial's errors as
// errors of the command line.
func (f Flags) Client(c **client.Client, sec client.TLSFiles, usage func(error) error) (*client.Client, error) {
	if *c == nil {
		nc, err := f.Dial(sec)
		if err != nil {
			return nil, usage(err)
		}
		*c = nc
	}
	return *c, nil
}

// Explain makes transport and auth errors say what to do: c is the client
// the command used (nil if none was made), keyHint where an API key comes
// from, as "--api-key or $GAFFER_API_KEY".
func Explain(err error, c *client.Client, keyHint string) error {
	if ue, ok := errors.AsType[*url.Error](err); ok && c != nil {
		return fmt.Errorf("cannot reach gafferd at %s: %v", c.Address(), ue.Err)
	}
	switch {
	case errors.Is(err, client.ErrUnauthorized):
		return fmt.Errorf("unauthorized: gafferd wants an API key (%s)", keyHint)
	case errors.Is(err, client.ErrForbidden):
		return fmt.Errorf("forbidden: this API key may not do that")
	}
	return err
}
