package client

import (
	"bytes"
	"testing"
)

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{"V1 message abc\x00hi", "V1 error gaffer_error\x00{}", "V1 a\x00", "\x00", "V1 message a b\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, ok := parseFrame(b)
		if !ok {
			return
		}
		again, ok := parseFrame(appendFrame(fr.typ, fr.id, fr.body))
		if !ok || again.typ != fr.typ || again.id != fr.id || !bytes.Equal(again.body, fr.body) {
			t.Fatalf("round trip of %q: %+v", b, again)
		}
	})
}
