// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"testing"
	"time"
)

// A probe that stalls once is recorded with the ticks that fell due
// during the stall, each timed from its tick to the stalled answer.
//
// The prober records after each probe the ticks that passed while it was
// out; they are counted here for the stalled probe alone.  On a busy
// machine a 1 ms probe may be out past its next tick too, and the stall
// may overrun its 200 ms: each is the scheduler's delay, correctly
// counted, so only the lower bounds are exact.
func TestProberCountsTicksMissedDuringAStall(t *testing.T) {
	const every, stall = 10 * time.Millisecond, 200 * time.Millisecond
	const overrun = 100 * time.Millisecond // the scheduler's delay allowed
	r := &runner{o: Options{ProbeEvery: every}}
	stop := make(chan struct{})
	n := 0
	time.AfterFunc(400*time.Millisecond, func() { close(stop) })
	calls := r.prober(stop, func() (Call, bool) {
		n++
		d := time.Millisecond
		if n == 2 {
			d = stall
		}
		time.Sleep(d)
		return Call{Stage: ProbeHealth, Outcome: "200", Status: 200, Elapsed: d}, true
	})
	st := AggregateCalls(calls)[ProbeHealth]
	// The ticks recorded after the stalled probe, and the longest wait.
	missed, inStall := 0, false
	var longest time.Duration
	for _, c := range calls {
		if !c.Missed {
			inStall = c.Elapsed == stall
			continue
		}
		if inStall {
			missed++
			if c.Elapsed > longest {
				longest = c.Elapsed
			}
		}
	}
	// The stall spans the 19 ticks after its own.
	if lo, hi := int(stall/every)-1, int((stall+overrun)/every); missed < lo || missed > hi {
		t.Errorf("%d ticks missed during the stall, want %d (at most %d)", missed, lo, hi)
	}
	if st.Missed < missed {
		t.Errorf("%d missed ticks in all, fewer than the stall's %d", st.Missed, missed)
	}
	// About 20 outside the stall; fewer when a busy machine stretches it.
	if st.Count() < 5 || st.Count() > 25 {
		t.Errorf("%d probes sent in 400 ms with a 200 ms stall, want about 20", st.Count())
	}
	// The first tick after the stalled one waited the rest of the stall.
	if lo := stall - every; longest < lo || longest > lo+overrun {
		t.Errorf("the first missed tick waited %v, want %v (at most %v)", longest, lo, lo+overrun)
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
