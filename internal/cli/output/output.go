// Package output is how gafferctl and gaffer print a command's answer: text,
// or indented JSON when asked, and aligned tables.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Emit prints v to w as indented JSON when asJSON, else runs text on w.
func Emit(w io.Writer, asJSON bool, v any, text func(w io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(w)
	return nil
}

// OK is the answer of a command with nothing to show: "ok", or {"ok": true}.
func OK(w io.Writer, asJSON bool) error {
	return Emit(w, asJSON, map[string]bool{"ok": true}, func(w io.Writer) { fmt.Fprintln(w, "ok") })
}

// Table writes aligned columns; header and rows are tab-separated.
func Table(w io.Writer, header string, rows []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	tw.Flush()
}
