package web

import (
	"strconv"
	"strings"
)

// PrefersHTML reports whether an Accept header value (RFC 9110 §12.5.1)
// ranks text/html strictly above application/json: a browser navigating
// to the page ("text/html,...,*/*;q=0.8") does, curl ("*/*"), gaffer's
// clients ("application/json") and a request without Accept do not. Each
// type takes the quality of the most specific range that matches it;
// ranges with a malformed quality are ignored.
func PrefersHTML(accept string) bool {
	html := quality(accept, "text", "html")
	return html > 0 && html > quality(accept, "application", "json")
}

// quality is the q value accept gives to typ/sub, in thousandths; 0 when
// no range matches.
func quality(accept, typ, sub string) int {
	best, bestSpec := 0, 0
	for r := range strings.SplitSeq(accept, ",") {
		mediaRange, params, _ := strings.Cut(r, ";")
		t, s, ok := strings.Cut(strings.TrimSpace(mediaRange), "/")
		if !ok {
			continue
		}
		t, s = strings.TrimSpace(t), strings.TrimSpace(s)
		spec := 0
		switch {
		case strings.EqualFold(t, typ) && strings.EqualFold(s, sub):
			spec = 3
		case strings.EqualFold(t, typ) && s == "*":
			spec = 2
		case t == "*" && s == "*":
			spec = 1
		default:
			continue
		}
		q, ok := qValue(params)
		if !ok || spec < bestSpec {
			continue
		}
		if spec > bestSpec {
			best, bestSpec = q, spec
		} else {
			best = max(best, q) // the same range twice: the higher wins
		}
	}
	return best
}

// qValue reads the "q" parameter of a media range's parameters, in
// thousandths (1000 when absent). Valid values are 0 to 1 with at most
// three decimals.
func qValue(params string) (int, bool) {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		whole, frac, _ := strings.Cut(v, ".")
		if (whole != "0" && whole != "1") || len(frac) > 3 {
			return 0, false
		}
		n := 0
		if frac != "" {
			f, err := strconv.Atoi(frac)
			if err != nil || f < 0 || strings.ContainsAny(frac, "+-") {
				return 0, false
			}
			n = f * [...]int{1, 100, 10, 1}[len(frac)]
		}
		if whole == "1" {
			if n != 0 {
				return 0, false
			}
			return 1000, true
		}
		return n, true
	}
	return 1000, true
}
