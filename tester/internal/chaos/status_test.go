// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"reflect"
	"testing"
	"time"
)

// The shape fcgi/admin.c handle_status writes.
const statusBody = `{"available":true,"workers":{"starting":1,"idle":7,"creating":2,"busy":5,"releasing":1,"dead":3},
"sessions":6,"waiting_creates":4,"capacity":30,
"nodes":{"vm1":{"state":"ok"},"vm2":{"state":"degraded","reason":"cannot execute /x: No such file or directory"}},
"degraded":true,"limits":{"max_body":65536,"session_ttl":60,"session_max_lifetime":0,"create_wait":10,"pool_max_workers":32}}`

func TestParseStatus(t *testing.T) {
	s, err := ParseStatus([]byte(statusBody))
	if err != nil {
		t.Fatal(err)
	}
	wantWorkers := map[string]int{"starting": 1, "idle": 7, "creating": 2, "busy": 5, "releasing": 1, "dead": 3}
	if !reflect.DeepEqual(s.Workers, wantWorkers) {
		t.Errorf("workers %v", s.Workers)
	}
	if s.Waiting != 4 || s.Sessions != 6 || !s.Degraded {
		t.Errorf("waiting %d sessions %d degraded %v", s.Waiting, s.Sessions, s.Degraded)
	}
	if s.Nodes["vm2"].Reason != "cannot execute /x: No such file or directory" || s.Nodes["vm1"].State != "ok" {
		t.Errorf("nodes %v", s.Nodes)
	}
}

func TestParseStatusTolerant(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		degraded bool
		idle     int
		err      bool
	}{
		{"a degraded node without the flag", `{"workers":{"idle":1},"nodes":{"a":{"state":"degraded"}}}`, true, 1, false},
		{"the flag without nodes", `{"degraded":true}`, true, 0, false},
		{"members of other types read as zero", `{"workers":{"idle":"x"},"waiting_creates":"y","degraded":"no","nodes":[]}`, false, 0, false},
		{"stopped is not degraded", `{"nodes":{"a":{"state":"stopped"}}}`, false, 0, false},
		{"not an object", `[1]`, false, 0, true},
		{"not JSON", `<html>`, false, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseStatus([]byte(tc.body))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (s.Degraded != tc.degraded || s.Worker("idle") != tc.idle) {
				t.Errorf("degraded %v idle %d", s.Degraded, s.Worker("idle"))
			}
		})
	}
}

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func TestTransitions(t *testing.T) {
	deg := func(at float64, why string) Sample {
		return Sample{At: sec(at), Degraded: true, Nodes: map[string]NodeState{"n": {State: "degraded", Reason: why}}}
	}
	ok := func(at float64) Sample { return Sample{At: sec(at)} }
	bad := func(at float64) Sample { return Sample{At: sec(at), Err: "timeout"} }
	tests := []struct {
		name    string
		samples []Sample
		want    []Transition
		ever    bool
		reads   int
	}{
		{"none", nil, nil, false, 0},
		{"healthy throughout", []Sample{ok(0), ok(0.5)}, nil, false, 2},
		{"degraded and back", []Sample{ok(0), deg(0.5, "r"), deg(1, "r"), ok(1.5)},
			[]Transition{{sec(0.5), true, "n: r"}, {sec(1.5), false, ""}}, true, 4},
		{"starts degraded", []Sample{deg(0, "r"), ok(0.5)},
			[]Transition{{0, true, "n: r"}, {sec(0.5), false, ""}}, true, 2},
		{"failed readings are skipped", []Sample{ok(0), bad(0.5), deg(1, ""), bad(1.5), deg(2, "")},
			[]Transition{{sec(1), true, "n"}}, true, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Transitions(tc.samples); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Transitions = %+v, want %+v", got, tc.want)
			}
			ever, reads := EverDegraded(tc.samples)
			if ever != tc.ever || reads != tc.reads {
				t.Errorf("EverDegraded = %v, %d", ever, reads)
			}
		})
	}
}

func TestTimelineRows(t *testing.T) {
	idle := func(n int) Sample { return Sample{Workers: map[string]int{"idle": n}} }
	same := []Sample{idle(4), idle(4), idle(4), idle(4)}
	if got := TimelineRows(same, 10); !reflect.DeepEqual(got, []int{0, 3}) {
		t.Errorf("unchanged readings: rows %v, want first and last", got)
	}
	changing := []Sample{idle(4), idle(4), idle(3), idle(3), idle(2)}
	if got := TimelineRows(changing, 10); !reflect.DeepEqual(got, []int{0, 2, 4}) {
		t.Errorf("changes: rows %v", got)
	}
	var many []Sample
	for i := 0; i < 100; i++ {
		many = append(many, idle(i))
	}
	many[51].Degraded = true
	got := TimelineRows(many, 10)
	if len(got) > 13 || got[0] != 0 || got[len(got)-1] != 99 {
		t.Errorf("thinned rows %v: want about 10 with the first and the last", got)
	}
	has := func(i int) bool {
		for _, r := range got {
			if r == i {
				return true
			}
		}
		return false
	}
	if !has(51) || !has(52) {
		t.Errorf("thinned rows %v drop a degraded change (51, 52)", got)
	}
	if TimelineRows(nil, 10) != nil {
		t.Errorf("no samples, no rows")
	}
}
