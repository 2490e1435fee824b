// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"testing"
	"time"
)

// A probe that stalls once is recorded with the ticks that fell due
// during the stall, each timed from its tick to the stalled answer.
func TestProberCountsTicksMissedDuringAStall(t *testing.T) {
	r := &runner{o: Options{ProbeEvery: 10 * time.Millisecond}}
	stop := make(chan struct{})
	n := 0
	time.AfterFunc(400*time.Millisecond, func() { close(stop) })
	calls := r.prober(stop, func() (Call, bool) {
		n++
		d := time.Millisecond
		if n == 2 {
			d = 200 * time.Millisecond
		}
		time.Sleep(d)
		return Call{Stage: ProbeHealth, Outcome: "200", Status: 200, Elapsed: d}, true
	})
	st := AggregateCalls(calls)[ProbeHealth]
	if st.Missed < 15 || st.Missed > 21 {
		t.Errorf("%d missed ticks, want about 19 for a 200 ms stall at 10 ms", st.Missed)
	}
	if st.Count() < 10 || st.Count() > 25 {
		t.Errorf("%d probes sent in 400 ms with a 200 ms stall, want about 20", st.Count())
	}
	var longest time.Duration
	for _, c := range calls {
		if c.Missed && c.Elapsed > longest {
			longest = c.Elapsed
		}
	}
	if longest < 150*time.Millisecond || longest > 220*time.Millisecond {
		t.Errorf("the first missed tick waited %v, want about 190 ms", longest)
	}
	if st.Latency.P99 < 150*time.Millisecond {
		t.Errorf("p99 %v hides the stall", st.Latency.P99)
	}
}

// A probe that sends nothing (no session to probe) counts no ticks.
func TestProberSkipsUnsentProbes(t *testing.T) {
	r := &runner{o: Options{ProbeEvery: 5 * time.Millisecond}}
	stop := make(chan struct{})
	time.AfterFunc(100*time.Millisecond, func() { close(stop) })
	calls := r.prober(stop, func() (Call, bool) {
		time.Sleep(20 * time.Millisecond)
		return Call{}, false
	})
	if len(calls) != 0 {
		t.Errorf("%d calls recorded for probes never sent", len(calls))
	}
}
