package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gafferhq/gaffer/internal/config/procfile"
)

func (a *app) exportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export gafferd|json|supervisord|systemd [DIR]",
		Short: "Write the app as gafferd, JSON, supervisord or systemd configuration",
		Long: `Write the app's jobs (-c processes per type) in another format:

  gafferd      an INI file of [job:APP:TYPE] sections (DIR/APP.ini)
  json         a JSON job file for "gafferctl load" (DIR/APP.json)
  supervisord  a supervisord.conf: [group:APP], one [program:APP-TYPE] per
               type with numprocs; process N is APP-TYPE_PORT (DIR/APP.conf)
  systemd      APP.target and one APP-TYPE@.service template per type; the
               instance is the port (APP-web@5000.service)

Without DIR the single-file formats are printed; systemd needs a DIR.`,
		Args:      nargs(1, 2),
		ValidArgs: procfile.Formats,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(procfile.Formats, args[0]) {
				return usageErrorf("export format %q: want one of %s", args[0], strings.Join(procfile.Formats, ", "))
			}
			if len(args) == 1 && args[0] == "systemd" {
				return usageErrorf("export systemd writes several files: give a DIR")
			}
			pa, conc, err := a.loadAppConcurrency()
			if err != nil {
				return err
			}
			files, err := pa.Export(args[0], conc)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				for _, data := range files {
					_, err = a.out.Write(data)
				}
				return err
			}
			dir := args[1]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, name := range slices.Sorted(maps.Keys(files)) {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, files[name], 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "wrote %s\n", path)
			}
			return nil
		},
	}
	a.concurrencyFlag(cmd)
	cmd.Flags().IntVarP(&a.port, "port", "p", 0, "base port (default: .env PORT, else $PORT, else 5000)")
	return cmd
}
