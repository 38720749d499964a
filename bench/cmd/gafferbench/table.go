package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one line of the result table.
type row struct {
	id, label string
	unit      string // "ms", "s", "MB" or "" (count)
	have      [nSystems]bool
	v         [nSystems]float64
	err       [nSystems]string
	target    string                    // the goal for gafferd
	met       func(r *row) (bool, bool) // (met, decidable)
	used      bool
	// noBaseRatio: the baseline value is shown for scale only (the RSS of
	// an sh is no yardstick for a supervisor's), so no ratio to it.
	noBaseRatio bool
}

type table struct {
	rows  []*row
	notes []string
}

func newTable(b *bench) *table {
	t := &table{}
	add := func(id, label, unit, target string, met func(r *row) (bool, bool)) {
		t.rows = append(t.rows, &row{id: id, label: label, unit: unit, target: target, met: met})
	}
	ratioMax := func(limit float64) func(r *row) (bool, bool) {
		return func(r *row) (bool, bool) {
			q, ok := r.ratio(gafferd, baseline)
			return q <= limit, ok
		}
	}
	below := func(limit float64) func(r *row) (bool, bool) {
		return func(r *row) (bool, bool) { return r.v[gafferd] < limit, r.have[gafferd] }
	}
	zero := func(r *row) (bool, bool) { return r.v[gafferd] == 0, r.have[gafferd] }
	T := float64(b.stopTimeout)
	add("respawn.p50", "respawn after kill -9, median (ms)", "ms", "≤ 1.5× baseline (supervisord ~350×)", ratioMax(1.5))
	add("respawn.p90", "respawn after kill -9, p90 (ms)", "ms", "", nil)
	add("start", fmt.Sprintf("%d programs: config → all running (s)", b.n), "s", "< 1× baseline (supervisord ~6×)", ratioMax(0.999999))
	add("rss", fmt.Sprintf("daemon RSS with %d children (MB)", b.n), "MB", "< 30 MB (supervisord 44 MB)", below(30))
	t.rows[len(t.rows)-1].noBaseRatio = true
	add("shutdown", fmt.Sprintf("SIGTERM → exit with %d children (s)", b.n), "s", "", nil)
	add("idle.cpu", fmt.Sprintf("idle CPU over %v, %d children (ms)", b.idle, b.small), "ms", "0", zero)
	add("idle.ctxsw", fmt.Sprintf("idle context switches over %v, %d children", b.idle, b.small), "", "0", zero)
	add("list.small.p50", fmt.Sprintf("list everything, %d processes, p50 (ms)", b.small), "ms", "", nil)
	add("list.small.p99", fmt.Sprintf("list everything, %d processes, p99 (ms)", b.small), "ms", "< 1 ms", below(1))
	add("list.n.p50", fmt.Sprintf("list everything, %d processes, p50 (ms)", b.n), "ms", "", nil)
	add("list.n.p99", fmt.Sprintf("list everything, %d processes, p99 (ms)", b.n), "ms", "", nil)
	add("stop", fmt.Sprintf("stop %d TERM-ignoring children, timeout %d s (s)", b.stopN, b.stopTimeout), "s", fmt.Sprintf("≈ %d s (in parallel)", b.stopTimeout),
		func(r *row) (bool, bool) {
			v := r.v[gafferd]
			return v >= 0.95*T && v <= T+0.5, r.have[gafferd]
		})
	add("supstart.small", fmt.Sprintf("supervisord.conf, %d programs: start → all running (s)", b.small), "s", "< 1× baseline, as start (supervisord ~6×)", ratioMax(0.999999))
	add("supstart.n", fmt.Sprintf("supervisord.conf, %d programs: start → all running (s)", b.n), "s", "< 1× baseline, as start (supervisord ~6×)", ratioMax(0.999999))
	add("gapi.p50", fmt.Sprintf("XML-RPC getAllProcessInfo, %d processes, p50 (ms)", b.small), "ms", "", nil)
	add("gapi.p99", fmt.Sprintf("XML-RPC getAllProcessInfo, %d processes, p99 (ms)", b.small), "ms", "< 1 ms", below(1))
	add("logcap.time", fmt.Sprintf("logcapture %d MB: writer start → all in rotated logs, median (s)", b.logMB), "s", "", nil)
	add("logcap.bytes", fmt.Sprintf("logcapture %d MB: writer start → all bytes in the logs, reaped or not, median (s)", b.logMB), "s", "", nil)
	add("logcap.cpu", fmt.Sprintf("logcapture %d MB: daemon CPU for the run, median (baseline: cat) (s)", b.logMB), "s", "", nil)
	add("logcap.lost", fmt.Sprintf("logcapture: lines lost, %d runs", b.logReps), "", "0", zero)
	add("logcap.dup", fmt.Sprintf("logcapture: lines duplicated, %d runs", b.logReps), "", "0", zero)
	add("logcap.reordered", fmt.Sprintf("logcapture: lines out of order, %d runs", b.logReps), "", "0", zero)
	return t
}

