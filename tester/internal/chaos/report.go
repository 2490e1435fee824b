// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Header describes the run for the report.
type Header struct {
	URL     string
	Timeout time.Duration
	Sample  time.Duration
	Probe   time.Duration
	Rows    int  // most timeline rows
	Quiet   bool // no timeline rows
}

func msf(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

func msi(d time.Duration) string { return fmt.Sprintf("%d", d.Milliseconds()) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// FlowsPerSecond returns the flows that ran per second of wall time.
func (r *Result) FlowsPerSecond() float64 {
	if r.Wall <= 0 || r.Summary == nil {
		return 0
	}
	return float64(r.Summary.Flows) / r.Wall.Seconds()
}

func outcomeList(m map[string]int) string {
	var parts []string
	for _, o := range SortedOutcomes(m) {
		parts = append(parts, fmt.Sprintf("%s x%d", o, m[o]))
	}
	return strings.Join(parts, ", ")
}

// WriteText writes the human-readable report: outcomes, latencies, flows,
// probes, the pool timeline, the burst, then one line per check and the
// closing "N passed, N failed".
func WriteText(w io.Writer, h Header, r *Result, checks []Check) {
	sum := r.Summary
	if sum == nil {
		sum = &Summary{}
	}
	what := fmt.Sprintf("%d flows, %d parallel", r.Flows, r.Parallel)
	if r.Mode == "burst" {
		what = fmt.Sprintf("burst of %d creates at once", r.Flows)
	}
	fmt.Fprintf(w, "steel-chaos: %s against %s, client deadline %s\n", what, h.URL, ms(h.Timeout))
	if r.Interrupted {
		fmt.Fprintf(w, "INTERRUPTED after %d of %d flows\n", sum.Flows, r.Flows)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "OUTCOMES")
	fmt.Fprintf(w, "  %-8s %-16s %7s\n", "stage", "answer", "count")
	for _, stage := range Stages {
		st := sum.Stage(stage)
		if st == nil {
			continue
		}
		for _, o := range SortedOutcomes(st.Outcomes) {
			fmt.Fprintf(w, "  %-8s %-16s %7d\n", stage, o, st.Outcomes[o])
		}
	}
	for _, stage := range Stages {
		if st := sum.Stage(stage); st != nil && st.NoRetryAfter > 0 {
			fmt.Fprintf(w, "  note: %d %s 503 answers had no Retry-After\n", st.NoRetryAfter, stage)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "LATENCY (ms; a request without an answer counts until it gave up)")
	fmt.Fprintf(w, "  %-14s %7s %7s %7s %7s\n", "", "n", "p50", "p99", "max")
	row := func(name string, l Latency) {
		fmt.Fprintf(w, "  %-14s %7d %7s %7s %7s\n", name, l.N, msi(l.P50), msi(l.P99), msi(l.Max))
	}
	for _, stage := range Stages {
		if st := sum.Stage(stage); st != nil {
			row(stage, st.Latency)
		}
	}
	row("all requests", sum.All)
	row("whole flow", sum.Flow)

	fmt.Fprintln(w)
	fmt.Fprintf(w, "FLOWS %d of %d fully ok (%.1f%%); wall time %.1f s, %.1f flows/s\n",
		sum.FlowsOK, sum.Flows, sum.FlowsOKPct(), r.Wall.Seconds(), r.FlowsPerSecond())

	if r.Probes != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "PROBES (one every %s while the load ran; ms; n counts the ticks, missed = ticks that fell\n", ms(h.Probe))
		fmt.Fprintln(w, "  due while the probe before was out, timed from their tick to its answer)")
		fmt.Fprintf(w, "  %-12s %7s %7s %7s %7s %7s  %s\n", "probe", "n", "missed", "p50", "p99", "max", "answers")
		for _, name := range ProbeNames {
			st := r.Probes[name]
			if st == nil {
				fmt.Fprintf(w, "  %-12s %7d %7d %7s %7s %7s  %s\n", name, 0, 0, "-", "-", "-", "-")
				continue
			}
			l := st.Latency
			fmt.Fprintf(w, "  %-12s %7d %7d %7s %7s %7s  %s\n", name, l.N, st.Missed, msi(l.P50), msi(l.P99), msi(l.Max), outcomeList(st.Outcomes))
		}
		if r.Replaced > 0 {
			fmt.Fprintf(w, "  the probed session was lost and created again %d time(s)\n", r.Replaced)
		}
		for _, n := range r.ProbeNotes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}

	fmt.Fprintln(w)
	writeTimeline(w, h, r)

	if b := r.Burst; b != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "BURST")
		fmt.Fprintf(w, "  %d creates at once: %d answered 2xx with a session\n", b.Creates, b.Created)
		if b.WorkersErr != "" {
			fmt.Fprintf(w, "  GET /workers: %s\n", b.WorkersErr)
		} else if b.Created > 0 {
			fmt.Fprintf(w, "  GET /workers: %d sessions listed, on %d distinct workers; %d not listed; %d on more than one worker\n",
				b.Listed, b.Distinct, b.Created-b.Listed, b.Doubled)
		}
		if b.WrongData > 0 {
			fmt.Fprintf(w, "  %d GETs answered 200 with another session or other data\n", b.WrongData)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "ASSERTIONS")
	for _, c := range checks {
		verdict := "ok"
		if !c.OK {
			verdict = "not ok"
		}
		line := verdict + " - " + c.Name
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		fmt.Fprintln(w, line)
	}
	p, f := Tally(checks)
	fmt.Fprintf(w, "%d passed, %d failed\n", p, f)
}

