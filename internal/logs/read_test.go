package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"
)

const tenBytes = "0123456789"

// readers runs a table against the path functions and against the
// Writer's methods on the same file, which must agree.
func readers(t *testing.T, content string) map[string]func(offset, length int64) ([]byte, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	w := mustOpen(t, path, 0, 0)
	mustWrite(t, w, content)
	return map[string]func(offset, length int64) ([]byte, error){
		"ReadFile": func(offset, length int64) ([]byte, error) { return ReadFile(path, offset, length) },
		"ReadLog":  w.ReadLog,
	}
}

func TestReadRules(t *testing.T) {
	tests := []struct {
		name           string
		offset, length int64
		want           string
		wantErr        error
	}{
		{"whole file", 0, 0, tenBytes, nil},
		{"length from start", 0, 4, "0123", nil},
		{"length from offset", 3, 4, "3456", nil},
		{"length past the end", 8, 5, "89", nil},
		{"huge length", 0, math.MaxInt64, tenBytes, nil},
		{"zero length is to the end", 3, 0, "3456789", nil},
		{"offset at the end", 10, 0, "", nil},
		{"offset past the end", 15, 3, "", nil},
		{"huge offset", math.MaxInt64, 0, "", nil},
		{"negative offset is the tail", -3, 0, "789", nil},
		{"tail of the whole size", -10, 0, tenBytes, nil},
		{"tail longer than the file", -20, 0, tenBytes, nil},
		{"most negative offset", math.MinInt64, 0, tenBytes, nil},
		{"negative offset with length", -3, 1, "", ErrBadArguments},
		{"negative offset and length", -3, -1, "", ErrBadArguments},
		{"negative length", 0, -1, "", ErrBadArguments},
		{"negative length past the end", 50, -1, "", ErrBadArguments},
		{"most negative both", math.MinInt64, math.MinInt64, "", ErrBadArguments},
	}
	for rname, read := range readers(t, tenBytes) {
		for _, tt := range tests {
			t.Run(rname+"/"+tt.name, func(t *testing.T) {
				got, err := read(tt.offset, tt.length)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("(%d, %d): error %v, want %v", tt.offset, tt.length, err, tt.wantErr)
				}
				if string(got) != tt.want {
					t.Errorf("(%d, %d) = %q, want %q", tt.offset, tt.length, got, tt.want)
				}
			})
		}
	}
}

func TestReadEmptyFile(t *testing.T) {
	for rname, read := range readers(t, "") {
		for _, args := range [][2]int64{{0, 0}, {0, 5}, {-5, 0}, {3, 0}} {
			if got, err := read(args[0], args[1]); err != nil || len(got) != 0 {
				t.Errorf("%s%v on an empty file = %q, %v; want empty", rname, args, got, err)
			}
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name           string
		path           string
		offset, length int64
		wantErr        error
	}{
		{"missing file is NO_FILE", missing, 0, 0, fs.ErrNotExist},
		{"missing file wins over bad arguments", missing, -1, 1, fs.ErrNotExist},
		{"missing directory", filepath.Join(dir, "no", "log"), 0, 0, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadFile(tt.path, tt.offset, tt.length); !errors.Is(err, tt.wantErr) {
				t.Errorf("ReadFile: %v, want %v", err, tt.wantErr)
			}
		})
	}
	// Any other I/O error (FAILED) is neither of the two.
	_, err := ReadFile(dir, 0, 0)
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrBadArguments) {
		t.Errorf("ReadFile of a directory: %v, want an I/O error", err)
	}
}

type tailFunc func(offset, length int64) ([]byte, int64, bool, error)

func tailers(t *testing.T, content string) map[string]tailFunc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	w := mustOpen(t, path, 0, 0)
	mustWrite(t, w, content)
	return map[string]tailFunc{
		"TailFile": func(offset, length int64) ([]byte, int64, bool, error) { return TailFile(path, offset, length) },
		"TailLog":  w.TailLog,
	}
}

