package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// NA is the marker gaffer uses for a value that is not available.
const NA = "N/A"

// Value is a float that marshals as a JSON number, or as the string "N/A"
// when not available (OK is false). The zero Value is "N/A".
type Value struct {
	V  float64
	OK bool
}

// Some returns an available Value.
func Some(v float64) Value { return Value{V: v, OK: true} }

// String returns the value as it would appear in JSON, without quotes.
func (v Value) String() string {
	if !v.valid() {
		return NA
	}
	return formatFloat(v.V)
}

func (v Value) valid() bool {
	return v.OK && !math.IsNaN(v.V) && !math.IsInf(v.V, 0)
}

// MarshalJSON encodes an available value as a number that always carries a
// decimal point (0 is "0.0"), and an unavailable one, or NaN/±Inf which JSON
// cannot carry, as "N/A".
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.valid() {
		return []byte(`"` + NA + `"`), nil
	}
	return []byte(formatFloat(v.V)), nil
}

// UnmarshalJSON accepts a number, the string "N/A" or null (both give an
// unavailable Value).
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null" || string(b) == `"`+NA+`"`:
		*v = Value{}
		return nil
	case len(b) > 0 && b[0] == '"':
		return fmt.Errorf("stats: value must be a number or %q, got %s", NA, b)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("stats: value must be a number or %q, got %s", NA, b)
	}
	*v = Some(f)
	return nil
}

func formatFloat(f float64) string {
	if f == 0 {
		f = 0 // no "-0"
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// round1 rounds to one decimal.
func round1(f float64) float64 { return math.Round(f*10) / 10 }

// Stat is one sample of one process, shaped as gaffer reports it
// (gaffer-events.md §7). A Stat whose process refused access has every
// reported field "N/A" and zero raw fields.
type Stat struct {
	// CPU is the percentage of one CPU used since the previous sample of
	// the same process by the same Sampler, rounded to one decimal; 0 on
	// the first sample. It may exceed 100 on several cores.
	CPU Value
	// Mem is the resident set size as a percentage of physical RAM,
	// rounded to one decimal.
	Mem Value
	// MemInfo1 is the resident set size in human form (see HumanSize), or
	// "N/A".
	MemInfo1 string
	// MemInfo2 is the virtual memory size in human form, or "N/A".
	MemInfo2 string
	// CTime is the total user+system CPU time as "M:SS.hh" (minutes do not
	// wrap at 60), or "N/A".
	CTime string

	// RSS is the resident set size in bytes.
	RSS uint64
	// VSize is the virtual memory size in bytes.
	VSize uint64
	// CPUSeconds is the total user+system CPU time in seconds.
	CPUSeconds float64
	// Age is the time since the process started.
	Age time.Duration
	// Started is the wall-clock start time of the process (the boot time
	// plus the start time in /proc/<pid>/stat); zero when not available.
	// It is what gaffer reports as create_time.
	Started time.Time
}

// naStat is what a process that refuses access yields.
func naStat() Stat {
	return Stat{MemInfo1: NA, MemInfo2: NA, CTime: NA}
}

// statJSON is the wire shape of Stat.
type statJSON struct {
	CPU      Value  `json:"cpu"`
	Mem      Value  `json:"mem"`
	MemInfo1 string `json:"mem_info1"`
	MemInfo2 string `json:"mem_info2"`
	CTime    string `json:"ctime"`
}

func orNA(s string) string {
	if s == "" {
		return NA
	}
	return s
}

func (s Stat) wire() statJSON {
	return statJSON{CPU: s.CPU, Mem: s.Mem, MemInfo1: orNA(s.MemInfo1), MemInfo2: orNA(s.MemInfo2), CTime: orNA(s.CTime)}
}

// MarshalJSON encodes the §7 fields only, in this order:
//
//	{"cpu":0.0,"mem":0.2,"mem_info1":"5M","mem_info2":"28M","ctime":"0:00.30"}
//
// Raw fields are not encoded. Empty strings encode as "N/A", so the zero
// Stat is all "N/A".
//
// Because Stat has a MarshalJSON method, embedding it in another struct
// would make that struct marshal as a bare Stat; use ProcessStat to add
// pid and os_pid.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.wire())
}

// UnmarshalJSON decodes the fields MarshalJSON writes; raw fields are left
// zero.
func (s *Stat) UnmarshalJSON(b []byte) error {
	var w statJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Stat{CPU: w.CPU, Mem: w.Mem, MemInfo1: w.MemInfo1, MemInfo2: w.MemInfo2, CTime: w.CTime}
	return nil
}

// ProcessStat is a Stat labelled with gaffer's internal pid and the OS pid,
// the shape of stream messages and of job stats entries:
//
//	{"pid":1,"os_pid":26089,"cpu":0.0,"mem":0.2,"mem_info1":"5M","mem_info2":"28M","ctime":"0:00.30"}
type ProcessStat struct {
	PID   int // gaffer's internal pid
	OSPID int // operating system pid
	Stat
}

type processStatJSON struct {
	PID   int `json:"pid"`
	OSPID int `json:"os_pid"`
	statJSON
}

// MarshalJSON encodes pid and os_pid followed by the Stat fields.
func (p ProcessStat) MarshalJSON() ([]byte, error) {
	return json.Marshal(processStatJSON{PID: p.PID, OSPID: p.OSPID, statJSON: p.Stat.wire()})
}

// UnmarshalJSON decodes what MarshalJSON writes.
func (p *ProcessStat) UnmarshalJSON(b []byte) error {
	var w processStatJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = ProcessStat{PID: w.PID, OSPID: w.OSPID, Stat: Stat{
		CPU: w.CPU, Mem: w.Mem, MemInfo1: w.MemInfo1, MemInfo2: w.MemInfo2, CTime: w.CTime,
	}}
	return nil
}

// HumanSize formats a byte count with K=1024, M=1024², … up to Y: the
// largest unit u with bytes ≥ u, printed as the integer part of bytes/u plus
// the letter ("5M", "28M", "1G"); below 1024 it prints "<n>B".
// A uint64 never reaches Z or Y, but they are part of the scale.
func HumanSize(bytes uint64) string {
	const units = "KMGTPEZY"
	if bytes < 1024 {
		return strconv.FormatUint(bytes, 10) + "B"
	}
	// Largest i with bytes >= 1024^(i+1); uint64 stops at E (i = 5).
	i, div := 0, uint64(1024)
	for i+1 < len(units) && div <= math.MaxUint64/1024 && bytes >= div*1024 {
		div *= 1024
		i++
	}
	return strconv.FormatUint(bytes/div, 10) + units[i:i+1]
}

// formatCTime formats a CPU time given in hundredths of a second as
// "M:SS.hh". Minutes do not wrap.
func formatCTime(hundredths uint64) string {
	secs := hundredths / 100
	return fmt.Sprintf("%d:%02d.%02d", secs/60, secs%60, hundredths%100)
}
