package stats

// JobStats are the aggregates of a job's process stats
// (gaffer-http-api.md §4.3). Its JSON keys are cpu, mem, max_cpu, min_cpu,
// max_mem and min_mem, so it can be embedded in the job stats response:
//
//	struct {
//		Name string `json:"name"`
//		stats.JobStats
//		Stats []stats.ProcessStat `json:"stats"`
//	}
type JobStats struct {
	CPU    Value `json:"cpu"`     // sum of the processes' cpu
	Mem    Value `json:"mem"`     // sum of the processes' mem
	MaxCPU Value `json:"max_cpu"` // largest cpu
	MinCPU Value `json:"min_cpu"` // smallest cpu
	MaxMem Value `json:"max_mem"` // largest mem
	MinMem Value `json:"min_mem"` // smallest mem
}

// Aggregate sums the cpu and mem of stats and finds their minima and maxima.
// The two families are independent: with no stats, or when any stat's value
// in a family is "N/A", that family's sum, max and min are all "N/A". Sums
// are rounded to one decimal.
func Aggregate(stats []Stat) JobStats {
	var j JobStats
	j.CPU, j.MaxCPU, j.MinCPU = family(stats, func(s Stat) Value { return s.CPU })
	j.Mem, j.MaxMem, j.MinMem = family(stats, func(s Stat) Value { return s.Mem })
	return j
}

func family(stats []Stat, get func(Stat) Value) (sum, hi, lo Value) {
	if len(stats) == 0 {
		return Value{}, Value{}, Value{}
	}
	var total float64
	for i, s := range stats {
		v := get(s)
		if !v.valid() {
			return Value{}, Value{}, Value{}
		}
		total += v.V
		if i == 0 || v.V > hi.V {
			hi = v
		}
		if i == 0 || v.V < lo.V {
			lo = v
		}
	}
	return Some(round1(total)), hi, lo
}
