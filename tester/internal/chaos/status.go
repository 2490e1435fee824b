// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"steel-orchestrator/tester/internal/api"
)

// NodeState is one node's pool as GET /status reports it under "nodes".
type NodeState struct {
	State  string `json:"state"` // ok, degraded, stopped
	Reason string `json:"reason,omitempty"`
}

// Sample is one reading of GET /status during a run.
type Sample struct {
	At       time.Duration        // since the start of the run
	Elapsed  time.Duration        // how long GET /status took
	Err      string               // why there is no reading ("timeout", "503", ...); "" when read
	Workers  map[string]int       // state -> count
	Waiting  int                  // waiting_creates
	Sessions int                  // sessions
	Degraded bool                 // degraded, or any node's state "degraded"
	Nodes    map[string]NodeState // node -> pool state
}

// Worker returns the count of workers in state (0 when not reported).
func (s Sample) Worker(state string) int { return s.Workers[state] }

// ParseStatus reads the members of a GET /status body the timeline shows:
// workers by state, waiting_creates, sessions, degraded and nodes. Members
// that are missing or of another type read as zero; a body that is not a
// JSON object is an error.
func ParseStatus(body []byte) (Sample, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Sample{}, fmt.Errorf("GET /status body is not a JSON object: %s", api.Snippet(body))
	}
	s := Sample{Workers: map[string]int{}}
	var workers map[string]json.RawMessage
	if json.Unmarshal(raw["workers"], &workers) == nil {
		for k, v := range workers {
			var n float64
			if json.Unmarshal(v, &n) == nil {
				s.Workers[k] = int(n)
			}
		}
	}
	var n float64
	if json.Unmarshal(raw["waiting_creates"], &n) == nil {
		s.Waiting = int(n)
	}
	n = 0
	if json.Unmarshal(raw["sessions"], &n) == nil {
		s.Sessions = int(n)
	}
	var nodes map[string]json.RawMessage
	if json.Unmarshal(raw["nodes"], &nodes) == nil && len(nodes) > 0 {
		s.Nodes = map[string]NodeState{}
		for k, v := range nodes {
			var ns NodeState
			_ = json.Unmarshal(v, &ns)
			s.Nodes[k] = ns
			if ns.State == "degraded" {
				s.Degraded = true
			}
		}
	}
	var deg bool
	if json.Unmarshal(raw["degraded"], &deg) == nil && deg {
		s.Degraded = true
	}
	return s, nil
}

// Transition is a change of the degraded flag between two readings.
type Transition struct {
	At       time.Duration
	Degraded bool   // the new value
	Why      string // the degraded nodes and their reasons, "" when none
}

// degradedWhy names the degraded nodes of s with their reasons.
func degradedWhy(s Sample) string {
	var parts []string
	for node, ns := range s.Nodes {
		if ns.State != "degraded" {
			continue
		}
		if ns.Reason != "" {
			parts = append(parts, node+": "+ns.Reason)
		} else {
			parts = append(parts, node)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// Transitions lists every change of the degraded flag over the readings
// (samples without a reading are skipped); a run that starts degraded
// begins with a transition to true.
func Transitions(samples []Sample) []Transition {
	var out []Transition
	prev, seen := false, false
	for _, s := range samples {
		if s.Err != "" {
			continue
		}
		if (!seen && s.Degraded) || (seen && s.Degraded != prev) {
			out = append(out, Transition{At: s.At, Degraded: s.Degraded, Why: degradedWhy(s)})
		}
		prev, seen = s.Degraded, true
	}
	return out
}

// EverDegraded reports whether any reading showed the pool degraded, and
// how many readings there were.
func EverDegraded(samples []Sample) (degraded bool, readings int) {
	for _, s := range samples {
		if s.Err != "" {
			continue
		}
		readings++
		if s.Degraded {
			degraded = true
		}
	}
	return degraded, readings
}

// rowKey is what a timeline row shows besides the time.
func rowKey(s Sample) string {
	if s.Err != "" {
		return "err " + s.Err
	}
	return fmt.Sprintf("%d %d %d %d %d %d %d %t", s.Worker("idle"), s.Worker("busy"),
		s.Worker("creating"), s.Worker("releasing"), s.Worker("starting"), s.Worker("dead"),
		s.Waiting, s.Degraded)
}

// TimelineRows picks the samples a compact timeline prints, as indices:
// the first and the last, and each one that differs from the sample before
// it; when that is more than max rows, every k-th of those changes, but
// always every change of the degraded flag or of the reading's success.
func TimelineRows(samples []Sample, max int) []int {
	if len(samples) == 0 {
		return nil
	}
	var changed []int
	for i := range samples {
		if i == 0 || i == len(samples)-1 || rowKey(samples[i]) != rowKey(samples[i-1]) {
			changed = append(changed, i)
		}
	}
	if max <= 0 || len(changed) <= max {
		return changed
	}
	step := (len(changed) + max - 1) / max
	var out []int
	for j, i := range changed {
		must := i == 0 || i == len(samples)-1
		if i > 0 {
			a, b := samples[i-1], samples[i]
			must = must || a.Degraded != b.Degraded || (a.Err == "") != (b.Err == "")
		}
		if must || j%step == 0 {
			out = append(out, i)
		}
	}
	return out
}
