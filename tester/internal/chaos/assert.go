// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Allowed is one entry of --allow-5xx: a server error a stage may answer
// without violating the assertion.
type Allowed struct {
	Stage string // a stage name, or "*" for every stage
	Code  string // "503", "5xx" (any 5xx) or OutcomeConnError
}

func (a Allowed) String() string { return a.Stage + ":" + a.Code }

// ParseAllowed reads a comma list of STAGE:CODE entries, e.g.
// "create:503,get:504". STAGE is create, get, delete or *; CODE is a
// status from 500 to 599, 5xx, or conn-error. "" and "none" allow
// nothing.
func ParseAllowed(s string) ([]Allowed, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []Allowed
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		stage, code, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%q is not STAGE:CODE", part)
		}
		switch stage {
		case StageCreate, StageGet, StageDelete, "*":
		default:
			return nil, fmt.Errorf("%q: stage must be create, get, delete or *", part)
		}
		if code != "5xx" && code != OutcomeConnError {
			n, err := strconv.Atoi(code)
			if err != nil || n < 500 || n > 599 {
				return nil, fmt.Errorf("%q: code must be 500-599, 5xx or conn-error", part)
			}
		}
		out = append(out, Allowed{Stage: stage, Code: code})
	}
	return out, nil
}

// serverError reports whether an outcome is a server failure: a 5xx answer
// or a dropped connection.
func serverError(outcome string) bool {
	if outcome == OutcomeConnError {
		return true
	}
	n, err := strconv.Atoi(outcome)
	return err == nil && n >= 500 && n <= 599
}

func allowed(list []Allowed, stage, outcome string) bool {
	for _, a := range list {
		if a.Stage != "*" && a.Stage != stage {
			continue
		}
		if a.Code == outcome || (a.Code == "5xx" && outcome != OutcomeConnError) {
			return true
		}
	}
	return false
}

// Limits are the assertions of a run. Zero values are off, except
// Allowed, which always applies (nil allows no server error at all).
type Limits struct {
	MaxMs       map[string]time.Duration // stage -> latest acceptable answer
	Allowed     []Allowed                // server errors that are no violation
	NoDegraded  bool                     // /status must never show degraded
	MinCreateOK float64                  // percent of creates answered 2xx with a session; <0 off
	MinFlowsOK  float64                  // percent of flows fully ok; <0 off
	MaxProbeP99 time.Duration            // p99 of each probe kind
}

// Burst is what --burst found.
type Burst struct {
	Creates    int    // creates fired at once
	Created    int    // of them answered 2xx with a session
	Listed     int    // sessions GET /workers showed on a worker
	Distinct   int    // distinct workers those sessions were on
	Doubled    int    // sessions GET /workers showed on more than one worker
	WrongData  int    // GETs that answered 200 with another session or other data
	WorkersErr string // why GET /workers could not be read, "" when it was
}

// Result is everything a run measured.
type Result struct {
	Mode        string                 // "flows" or "burst"
	Flows       int                    // flows asked for (burst: creates)
	Parallel    int                    // flows at once
	Summary     *Summary               // the flows (a burst's sessions are flows too)
	Samples     []Sample               // GET /status readings
	StatusLat   Latency                // of the GET /status readings
	Probes      map[string]*StageStats // probe name -> stats; nil without --probe-during
	ProbeNotes  []string               // e.g. why a probe could not run
	Replaced    int                    // probe sessions created again after they were lost
	Burst       *Burst                 // nil unless --burst
	Wall        time.Duration          // from the first request to the end of the last flow
	Interrupted bool                   // stopped by a signal before all flows ran
}

// Probe names.
const (
	ProbeHealth  = "health"      // GET /health
	ProbeSession = "session-get" // GET of one live session
)

// ProbeNames lists the probes in report order.
var ProbeNames = []string{ProbeHealth, ProbeSession}

// Check is the verdict on one assertion.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

