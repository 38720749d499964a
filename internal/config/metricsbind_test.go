package config

import (
	"errors"
	"strings"
	"testing"
)

func TestMetricsBind(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"127.0.0.1:9150", "127.0.0.1:9150"},
		{"localhost:9150", "localhost:9150"},
		{"[::1]:9150", "[::1]:9150"},
		{"0.0.0.0:9150", "0.0.0.0:9150"},
	} {
		c := mustParse(t, "[gaffer]\nmetrics_bind = "+tt.in+"\n")
		if c.Global.MetricsBind != tt.want {
			t.Errorf("metrics_bind = %s: got %q, want %q", tt.in, c.Global.MetricsBind, tt.want)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("metrics_bind = %s: warnings %v", tt.in, c.Warnings)
		}
	}
	if c := mustParse(t, "[gaffer]\nbind = 127.0.0.1:8000\n"); c.Global.MetricsBind != "" {
		t.Errorf("no metrics_bind: got %q, want none", c.Global.MetricsBind)
	}
}

func TestMetricsBindRejectsBadAddresses(t *testing.T) {
	for _, in := range []string{"", "127.0.0.1", "9150", "unix:/run/m.sock", "127.0.0.1:9150,127.0.0.1:9151",
		"127.0.0.1:99999", "::1:9150", "host:port"} {
		e := one(t, "[gaffer]\nmetrics_bind = "+in+"\n")
		if !errors.Is(e, ErrInvalidValue) || e.Key != "metrics_bind" || e.Line != 2 {
			t.Errorf("metrics_bind = %q: got %v (key %q line %d), want ErrInvalidValue at metrics_bind line 2", in, e, e.Key, e.Line)
		}
	}
}

func FuzzParseMetricsBind(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9150", "[::1]:9150", ":9150", "", "unix:/x", "a:b:c", "[::1", "h:-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := parseMetricsBind(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("%q: error %v does not wrap ErrInvalidValue", in, err)
			}
			return
		}
		// What is accepted is one normalised host:port, stable when read again.
		if strings.ContainsAny(a, ", \t/") {
			t.Fatalf("%q: accepted %q", in, a)
		}
		again, err := parseMetricsBind(a)
		if err != nil || again != a {
			t.Fatalf("%q → %q → %q, %v", in, a, again, err)
		}
	})
}
