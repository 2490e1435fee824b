// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Stages of a flow, in the order a flow runs them.
const (
	StageCreate = "create"
	StageGet    = "get"
	StageDelete = "delete"
)

// Stages lists the flow stages in report order.
var Stages = []string{StageCreate, StageGet, StageDelete}

// Outcomes of a request that got no HTTP answer. An answered request's
// outcome is its status code ("201", "503"), followed by " bad-body" or
// " wrong-data" when a 2xx answer did not hold the expected session.
const (
	OutcomeTimeout   = "timeout"    // no complete answer within the client deadline
	OutcomeConnError = "conn-error" // refused, reset or closed before an answer
	OutcomeCancelled = "cancelled"  // the run was interrupted
)

// Call is one request of a flow, a burst or a probe.
type Call struct {
	Stage        string        // StageCreate, StageGet, StageDelete, or a probe name
	Outcome      string        // status code as text, or one of the Outcome constants
	Status       int           // HTTP status, 0 without an answer
	Elapsed      time.Duration // from sending to the end of the answer, or to the error
	NoRetryAfter bool          // a 503 without a Retry-After header
	Missed       bool          // not sent: a probe tick that fell due while the probe before it was out; Elapsed runs from the tick to that answer
}

// Answered reports whether the call got an HTTP answer.
func (c Call) Answered() bool { return c.Status != 0 }

// Flow is one create -> GET -> DELETE sequence.
type Flow struct {
	Calls   []Call
	OK      bool          // create 2xx with a session, GET 200 with its data, DELETE 204
	Elapsed time.Duration // the whole flow
}

// Latency summarizes a set of durations.
type Latency struct {
	N   int
	P50 time.Duration
	P99 time.Duration
	Max time.Duration
}

// Percentile returns the q-quantile (0 < q <= 1) of sorted, an ascending
// slice, by the nearest-rank method: the smallest value with at least
// q*len(sorted) values at or below it. It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return sorted[0]
	}
	// The small epsilon keeps q*n that is an integer in theory (0.99*100)
	// from rounding up to the next rank in floating point.
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Summarize returns the count, p50, p99 and maximum of ds; ds is not
// changed.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return Latency{N: len(s), P50: Percentile(s, 0.50), P99: Percentile(s, 0.99), Max: s[len(s)-1]}
}

// StageStats is what the requests of one stage came to.
type StageStats struct {
	Stage        string
	Outcomes     map[string]int // outcome -> count
	Latency      Latency        // of every request answered or timed out (not the cancelled), and of missed probe ticks
	NoRetryAfter int            // 503 answers without Retry-After
	Missed       int            // probe ticks timed from the tick to a late answer (in Latency, not in Outcomes)
	durations    []time.Duration
}

// Count returns how many requests the stage sent.
func (s *StageStats) Count() int {
	if s == nil {
		return 0
	}
	n := 0
	for _, c := range s.Outcomes {
		n += c
	}
	return n
}

// Good returns how many answers were 2xx with the expected content.
func (s *StageStats) Good() int {
	if s == nil {
		return 0
	}
	n := 0
	for o, c := range s.Outcomes {
		if code, err := strconv.Atoi(o); err == nil && code >= 200 && code < 300 {
			n += c
		}
	}
	return n
}

// Timeouts returns how many requests got no answer within the deadline.
func (s *StageStats) Timeouts() int {
	if s == nil {
		return 0
	}
	return s.Outcomes[OutcomeTimeout]
}

// Summary is the aggregate of a run's flows.
type Summary struct {
	Flows   int
	FlowsOK int
	Stages  map[string]*StageStats // by stage name; only stages that ran
	All     Latency                // every request of every stage
	Flow    Latency                // whole flows
}

// Stage returns the stats of one stage, nil when it never ran.
func (s *Summary) Stage(name string) *StageStats {
	if s == nil || s.Stages == nil {
		return nil
	}
	return s.Stages[name]
}

// FlowsOKPct returns the share of flows that were fully ok, in percent
// (0 when there were none).
func (s *Summary) FlowsOKPct() float64 { return pct(s.FlowsOK, s.Flows) }

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// AggregateCalls groups calls by stage.
func AggregateCalls(calls []Call) map[string]*StageStats {
	out := map[string]*StageStats{}
	for _, c := range calls {
		st := out[c.Stage]
		if st == nil {
			st = &StageStats{Stage: c.Stage, Outcomes: map[string]int{}}
			out[c.Stage] = st
		}
		if c.Missed {
			st.Missed++
			st.durations = append(st.durations, c.Elapsed)
			continue
		}
		st.Outcomes[c.Outcome]++
		if c.Outcome != OutcomeCancelled {
			st.durations = append(st.durations, c.Elapsed)
		}
		if c.NoRetryAfter {
			st.NoRetryAfter++
		}
	}
	for _, st := range out {
		st.Latency = Summarize(st.durations)
	}
	return out
}

// Aggregate sums up flows: outcomes and latencies per stage and over all
// requests, the latency of whole flows, and how many were fully ok.
// Requests cut short by an interrupt count as outcomes but not in the
// latencies, nor do the flows they belong to.
func Aggregate(flows []Flow) *Summary {
	s := &Summary{Flows: len(flows)}
	var calls []Call
	var all, whole []time.Duration
	for _, f := range flows {
		if f.OK {
			s.FlowsOK++
		}
		cut := false
		for _, c := range f.Calls {
			calls = append(calls, c)
			if c.Outcome == OutcomeCancelled {
				cut = true
				continue
			}
			all = append(all, c.Elapsed)
		}
		if !cut {
			whole = append(whole, f.Elapsed)
		}
	}
	s.Stages = AggregateCalls(calls)
	s.All = Summarize(all)
	s.Flow = Summarize(whole)
	return s
}

// SortedOutcomes returns the outcomes of a stage in report order: answers
// by status code, then timeouts, connection errors and cancellations.
func SortedOutcomes(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case OutcomeTimeout:
			return 1
		case OutcomeConnError:
			return 2
		case OutcomeCancelled:
			return 3
		}
		return 0
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}
