// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"reflect"
	"testing"
	"time"
)

func msList(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

func seq(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value p50", msList(7), 0.5, 7 * time.Millisecond},
		{"one value p99", msList(7), 0.99, 7 * time.Millisecond},
		{"two values p50 is the lower", msList(1, 2), 0.5, 1 * time.Millisecond},
		{"two values p99 is the upper", msList(1, 2), 0.99, 2 * time.Millisecond},
		{"1..100 p50", seq(100), 0.5, 50 * time.Millisecond},
		{"1..100 p99", seq(100), 0.99, 99 * time.Millisecond},
		{"1..100 p100", seq(100), 1, 100 * time.Millisecond},
		{"1..1000 p99", seq(1000), 0.99, 990 * time.Millisecond},
		{"1..10 p99 is the max", seq(10), 0.99, 10 * time.Millisecond},
		{"1..200 p50", seq(200), 0.5, 100 * time.Millisecond},
		{"q 0 is the min", seq(10), 0, 1 * time.Millisecond},
		{"q above 1 is the max", seq(10), 1.5, 10 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("Percentile(q=%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"empty", nil, Latency{}},
		{"unsorted input", msList(30, 10, 20), Latency{N: 3, P50: 20 * time.Millisecond, P99: 30 * time.Millisecond, Max: 30 * time.Millisecond}},
		{"one outlier in 100", append(msList(5000), msList(make100(10)...)[1:]...), Latency{N: 100, P50: 10 * time.Millisecond, P99: 10 * time.Millisecond, Max: 5000 * time.Millisecond}},
		{"two outliers in 100 reach p99", append(msList(5000, 4000), msList(make100(10)...)[2:]...), Latency{N: 100, P50: 10 * time.Millisecond, P99: 4000 * time.Millisecond, Max: 5000 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]time.Duration(nil), tc.in...)
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(before, tc.in) {
				t.Errorf("Summarize changed its input")
			}
		})
	}
}

// make100 returns 100 copies of v.
func make100(v int) []int {
	out := make([]int, 100)
	for i := range out {
		out[i] = v
	}
	return out
}

func call(stage, outcome string, status, ms int) Call {
	return Call{Stage: stage, Outcome: outcome, Status: status, Elapsed: time.Duration(ms) * time.Millisecond}
}

func okFlow(create, get, del int) Flow {
	return Flow{OK: true, Elapsed: time.Duration(create+get+del) * time.Millisecond, Calls: []Call{
		call(StageCreate, "201", 201, create), call(StageGet, "200", 200, get), call(StageDelete, "204", 204, del)}}
}

func TestAggregate(t *testing.T) {
	flows := []Flow{
		okFlow(10, 2, 3),
		okFlow(20, 4, 5),
		{Elapsed: 10 * time.Second, Calls: []Call{{Stage: StageCreate, Outcome: "503", Status: 503, Elapsed: 10 * time.Second, NoRetryAfter: true}}},
		{Elapsed: 30 * time.Second, Calls: []Call{call(StageCreate, OutcomeTimeout, 0, 30000)}},
		{Elapsed: 5030 * time.Millisecond, Calls: []Call{call(StageCreate, "201", 201, 20), call(StageGet, "504", 504, 5000), call(StageDelete, "204", 204, 10)}},
		{Elapsed: 50 * time.Millisecond, Calls: []Call{call(StageCreate, "201", 201, 40), call(StageGet, "200 wrong-data", 200, 5), call(StageDelete, OutcomeConnError, 0, 5)}},
	}
	s := Aggregate(flows)
	if s.Flows != 6 || s.FlowsOK != 2 {
		t.Fatalf("flows %d ok %d, want 6 and 2", s.Flows, s.FlowsOK)
	}
	if got := s.FlowsOKPct(); got < 33.3 || got > 33.4 {
		t.Errorf("FlowsOKPct = %v", got)
	}
	cr := s.Stage(StageCreate)
	wantCreate := map[string]int{"201": 4, "503": 1, OutcomeTimeout: 1}
	if !reflect.DeepEqual(cr.Outcomes, wantCreate) {
		t.Errorf("create outcomes %v, want %v", cr.Outcomes, wantCreate)
	}
	if cr.Count() != 6 || cr.Good() != 4 || cr.Timeouts() != 1 || cr.NoRetryAfter != 1 {
		t.Errorf("create count %d good %d timeouts %d no-retry-after %d", cr.Count(), cr.Good(), cr.Timeouts(), cr.NoRetryAfter)
	}
	if cr.Latency.Max != 30*time.Second || cr.Latency.P50 != 20*time.Millisecond {
		t.Errorf("create latency %+v", cr.Latency)
	}
	gt := s.Stage(StageGet)
	if gt.Good() != 2 || gt.Count() != 4 {
		t.Errorf("get good %d of %d, want 2 of 4 (a wrong-data 200 is not good)", gt.Good(), gt.Count())
	}
	if s.All.N != 14 || s.All.Max != 30*time.Second {
		t.Errorf("all %+v", s.All)
	}
	if s.Flow.N != 6 || s.Flow.Max != 30*time.Second {
		t.Errorf("flow %+v", s.Flow)
	}
	if s.Stage("nothing") != nil || s.Stage("nothing").Count() != 0 || s.Stage("nothing").Good() != 0 {
		t.Errorf("a stage that never ran must read as empty")
	}
}

func TestAggregateLeavesCancelledOutOfLatency(t *testing.T) {
	s := Aggregate([]Flow{okFlow(10, 2, 3), failFlow(call(StageCreate, OutcomeCancelled, 0, 9000))})
	cr := s.Stage(StageCreate)
	if cr.Count() != 2 || cr.Latency.N != 1 || cr.Latency.Max != 10*time.Millisecond {
		t.Errorf("create count %d, latency %+v: a cancelled request is counted but not timed", cr.Count(), cr.Latency)
	}
	if s.All.N != 3 || s.Flow.N != 1 {
		t.Errorf("all %+v flow %+v", s.All, s.Flow)
	}
}

func TestAggregateEmpty(t *testing.T) {
	s := Aggregate(nil)
	if s.Flows != 0 || s.FlowsOKPct() != 0 || s.All.N != 0 || len(s.Stages) != 0 {
		t.Errorf("empty aggregate: %+v", s)
	}
}

func TestSortedOutcomes(t *testing.T) {
	got := SortedOutcomes(map[string]int{OutcomeCancelled: 1, "503": 1, OutcomeConnError: 1, "201": 1, OutcomeTimeout: 1, "201 bad-body": 1})
	want := []string{"201", "201 bad-body", "503", OutcomeTimeout, OutcomeConnError, OutcomeCancelled}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SortedOutcomes = %v, want %v", got, want)
	}
}

func TestAggregateMissedTicks(t *testing.T) {
	calls := []Call{call(ProbeHealth, "200", 200, 1000),
		{Stage: ProbeHealth, Missed: true, Elapsed: 900 * time.Millisecond},
		{Stage: ProbeHealth, Missed: true, Elapsed: 800 * time.Millisecond},
		call(ProbeHealth, "200", 200, 1)}
	st := AggregateCalls(calls)[ProbeHealth]
	if st.Count() != 2 || st.Missed != 2 || st.Latency.N != 4 || st.Latency.P50 != 800*time.Millisecond {
		t.Errorf("count %d missed %d latency %+v: missed ticks are timed, not counted as answers", st.Count(), st.Missed, st.Latency)
	}
}