func TestTailRules(t *testing.T) {
	tests := []struct {
		name           string
		offset, length int64
		want           string
		wantOverflow   bool
	}{
		{"fits exactly", 0, 10, tenBytes, false},
		{"grown past offset+length: last length bytes", 0, 5, "56789", true},
		{"grown past offset+length, middle", 3, 2, "89", true},
		{"zero length overflows", 0, 0, "", true},
		{"negative length overflows with nothing", 0, -1, "", true},
		{"from offset to the end", 4, 6, "456789", false},
		// supervisord's tailFile returns all 10 bytes here (issue 583).
		{"from offset, length to spare", 4, 100, "456789", false},
		{"offset at the end", 10, 100, "", false},
		{"offset past the end", 20, 100, "", false},
		{"negative offset, overflow", -5, 3, "789", true},
		{"negative offset, no overflow", -5, 100, tenBytes, false},
		{"sum overflows upwards", math.MaxInt64, math.MaxInt64, "", false},
		{"sum overflows downwards", math.MinInt64, -1, "", true},
		{"most negative offset, huge length", math.MinInt64, math.MaxInt64, tenBytes, true},
		{"offset past the end, negative length", 20, -5, "", false},
	}
	for tname, tail := range tailers(t, tenBytes) {
		for _, tt := range tests {
			t.Run(tname+"/"+tt.name, func(t *testing.T) {
				got, off, overflow, err := tail(tt.offset, tt.length)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want || off != 10 || overflow != tt.wantOverflow {
					t.Errorf("(%d, %d) = %q, %d, %v; want %q, 10, %v",
						tt.offset, tt.length, got, off, overflow, tt.want, tt.wantOverflow)
				}
			})
		}
	}
}

func TestTailEmptyFile(t *testing.T) {
	for tname, tail := range tailers(t, "") {
		got, off, overflow, err := tail(0, 100)
		if err != nil || len(got) != 0 || off != 0 || overflow {
			t.Errorf("%s(0, 100) on an empty file = %q, %d, %v, %v", tname, got, off, overflow, err)
		}
	}
}

func TestTailFileMissingFileIsEmpty(t *testing.T) {
	got, off, overflow, err := TailFile(filepath.Join(t.TempDir(), "missing"), 50, 100)
	if err != nil || len(got) != 0 || off != 0 || overflow {
		t.Errorf("TailFile(missing) = %q, %d, %v, %v; want \"\", 0, false, nil", got, off, overflow, err)
	}
	if _, _, _, err := TailFile(t.TempDir(), 0, 100); err == nil {
		t.Error("TailFile of a directory: no error")
	}
}

// A follower calling TailLog with the offset it got back sees every byte once.
func TestTailLogIncrementally(t *testing.T) {
	w := mustOpen(t, filepath.Join(t.TempDir(), "log"), 0, 0)
	var got []byte
	var off int64
	for i := range 20 {
		mustWrite(t, w, fmt.Sprintf("line %d\n", i))
		data, next, overflow, err := w.TailLog(off, 1024)
		if err != nil || overflow {
			t.Fatalf("TailLog(%d, 1024) = %v, %v", off, overflow, err)
		}
		got, off = append(got, data...), next
	}
	want, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("incremental tail = %q, want %q", got, want)
	}
}

func TestReadLogAfterCloseReadsThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w := mustOpen(t, path, 0, 0)
	mustWrite(t, w, tenBytes)
	w.Close()
	if got, err := w.ReadLog(-4, 0); err != nil || string(got) != "6789" {
		t.Errorf("ReadLog after Close = %q, %v", got, err)
	}
	if got, off, overflow, err := w.TailLog(0, 4); err != nil || string(got) != "6789" || off != 10 || !overflow {
		t.Errorf("TailLog after Close = %q, %d, %v, %v", got, off, overflow, err)
	}
	os.Remove(path)
	if _, err := w.ReadLog(0, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadLog of a removed log after Close: %v, want fs.ErrNotExist", err)
	}
}