func ms(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// Evaluate judges r against l and returns one check per assertion that is
// on, in a fixed order: deadlines per stage, server errors, degraded,
// create and flow success rates, probe p99s, then the burst's own checks.
func Evaluate(l Limits, r *Result) []Check {
	var out []Check
	sum := r.Summary
	if sum == nil {
		sum = &Summary{}
	}
	for _, stage := range Stages {
		bound := l.MaxMs[stage]
		if bound <= 0 {
			continue
		}
		st := sum.Stage(stage)
		c := Check{Name: fmt.Sprintf("every %s answered within %s", stage, ms(bound))}
		var max time.Duration
		late, timeouts := 0, 0
		if st != nil {
			max, timeouts = st.Latency.Max, st.Timeouts()
			for _, d := range st.durations {
				if d > bound {
					late++
				}
			}
		}
		c.OK = late == 0 && timeouts == 0
		c.Detail = fmt.Sprintf("max %s over %d requests", ms(max), st.Count())
		if !c.OK {
			c.Detail += fmt.Sprintf("; %d later than the bound, %d without an answer", late, timeouts)
		}
		out = append(out, c)
	}

	{
		var bad, seen []string
		for _, stage := range Stages {
			st := sum.Stage(stage)
			if st == nil {
				continue
			}
			for _, o := range SortedOutcomes(st.Outcomes) {
				if !serverError(o) {
					continue
				}
				item := fmt.Sprintf("%s %s x%d", stage, o, st.Outcomes[o])
				if allowed(l.Allowed, stage, o) {
					seen = append(seen, item)
				} else {
					bad = append(bad, item)
				}
			}
		}
		names := make([]string, len(l.Allowed))
		for i, a := range l.Allowed {
			names[i] = a.String()
		}
		allowedText := strings.Join(names, ",")
		if allowedText == "" {
			allowedText = "none"
		}
		c := Check{Name: "only allowed server errors (" + allowedText + ")", OK: len(bad) == 0}
		switch {
		case len(bad) > 0:
			c.Detail = "not allowed: " + strings.Join(bad, ", ")
		case len(seen) > 0:
			c.Detail = "seen: " + strings.Join(seen, ", ")
		default:
			c.Detail = "none seen"
		}
		out = append(out, c)
	}

	if l.NoDegraded {
		deg, n := EverDegraded(r.Samples)
		c := Check{Name: "GET /status never showed the pool degraded", OK: !deg && n > 0}
		switch {
		case n == 0:
			c.Detail = "GET /status was never read"
		case deg:
			tr := Transitions(r.Samples)
			c.Detail = fmt.Sprintf("degraded in %d transition(s)", countTrue(tr))
			for _, t := range tr {
				if t.Degraded {
					c.Detail += fmt.Sprintf("; first at %.1f s: %s", t.At.Seconds(), orDash(t.Why))
					break
				}
			}
		default:
			c.Detail = fmt.Sprintf("%d readings", n)
		}
		out = append(out, c)
	}

	if l.MinCreateOK >= 0 {
		st := sum.Stage(StageCreate)
		good, n := st.Good(), st.Count()
		p := pct(good, n)
		out = append(out, Check{
			Name:   fmt.Sprintf("creates answered 2xx >= %g%%", l.MinCreateOK),
			OK:     n > 0 && p >= l.MinCreateOK,
			Detail: fmt.Sprintf("%.1f%% (%d of %d)", p, good, n),
		})
	}
	if l.MinFlowsOK >= 0 {
		p := sum.FlowsOKPct()
		out = append(out, Check{
			Name:   fmt.Sprintf("flows fully ok >= %g%%", l.MinFlowsOK),
			OK:     sum.Flows > 0 && p >= l.MinFlowsOK,
			Detail: fmt.Sprintf("%.1f%% (%d of %d)", p, sum.FlowsOK, sum.Flows),
		})
	}

	if l.MaxProbeP99 > 0 {
		for _, name := range ProbeNames {
			st := r.Probes[name]
			c := Check{Name: fmt.Sprintf("probe %s p99 <= %s", name, ms(l.MaxProbeP99))}
			if st.Count() == 0 {
				c.Detail = "no probe was sent"
				if len(r.ProbeNotes) > 0 {
					c.Detail += " (" + strings.Join(r.ProbeNotes, "; ") + ")"
				}
			} else {
				c.OK = st.Latency.P99 <= l.MaxProbeP99
				c.Detail = fmt.Sprintf("p99 %s, max %s over %d probes and %d missed ticks", ms(st.Latency.P99), ms(st.Latency.Max), st.Count(), st.Missed)
			}
			out = append(out, c)
		}
	}

	if b := r.Burst; b != nil {
		out = append(out, Check{
			Name:   fmt.Sprintf("burst: all %d creates answered 2xx", b.Creates),
			OK:     b.Creates > 0 && b.Created == b.Creates,
			Detail: fmt.Sprintf("%d of %d", b.Created, b.Creates),
		})
		c := Check{Name: "burst: each session on a worker of its own"}
		switch {
		case b.WorkersErr != "":
			c.Detail = "GET /workers: " + b.WorkersErr
		case b.Created == 0:
			c.Detail = "no session was created"
		case b.Listed == 0:
			c.Detail = fmt.Sprintf("none of the %d sessions is listed in GET /workers", b.Created)
		default:
			c.OK = b.Distinct == b.Listed && b.Doubled == 0 && b.WrongData == 0
			c.Detail = fmt.Sprintf("%d sessions listed on %d distinct workers", b.Listed, b.Distinct)
			if b.Listed < b.Created {
				c.Detail += fmt.Sprintf(", %d not listed (lost before GET /workers)", b.Created-b.Listed)
			}
			if b.Doubled > 0 {
				c.Detail += fmt.Sprintf(", %d on more than one worker", b.Doubled)
			}
			if b.WrongData > 0 {
				c.Detail += fmt.Sprintf(", %d GETs answered with another session's data", b.WrongData)
			}
		}
		out = append(out, c)
	}
	return out
}

func countTrue(ts []Transition) int {
	n := 0
	for _, t := range ts {
		if t.Degraded {
			n++
		}
	}
	return n
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Tally returns how many checks passed and failed.
func Tally(cs []Check) (passed, failed int) {
	for _, c := range cs {
		if c.OK {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}
