package logs

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"path/filepath"
	"testing"
)

const fuzzContent = "0123456789abcdefghijklmnopqrstuvwxyz\n" // 37 bytes

// fuzzSeeds are the boundary cases of §4.3 around a 37-byte file.
var fuzzSeeds = [][2]int64{
	{0, 0}, {0, 1}, {5, 10}, {36, 1}, {37, 0}, {37, 1}, {38, 0}, {-1, 0}, {-37, 0},
	{-38, 0}, {-1, 1}, {0, -1}, {-1, -1}, {math.MaxInt64, 0}, {math.MaxInt64, math.MaxInt64},
	{math.MinInt64, 0}, {math.MinInt64, math.MinInt64}, {math.MinInt64, math.MaxInt64},
	{1, math.MaxInt64}, {-5, math.MaxInt64}, {30, 7}, {30, 6}, {30, 8},
}

func fuzzWriter(f *testing.F) (string, *Writer) {
	path := filepath.Join(f.TempDir(), "log")
	w, err := Open(path, 0, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { w.Close() })
	if _, err := w.Write([]byte(fuzzContent)); err != nil {
		f.Fatal(err)
	}
	return path, w
}

// FuzzReadFile checks ReadFile and Writer.ReadLog against a plain statement
// of the readLog rules: never a panic, always the right slice of the file or
// ErrBadArguments.
func FuzzReadFile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1])
	}
	path, w := fuzzWriter(f)
	content := []byte(fuzzContent)
	size := int64(len(content))
	f.Fuzz(func(t *testing.T, offset, length int64) {
		var want []byte
		var wantErr error
		switch {
		case offset < 0 && length != 0, offset >= 0 && length < 0:
			wantErr = ErrBadArguments
		case offset < 0: // the last -offset bytes
			if offset < -size {
				want = content
			} else {
				want = content[size+offset:]
			}
		case offset >= size:
			want = nil
		case length == 0 || length >= size-offset:
			want = content[offset:]
		default:
			want = content[offset : offset+length]
		}
		for name, read := range map[string]func(int64, int64) ([]byte, error){
			"ReadFile": func(o, l int64) ([]byte, error) { return ReadFile(path, o, l) },
			"ReadLog":  w.ReadLog,
		} {
			got, err := read(offset, length)
			if !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
				t.Fatalf("%s(%d, %d): error %v, want %v", name, offset, length, err, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s(%d, %d) = %q, want %q", name, offset, length, got, want)
			}
		}
	})
}

// FuzzTailFile does the same for the tailProcessLog rules.
func FuzzTailFile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1])
	}
	path, w := fuzzWriter(f)
	content := []byte(fuzzContent)
	size := int64(len(content))
	f.Fuzz(func(t *testing.T, offset, length int64) {
		// size > offset+length, in exact arithmetic.
		sum := new(big.Int).Add(big.NewInt(offset), big.NewInt(length))
		overflow := big.NewInt(size).Cmp(sum) > 0
		var want []byte
		switch {
		case overflow && length <= 0:
			want = nil
		case overflow && length >= size:
			want = content
		case overflow:
			want = content[size-length:]
		case offset >= size:
			want = nil
		default:
			want = content[max(offset, 0):]
		}
		for name, tail := range map[string]tailFunc{
			"TailFile": func(o, l int64) ([]byte, int64, bool, error) { return TailFile(path, o, l) },
			"TailLog":  w.TailLog,
		} {
			got, off, gotOverflow, err := tail(offset, length)
			if err != nil || !bytes.Equal(got, want) || off != size || gotOverflow != overflow {
				t.Fatalf("%s(%d, %d) = %q, %d, %v, %v; want %q, %d, %v", name, offset, length,
					got, off, gotOverflow, err, want, size, overflow)
			}
		}
	})
}
