package supervisor

import (
	"bytes"
	"fmt"
	"testing"
)

// The tail keeps exactly the last size bytes, in order, with absolute
// offsets, whatever the sizes of the writes.
func TestTailKeepsLastBytesWithOffsets(t *testing.T) {
	for _, chunk := range []int{1, 7, 16, 33, 100} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			tl := newTail(32)
			var all bytes.Buffer
			for i := 0; all.Len() < 300; i++ {
				b := bytes.Repeat([]byte{byte('a' + i%26)}, chunk)
				all.Write(b)
				tl.Write(b)
				want := all.Bytes()[max(all.Len()-32, 0):]
				got, next, _, _ := tl.Read(0)
				if !bytes.Equal(got, want) || next != int64(all.Len()) {
					t.Fatalf("after %d bytes: got %q (next %d), want %q", all.Len(), got, next, want)
				}
				if all.Len() < 5 {
					continue
				}
				if last := tl.Last(5); !bytes.Equal(last, all.Bytes()[all.Len()-5:]) {
					t.Fatalf("Last(5) = %q", last)
				}
				from := int64(all.Len() - 3)
				if got, _, _, _ := tl.Read(from); !bytes.Equal(got, all.Bytes()[from:]) {
					t.Fatalf("Read(%d) = %q", from, got)
				}
			}
		})
	}
}