func writeTimeline(w io.Writer, h Header, r *Result) {
	deg, n := EverDegraded(r.Samples)
	rows := TimelineRows(r.Samples, h.Rows)
	fmt.Fprintf(w, "POOL (GET /status every %s: %d readings of %d tries", ms(h.Sample), n, len(r.Samples))
	if r.StatusLat.N > 0 {
		fmt.Fprintf(w, "; GET /status p50 %s, p99 %s, max %s", ms(r.StatusLat.P50), ms(r.StatusLat.P99), ms(r.StatusLat.Max))
	}
	fmt.Fprintln(w, ")")
	if !h.Quiet && len(rows) > 0 {
		fmt.Fprintf(w, "  %d rows: the changes", len(rows))
		if len(rows) < countChanges(r.Samples) {
			fmt.Fprint(w, ", thinned")
		}
		fmt.Fprintln(w, " (crt = creating, rel = releasing, wait = waiting creates)")
		const f = "  %7s %5s %5s %4s %4s %5s %5s %5s %5s  %s\n"
		fmt.Fprintf(w, f, "t(s)", "idle", "busy", "crt", "rel", "start", "dead", "wait", "sess", "degraded")
		for _, i := range rows {
			s := r.Samples[i]
			at := fmt.Sprintf("%.1f", s.At.Seconds())
			if s.Err != "" {
				fmt.Fprintf(w, "  %7s  no reading: %s\n", at, s.Err)
				continue
			}
			n := func(v int) string { return fmt.Sprint(v) }
			fmt.Fprintf(w, f, at, n(s.Worker("idle")), n(s.Worker("busy")), n(s.Worker("creating")),
				n(s.Worker("releasing")), n(s.Worker("starting")), n(s.Worker("dead")), n(s.Waiting),
				n(s.Sessions), yesNo(s.Degraded))
		}
	}
	tr := Transitions(r.Samples)
	switch {
	case len(tr) == 0 && deg:
		fmt.Fprintln(w, "  degraded transitions: none (degraded throughout)")
	case len(tr) == 0:
		fmt.Fprintln(w, "  degraded transitions: none")
	default:
		fmt.Fprintln(w, "  degraded transitions:")
		for _, t := range tr {
			to := "ok -> degraded"
			if !t.Degraded {
				to = "degraded -> ok"
			}
			fmt.Fprintf(w, "    %6.1f s  %s", t.At.Seconds(), to)
			if t.Why != "" {
				fmt.Fprintf(w, " (%s)", t.Why)
			}
			fmt.Fprintln(w)
		}
	}
}

func countChanges(samples []Sample) int { return len(TimelineRows(samples, 0)) }

// JSON shapes of the report.
type jsonLatency struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func toJSONLatency(l Latency) jsonLatency {
	return jsonLatency{N: l.N, P50Ms: msf(l.P50), P99Ms: msf(l.P99), MaxMs: msf(l.Max)}
}

type jsonSample struct {
	AtS       float64              `json:"t_s"`
	ElapsedMs float64              `json:"elapsed_ms"`
	Error     string               `json:"error,omitempty"`
	Workers   map[string]int       `json:"workers,omitempty"`
	Waiting   int                  `json:"waiting_creates"`
	Sessions  int                  `json:"sessions"`
	Degraded  bool                 `json:"degraded"`
	Nodes     map[string]NodeState `json:"nodes,omitempty"`
}

type jsonTransition struct {
	AtS      float64 `json:"t_s"`
	Degraded bool    `json:"degraded"`
	Why      string  `json:"why,omitempty"`
}

type jsonProbe struct {
	Latency  jsonLatency    `json:"latency"`
	Missed   int            `json:"missed_ticks"`
	Outcomes map[string]int `json:"outcomes"`
}

type jsonBurst struct {
	Creates    int    `json:"creates"`
	Created    int    `json:"created"`
	Listed     int    `json:"listed"`
	Distinct   int    `json:"distinct_workers"`
	Doubled    int    `json:"on_several_workers"`
	WrongData  int    `json:"wrong_data"`
	WorkersErr string `json:"workers_error,omitempty"`
}

type jsonCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

type jsonReport struct {
	URL                 string                    `json:"url"`
	Mode                string                    `json:"mode"`
	Flows               int                       `json:"flows"`
	Parallel            int                       `json:"parallel"`
	TimeoutMs           int64                     `json:"timeout_ms"`
	Interrupted         bool                      `json:"interrupted"`
	WallS               float64                   `json:"wall_s"`
	FlowsPerS           float64                   `json:"flows_per_s"`
	FlowsRun            int                       `json:"flows_run"`
	FlowsOK             int                       `json:"flows_ok"`
	FlowsOKPct          float64                   `json:"flows_ok_pct"`
	Outcomes            map[string]map[string]int `json:"outcomes"`
	NoRetryAfter        map[string]int            `json:"503_without_retry_after"`
	Latency             map[string]jsonLatency    `json:"latency"`
	StatusLatency       jsonLatency               `json:"status_latency"`
	Timeline            []jsonSample              `json:"timeline"`
	DegradedTransitions []jsonTransition          `json:"degraded_transitions"`
	Probes              map[string]jsonProbe      `json:"probes,omitempty"`
	ProbeReplaced       int                       `json:"probe_session_replaced,omitempty"`
	ProbeNotes          []string                  `json:"probe_notes,omitempty"`
	Burst               *jsonBurst                `json:"burst,omitempty"`
	Checks              []jsonCheck               `json:"checks"`
	Passed              int                       `json:"passed"`
	Failed              int                       `json:"failed"`
}

// WriteJSON writes the same figures as WriteText as one JSON object.
func WriteJSON(w io.Writer, h Header, r *Result, checks []Check) error {
	sum := r.Summary
	if sum == nil {
		sum = &Summary{}
	}
	j := jsonReport{
		URL: h.URL, Mode: r.Mode, Flows: r.Flows, Parallel: r.Parallel,
		TimeoutMs: h.Timeout.Milliseconds(), Interrupted: r.Interrupted,
		WallS: math.Round(r.Wall.Seconds()*1000) / 1000, FlowsPerS: math.Round(r.FlowsPerSecond()*100) / 100,
		FlowsRun: sum.Flows, FlowsOK: sum.FlowsOK, FlowsOKPct: math.Round(sum.FlowsOKPct()*10) / 10,
		Outcomes: map[string]map[string]int{}, NoRetryAfter: map[string]int{},
		Latency:             map[string]jsonLatency{},
		StatusLatency:       toJSONLatency(r.StatusLat),
		Timeline:            []jsonSample{},
		DegradedTransitions: []jsonTransition{},
		ProbeReplaced:       r.Replaced, ProbeNotes: r.ProbeNotes,
		Checks: []jsonCheck{},
	}
	for _, stage := range Stages {
		st := sum.Stage(stage)
		if st == nil {
			continue
		}
		j.Outcomes[stage] = st.Outcomes
		j.NoRetryAfter[stage] = st.NoRetryAfter
		j.Latency[stage] = toJSONLatency(st.Latency)
	}
	j.Latency["all"] = toJSONLatency(sum.All)
	j.Latency["flow"] = toJSONLatency(sum.Flow)
	for _, s := range r.Samples {
		j.Timeline = append(j.Timeline, jsonSample{
			AtS: math.Round(s.At.Seconds()*1000) / 1000, ElapsedMs: msf(s.Elapsed), Error: s.Err,
			Workers: s.Workers, Waiting: s.Waiting, Sessions: s.Sessions, Degraded: s.Degraded, Nodes: s.Nodes,
		})
	}
	for _, t := range Transitions(r.Samples) {
		j.DegradedTransitions = append(j.DegradedTransitions, jsonTransition{
			AtS: math.Round(t.At.Seconds()*1000) / 1000, Degraded: t.Degraded, Why: t.Why})
	}
	if r.Probes != nil {
		j.Probes = map[string]jsonProbe{}
		for _, name := range ProbeNames {
			st := r.Probes[name]
			if st == nil {
				j.Probes[name] = jsonProbe{Outcomes: map[string]int{}}
				continue
			}
			j.Probes[name] = jsonProbe{Latency: toJSONLatency(st.Latency), Missed: st.Missed, Outcomes: st.Outcomes}
		}
	}
	if b := r.Burst; b != nil {
		j.Burst = &jsonBurst{Creates: b.Creates, Created: b.Created, Listed: b.Listed, Distinct: b.Distinct,
			Doubled: b.Doubled, WrongData: b.WrongData, WorkersErr: b.WorkersErr}
	}
	for _, c := range checks {
		j.Checks = append(j.Checks, jsonCheck{Name: c.Name, OK: c.OK, Detail: c.Detail})
	}
	j.Passed, j.Failed = Tally(checks)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
