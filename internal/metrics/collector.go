package metrics

import (
	"strconv"

	"github.com/gafferhq/gaffer/supervisor"
	"github.com/prometheus/client_golang/prometheus"
)

// engine is the collector of the supervisor's state: everything it reports
// is read at scrape time, in one Census and one /proc read per live pid.
type engine Metrics

var (
	procLabels = []string{"session", "job", "pid"}
	jobLabels  = []string{"session", "job"}

	descProcState = prometheus.NewDesc("gaffer_process_state",
		"1 for each unreaped process, with its state: the supervisor program's state, or RUNNING or STOPPING for a gaffer job's process.",
		[]string{"session", "job", "pid", "os_pid", "state"}, nil)
	descProcStart = prometheus.NewDesc("gaffer_process_start_time_seconds",
		"When the process was spawned, in seconds since the Unix epoch.", procLabels, nil)
	descProcCPU = prometheus.NewDesc("gaffer_process_cpu_seconds_total",
		"User and system CPU time the process used, in seconds (10 ms resolution).", procLabels, nil)
	descProcRSS = prometheus.NewDesc("gaffer_process_resident_memory_bytes",
		"Resident memory size of the process.", procLabels, nil)
	descProcVMS = prometheus.NewDesc("gaffer_process_virtual_memory_bytes",
		"Virtual memory size of the process.", procLabels, nil)

	descJobProcs = prometheus.NewDesc("gaffer_job_processes",
		"Live processes of the job, committed (one-off) ones included.", jobLabels, nil)
	descJobDesired = prometheus.NewDesc("gaffer_job_desired_processes",
		"The number of supervised processes the job should have (its target; 0 when stopped).", jobLabels, nil)
	descProgState = prometheus.NewDesc("gaffer_program_state",
		"1 for each supervisor program, with its state (STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL).",
		[]string{"session", "job", "state"}, nil)
	descJobSpawns = prometheus.NewDesc("gaffer_job_spawns_total",
		"Processes of the job started (fork/exec succeeded).", jobLabels, nil)
	descJobRestarts = prometheus.NewDesc("gaffer_job_restarts_total",
		"Processes of the job started after one of its processes exited, each exit matched with the next spawn: a crash or exit restarted, a stop then a start, a process replaced.", jobLabels, nil)
	descJobExits = prometheus.NewDesc("gaffer_job_exits_total",
		"Processes of the job reaped, by exit status (128+signal when a signal ended them).",
		[]string{"session", "job", "code"}, nil)
	descLogBytes = prometheus.NewDesc("gaffer_log_bytes_written_total",
		"Bytes written to the log file of an output stream since the file was opened; streams sharing a file share its count.",
		[]string{"session", "job", "stream"}, nil)

	descPublished = prometheus.NewDesc("gaffer_events_published_total",
		"Events published on a bus: events (state changes, spawns, exits…) or output (process output chunks).",
		[]string{"bus"}, nil)
	descDropped = prometheus.NewDesc("gaffer_events_dropped_total",
		"Events lost because a subscriber's queue was full.", []string{"bus"}, nil)
	descCensus = prometheus.NewDesc("gaffer_engine_readable",
		"Reading the engine's state.", nil, nil)
)

func (e *engine) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProcState, descProcStart, descProcCPU, descProcRSS, descProcVMS,
		descJobProcs, descJobDesired, descProgState, descJobSpawns, descJobRestarts, descJobExits, descLogBytes,
		descPublished, descDropped, descCensus} {
		ch <- d
	}
}

// jobValues is a copy of one job's counters, taken under Metrics.mu.
type jobValues struct {
	spawns, restarts uint64
	codes            []int // exit statuses, as many as counts
	counts           []uint64
}

func (e *engine) Collect(ch chan<- prometheus.Metric) {
	m := (*Metrics)(e)
	src := m.src.Load()
	if src == nil {
		return
	}
	m.mu.Lock()
	before := m.seq
	m.mu.Unlock()
	c, err := src.census()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descPublished, c.Events.Published, "events")
	counter(descDropped, c.Events.Dropped, "events")
	counter(descPublished, c.Output.Published, "output")
	counter(descDropped, c.Output.Dropped, "output")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descCensus, err)
		return
	}

	vals := m.snapshotCounters(c.Jobs, before)
	for i := range c.Jobs {
		j := &c.Jobs[i]
		gauge(descJobProcs, float64(j.Running), j.Session, j.Name)
		gauge(descJobDesired, float64(j.Desired), j.Session, j.Name)
		if j.Program {
			gauge(descProgState, 1, j.Session, j.Name, j.State.String())
		}
		v := &vals[i]
		counter(descJobSpawns, v.spawns, j.Session, j.Name)
		counter(descJobRestarts, v.restarts, j.Session, j.Name)
		for k, code := range v.codes {
			counter(descJobExits, v.counts[k], j.Session, j.Name, strconv.Itoa(code))
		}
		for _, l := range j.Logs {
			counter(descLogBytes, l.Bytes, j.Session, j.Name, l.Label)
		}
	}

	for i := range c.Processes {
		p := &c.Processes[i]
		pid := strconv.Itoa(p.Pid)
		gauge(descProcState, 1, p.Session, p.Job, pid, strconv.Itoa(p.OSPid), p.State.String())
		gauge(descProcStart, float64(p.Started.UnixNano())/1e9, p.Session, p.Job, pid)
		st, err := src.sampler.Sample(p.OSPid)
		if err != nil || !st.CPU.OK {
			continue // reaped since the census, or /proc refuses to show it
		}
		ch <- prometheus.MustNewConstMetric(descProcCPU, prometheus.CounterValue, st.CPUSeconds, p.Session, p.Job, pid)
		gauge(descProcRSS, float64(st.RSS), p.Session, p.Job, pid)
		gauge(descProcVMS, float64(st.VSize), p.Session, p.Job, pid)
	}
}

// snapshotCounters copies the counters of the census's jobs, in its order,
// and drops those of unloaded jobs. before is Metrics.seq read before the
// census was taken: counters not updated since then, of a job the census
// does not list, belong to a job unloaded before the census (a job loaded
// again starts from zero, which Prometheus reads as a counter reset).
// Counters updated since may be a job loaded after the census: kept.
func (m *Metrics) snapshotCounters(jobs []supervisor.JobCensus, before uint64) []jobValues {
	vals := make([]jobValues, len(jobs))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	for i := range jobs {
		j := &jobs[i]
		c := m.jobs[j.Name]
		if c == nil {
			continue
		}
		c.gen = m.gen
		v := &vals[i]
		v.spawns, v.restarts = c.spawns, c.restarts
		if len(c.exits) > 0 {
			v.codes = make([]int, 0, len(c.exits))
			v.counts = make([]uint64, 0, len(c.exits))
			for code, n := range c.exits {
				v.codes = append(v.codes, code)
				v.counts = append(v.counts, n)
			}
		}
	}
	for name, c := range m.jobs {
		if c.gen != m.gen && c.seq <= before {
			delete(m.jobs, name)
		}
	}
	return vals
}
