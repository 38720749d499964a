package config

import (
	"io/fs"
	"path"
	"slices"
	"strings"
)

// pyGlob is Python's glob.glob(pattern) (not recursive) as supervisor's
// [include] uses it, on fsys: '*' and '?' do not match a leading '.' unless
// the pattern component starts with one; brackets follow fnmatch ([!a-z]
// negates, an unclosed '[' is literal, a backslash is an ordinary
// character). Unreadable directories match nothing. The result is sorted.
// Paths use '/' (supervisor runs on Unix only).
func (fsys fileSystem) pyGlob(pattern string) []string {
	if !hasGlobMagic(pattern) {
		if _, err := fsys.stat(pattern); err == nil {
			return []string{pattern}
		}
		return nil
	}
	parts := strings.Split(pattern, "/")
	// Leading empty part = absolute pattern.
	cands := []string{""}
	if parts[0] == "" {
		cands, parts = []string{"/"}, parts[1:]
	}
	for i, part := range parts {
		last := i == len(parts)-1
		if part == "" && !last {
			continue // "a//b" is "a/b"
		}
		var next []string
		for _, dir := range cands {
			if !hasGlobMagic(part) {
				p := path.Join(dir, part)
				if !last {
					next = append(next, p)
				} else if _, err := fsys.stat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			for _, name := range fsys.listDir(dir, !last) {
				if strings.HasPrefix(name, ".") && !strings.HasPrefix(part, ".") {
					continue
				}
				if fnmatch(part, name) {
					next = append(next, joinGlob(dir, name))
				}
			}
		}
		cands = next
		if len(cands) == 0 {
			return nil
		}
	}
	slices.Sort(cands)
	return slices.Compact(cands)
}

func joinGlob(dir, name string) string {
	if dir == "" {
		return name
	}
	return path.Join(dir, name)
}

// listDir lists dir's entries ("" = "."), only directories (following
// symlinks) when dirsOnly.
func (fsys fileSystem) listDir(dir string, dirsOnly bool) []string {
	if dir == "" {
		dir = "."
	}
	if fsys.readDir == nil {
		return nil
	}
	ents, err := fsys.readDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if dirsOnly && !e.IsDir() {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			if fi, err := fsys.stat(path.Join(dir, e.Name())); err != nil || !fi.IsDir() {
				continue
			}
		}
		out = append(out, e.Name())
	}
	return out
}

func hasGlobMagic(s string) bool { return strings.ContainsAny(s, "*?[") }

// fnmatch is Python's fnmatch.fnmatchcase(name, pat).
func fnmatch(pat, name string) bool {
	p := []rune(pat)
	n := []rune(name)
	// Backtracking on the last '*' is enough: a '*' matches any run.
	pi, ni := 0, 0
	starP, starN := -1, 0
	for ni < len(n) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starN = pi, ni
				pi++
				continue
			case '?':
				pi++
				ni++
				continue
			case '[':
				if match, width, ok := fnmatchClass(p[pi:], n[ni]); ok {
					if match {
						pi += width
						ni++
						continue
					}
				} else if n[ni] == '[' { // unclosed: a literal '['
					pi++
					ni++
					continue
				}
			default:
				if p[pi] == n[ni] {
					pi++
					ni++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starN++
		pi, ni = starP+1, starN
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// fnmatchClass matches c against the bracket expression at the start of p
// as fnmatch.translate reads it. ok is false when the '[' has no closing
// ']' (then it is a literal); width is the expression's length.
func fnmatchClass(p []rune, c rune) (match bool, width int, ok bool) {
	i := 1
	j := i
	if j < len(p) && p[j] == '!' {
		j++
	}
	if j < len(p) && p[j] == ']' {
		j++
	}
	for j < len(p) && p[j] != ']' {
		j++
	}
	if j >= len(p) {
		return false, 0, false
	}
	stuff := p[i:j]
	width = j + 1
	negate := false
	switch {
	case len(stuff) == 0:
		return false, width, true // never matches
	case len(stuff) == 1 && stuff[0] == '!':
		return true, width, true // any character
	case stuff[0] == '!':
		negate, stuff = true, stuff[1:]
	}
	in := false
	for k := 0; k < len(stuff); k++ {
		if k+2 < len(stuff) && stuff[k+1] == '-' {
			if stuff[k] <= c && c <= stuff[k+2] { // lo > hi: empty range
				in = true
			}
			k += 2
			continue
		}
		if stuff[k] == c {
			in = true
		}
	}
	return in != negate, width, true
}
