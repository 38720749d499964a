package logs

import (
	"path/filepath"
	"testing"
)

func TestBytesWrittenCountsAcrossRotationAndClear(t *testing.T) {
	w, err := Open(filepath.Join(t.TempDir(), "app.log"), 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, s := range []string{"12345678", "abcdefgh", "xy"} { // the second write rotates
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Clear(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("z"))
	if got := w.BytesWritten(); got != 19 {
		t.Errorf("BytesWritten = %d, want 19 (every byte accepted)", got)
	}
	if got := w.Size(); got != 1 {
		t.Errorf("Size = %d, want 1 (the current file only)", got)
	}
}
