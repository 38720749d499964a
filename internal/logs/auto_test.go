package logs

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

func TestAutoPathNamesLikeSupervisord(t *testing.T) {
	dir := t.TempDir()
	path, err := AutoPath(dir, "web_01", "stderr", "supervisor")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != dir {
		t.Errorf("AutoPath in %s: %s", dir, path)
	}
	if re := regexp.MustCompile(`^web_01-stderr---supervisor-[a-z0-9_]{8}\.log$`); !re.MatchString(filepath.Base(path)) {
		t.Errorf("name %q does not match %v", filepath.Base(path), re)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("AUTO log: size %d, mode %v; want an empty 0600 file, as mkstemp makes", fi.Size(), fi.Mode().Perm())
	}
}

func TestAutoPathIsUnique(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 200 {
		path, err := AutoPath(dir, "job", "stdout", "supervisor")
		if err != nil {
			t.Fatal(err)
		}
		if seen[path] {
			t.Fatalf("AutoPath returned %s twice", path)
		}
		seen[path] = true
	}
}

func TestAutoPathIsAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	path, err := AutoPath(".", "job", "stdout", "supervisor")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(path) || filepath.Dir(path) != dir {
		t.Errorf("AutoPath(\".\") = %s, want an absolute path in %s", path, dir)
	}
}

func TestAutoPathErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, dir, proc, channel, identifier string
		wantErr                              error // nil: any error
	}{
		{"missing childlogdir", filepath.Join(dir, "missing"), "job", "stdout", "supervisor", fs.ErrNotExist},
		{"channel", dir, "job", "stdin", "supervisor", nil},
		{"identifier as channel", dir, "job", "supervisor", "stdout", nil},
		{"empty name", dir, "", "stdout", "supervisor", nil},
		{"name with a slash", dir, "../job", "stdout", "supervisor", nil},
		{"identifier with a slash", dir, "job", "stdout", "a/b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := AutoPath(tt.dir, tt.proc, tt.channel, tt.identifier)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("AutoPath = %q, %v; want error %v", path, err, tt.wantErr)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed AutoPath calls left files: %v", entries)
	}
}

func TestCleanAutoDirRemovesOnlyThisIdentifiersLogs(t *testing.T) {
	dir := t.TempDir()
	ours, err := AutoPath(dir, "web", "stdout", "supervisor")
	if err != nil {
		t.Fatal(err)
	}
	other, err := AutoPath(dir, "web", "stdout", "other")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{filepath.Base(ours) + ".1", filepath.Base(ours) + ".10", "keep.log", "app-stdout---supervisor.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := CleanAutoDir(dir, "supervisor")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ours, ours + ".1", ours + ".10"}
	if slices.Sort(removed); !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	left := slices.Sorted(maps.Keys(dirFiles(t, dir)))
	wantLeft := []string{"app-stdout---supervisor.log", filepath.Base(other), "keep.log"}
	slices.Sort(wantLeft)
	if !slices.Equal(left, wantLeft) {
		t.Errorf("left %v, want %v", left, wantLeft)
	}
	if _, err := CleanAutoDir(filepath.Join(dir, "missing"), "supervisor"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CleanAutoDir of a missing dir: %v", err)
	}
}