func (t *table) row(id string) *row {
	for _, r := range t.rows {
		if r.id == id {
			return r
		}
	}
	panic("no row " + id)
}

func (t *table) set(id string, s system, v float64) {
	r := t.row(id)
	r.used, r.have[s], r.v[s] = true, true, v
}

func (t *table) fail(id string, s system, err error) {
	r := t.row(id)
	r.used = true
	r.err[s] = "ERR"
	t.note("%s, %v: %v", r.label, s, err)
}

func (t *table) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.notes = append(t.notes, msg)
	progress("note: %s", msg)
}

func (r *row) ratio(a, b system) (float64, bool) {
	if b == baseline && r.noBaseRatio {
		return 0, false
	}
	if !r.have[a] || !r.have[b] || r.v[b] == 0 {
		return 0, false
	}
	return r.v[a] / r.v[b], true
}

func (r *row) cell(s system) string {
	switch {
	case r.err[s] != "":
		return r.err[s]
	case !r.have[s]:
		return "–"
	}
	return formatValue(r.v[s], r.unit)
}

func formatValue(v float64, unit string) string {
	if unit == "" {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	a := math.Abs(v)
	prec := 3
	switch {
	case a == 0:
		prec = 0
	case a >= 100:
		prec = 0
	case a >= 10:
		prec = 1
	case a >= 1:
		prec = 2
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func (r *row) ratioCell(a, b system) string {
	q, ok := r.ratio(a, b)
	if !ok {
		return "–"
	}
	switch {
	case q >= 100:
		return fmt.Sprintf("%.0f×", q)
	case q >= 10:
		return fmt.Sprintf("%.1f×", q)
	case q >= 0.1:
		return fmt.Sprintf("%.2f×", q)
	}
	return strconv.FormatFloat(q, 'g', 2, 64) + "×"
}

func (t *table) print(w io.Writer) {
	fmt.Fprintln(w, "| scenario | baseline | gafferd | supervisord | gafferd/baseline | supervisord/baseline | gafferd/supervisord | goal for gafferd | met |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, r := range t.rows {
		if !r.used {
			continue
		}
		met := ""
		if r.met != nil {
			met = "n/a"
			if ok, decidable := r.met(r); decidable {
				met = map[bool]string{true: "yes", false: "**no**"}[ok]
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.label,
			r.cell(baseline), r.cell(gafferd), r.cell(supervisord),
			r.ratioCell(gafferd, baseline), r.ratioCell(supervisord, baseline), r.ratioCell(gafferd, supervisord),
			r.target, met)
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range t.notes {
			fmt.Fprintln(w, "- "+strings.ReplaceAll(n, "\n", "\n  "))
		}
	}
}

// percentile of sorted-in-place samples (nearest rank).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	i := int(math.Ceil(p/100*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func ms(d time.Duration) float64   { return float64(d) / float64(time.Millisecond) }
func secs(d time.Duration) float64 { return d.Seconds() }
