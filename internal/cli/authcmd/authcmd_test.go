package authcmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/client"
)

func TestPermText(t *testing.T) {
	for _, tt := range []struct {
		p    client.Permissions
		want string
	}{
		{client.Permissions{}, "-"},
		{client.Permissions{Admin: true}, "+a"},
		{client.Permissions{CreateKey: true, CreateUser: true, Read: []string{"app", "app.web"}, Manage: []string{"app.web"}},
			"+ku app+r app.web+rm"},
	} {
		if got := permText(tt.p); got != tt.want {
			t.Errorf("permText(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// usageErr marks a bad command line, as the programs do.
type usageErr struct{ error }

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := &cobra.Command{Use: "prog", SilenceErrors: true, SilenceUsage: true}
	AddCommands(root, Env{
		Program: "prog",
		Client:  func() (*client.Client, error) { return nil, errors.New("no gafferd in this test") },
		In:      strings.NewReader(stdin),
		Out:     &out,
		Usage:   func(err error) error { return usageErr{err} },
	})
	root.SetArgs(args)
	root.SetOut(&out)
	err := root.Execute()
	return out.String(), err
}

func TestBadCommandLinesAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"key:create"},
		{"key:create", "app+x"},
		{"key:delete"},
		{"user:setkey", "only-one"},
		{"login", "extra"},
	} {
		_, err := runCmd(t, "", args...)
		if _, ok := errors.AsType[usageErr](err); !ok {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	// The client is only asked for once the command line is good.
	if _, err := runCmd(t, "", "key:delete", "k"); err == nil || !strings.Contains(err.Error(), "no gafferd") {
		t.Errorf("key:delete k: %v", err)
	}
	if out, err := runCmd(t, "", "help", "key:create"); err != nil || !strings.Contains(out, "prog key:create +a --label ops") {
		t.Errorf("help key:create: %v\n%s", err, out)
	}
}

func TestPassword(t *testing.T) {
	e := &cmds{Env{In: strings.NewReader("from-stdin\r\nnext\n"), Usage: func(err error) error { return usageErr{err} }}}
	if pw, err := e.password("flag", ""); pw != "flag" || err != nil {
		t.Errorf("flag: %q %v", pw, err)
	}
	file := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(file, []byte("from-file\nsecond\n"), 0o600)
	if pw, err := e.password("", file); pw != "from-file" || err != nil {
		t.Errorf("file: %q %v", pw, err)
	}
	if pw, err := e.password("", "-"); pw != "from-stdin" || err != nil {
		t.Errorf("stdin: %q %v", pw, err)
	}
	e.In = strings.NewReader("")
	if _, err := e.password("", ""); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Errorf("empty stdin: %v", err)
	} else if _, ok := errors.AsType[usageErr](err); !ok {
		t.Errorf("empty stdin is not a usage error: %v", err)
	}
	if _, err := e.password("", filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

func TestClientOptions(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "gaffer.ini")
	t.Setenv("GAFFER_CONFIG", conf)
	t.Setenv("GAFFER_API_KEY", "")
	os.WriteFile(conf, []byte("[node \"http://h:1\"]\nkey = stored\ncacert = "+filepath.Join(dir, "nope.pem")+"\n"), 0o600)
	// The node's cacert is used, so its absence is an error naming it.
	if _, err := ClientOptions("h:1", "", client.TLSFiles{}); err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Errorf("stored cacert missing: %v", err)
	}
	// Another node: nothing stored, no options.
	if opts, err := ClientOptions("http://other:1", "", client.TLSFiles{}); err != nil || len(opts) != 0 {
		t.Errorf("other node: %d options, %v", len(opts), err)
	}
	if opts, err := ClientOptions("http://other:1", "k", client.TLSFiles{}); err != nil || len(opts) != 1 {
		t.Errorf("--api-key: %d options, %v", len(opts), err)
	}
	os.WriteFile(conf, []byte("[node \"http://h:1\"\n"), 0o600)
	if _, err := ClientOptions("h:1", "k", client.TLSFiles{}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("broken user config: %v", err)
	}
}
