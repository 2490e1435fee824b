// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAllowed(t *testing.T) {
	tests := []struct {
		in      string
		want    []Allowed
		wantErr string
	}{
		{"", nil, ""},
		{"none", nil, ""},
		{DefaultAllowed, []Allowed{{StageCreate, "503"}, {StageGet, "504"}}, ""},
		{" create:503 , *:5xx,delete:conn-error", []Allowed{{StageCreate, "503"}, {"*", "5xx"}, {StageDelete, OutcomeConnError}}, ""},
		{"create", nil, "not STAGE:CODE"},
		{"post:503", nil, "stage must be"},
		{"get:404", nil, "code must be"},
		{"get:600", nil, "code must be"},
		{"get:abc", nil, "code must be"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAllowed(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// result builds a Result from flows and samples.
func result(flows []Flow, samples ...Sample) *Result {
	return &Result{Mode: "flows", Flows: len(flows), Summary: Aggregate(flows), Samples: samples}
}

func failFlow(calls ...Call) Flow { return Flow{Calls: calls} }

func defaultLimits() Limits {
	a, _ := ParseAllowed(DefaultAllowed)
	return Limits{MaxMs: map[string]time.Duration{}, Allowed: a, MinCreateOK: -1, MinFlowsOK: -1}
}

// verdicts maps each check's name to whether it passed.
func verdicts(cs []Check) map[string]bool {
	m := map[string]bool{}
	for _, c := range cs {
		m[c.Name] = c.OK
	}
	return m
}

func TestEvaluate(t *testing.T) {
	healthy := Sample{Workers: map[string]int{"idle": 4}}
	degraded := Sample{Workers: map[string]int{"idle": 0}, Degraded: true,
		Nodes: map[string]NodeState{"n1": {State: "degraded", Reason: "cannot execute /x"}}}
	mixed := []Flow{
		okFlow(10, 2, 3), okFlow(12, 2, 3), okFlow(14, 2, 3),
		failFlow(call(StageCreate, "503", 503, 10000)),
		failFlow(call(StageCreate, "201", 201, 20), call(StageGet, "504", 504, 5000), call(StageDelete, "204", 204, 4)),
	}
	tests := []struct {
		name   string
		limits func(*Limits)
		res    *Result
		want   map[string]bool // check name -> ok; exactly these checks
		detail map[string]string
	}{
		{
			name: "defaults: only the server-error check, allowed 503 and 504",
			res:  result(mixed, healthy),
			want: map[string]bool{"only allowed server errors (create:503,get:504)": true},
			detail: map[string]string{
				"only allowed server errors (create:503,get:504)": "seen: create 503 x1, get 504 x1",
			},
		},
		{
			name: "a 502 on GET and a reset on DELETE are violations",
			res: result([]Flow{failFlow(call(StageCreate, "201", 201, 5), call(StageGet, "502", 502, 5),
				call(StageDelete, OutcomeConnError, 0, 5))}),
			want: map[string]bool{"only allowed server errors (create:503,get:504)": false},
			detail: map[string]string{
				"only allowed server errors (create:503,get:504)": "not allowed: get 502 x1, delete conn-error x1",
			},
		},
		{
			name:   "a 504 on create is not a 503",
			res:    result([]Flow{failFlow(call(StageCreate, "504", 504, 5))}),
			want:   map[string]bool{"only allowed server errors (create:503,get:504)": false},
			detail: map[string]string{"only allowed server errors (create:503,get:504)": "not allowed: create 504 x1"},
		},
		{
			name:   "none allowed",
			limits: func(l *Limits) { l.Allowed = nil },
			res:    result(mixed),
			want:   map[string]bool{"only allowed server errors (none)": false},
		},
		{
			name:   "wildcard 5xx allows every answer but not a dropped connection",
			limits: func(l *Limits) { l.Allowed = []Allowed{{"*", "5xx"}} },
			res: result([]Flow{failFlow(call(StageCreate, "500", 500, 5)),
				failFlow(call(StageCreate, OutcomeConnError, 0, 5))}),
			want: map[string]bool{"only allowed server errors (*:5xx)": false},
		},
		{
			name:   "4xx and timeouts are not server errors",
			limits: func(l *Limits) { l.Allowed = nil },
			res: result([]Flow{failFlow(call(StageCreate, "201", 201, 5), call(StageGet, "404", 404, 5), call(StageDelete, "404", 404, 5)),
				failFlow(call(StageCreate, OutcomeTimeout, 0, 30000))}),
			want: map[string]bool{"only allowed server errors (none)": true},
		},
		{
			name: "deadlines: create within 17 s holds, GET within 5 s fails at 5.0 s + 1 ms",
			limits: func(l *Limits) {
				l.MaxMs[StageCreate] = 17 * time.Second
				l.MaxMs[StageGet] = 5 * time.Second
				l.MaxMs[StageDelete] = 5 * time.Second
			},
			res: result([]Flow{okFlow(10, 2, 3), failFlow(call(StageCreate, "503", 503, 10000)),
				failFlow(call(StageCreate, "201", 201, 20), call(StageGet, "504", 504, 5001), call(StageDelete, "204", 204, 5000))}),
			want: map[string]bool{
				"every create answered within 17000 ms":           true,
				"every get answered within 5000 ms":               false,
				"every delete answered within 5000 ms":            true,
				"only allowed server errors (create:503,get:504)": true,
			},
			detail: map[string]string{
				"every get answered within 5000 ms": "max 5001 ms over 2 requests; 1 later than the bound, 0 without an answer",
			},
		},
		{
			name:   "a timeout violates the deadline even when the client deadline is below the bound",
			limits: func(l *Limits) { l.MaxMs[StageCreate] = 60 * time.Second },
			res:    result([]Flow{failFlow(call(StageCreate, OutcomeTimeout, 0, 30000))}),
			want: map[string]bool{
				"every create answered within 60000 ms":           false,
				"only allowed server errors (create:503,get:504)": true,
			},
		},
		{
			name:   "a deadline on a stage that never ran holds",
			limits: func(l *Limits) { l.MaxMs[StageDelete] = time.Second },
			res:    result([]Flow{failFlow(call(StageCreate, "503", 503, 10))}),
			want: map[string]bool{
				"every delete answered within 1000 ms":            true,
				"only allowed server errors (create:503,get:504)": true,
			},
		},
		{
			name:   "no-degraded holds on healthy readings",
			limits: func(l *Limits) { l.NoDegraded = true },
			res:    result(mixed, healthy, Sample{Err: "timeout"}, healthy),
			want: map[string]bool{
				"GET /status never showed the pool degraded":      true,
				"only allowed server errors (create:503,get:504)": true,
			},
			detail: map[string]string{"GET /status never showed the pool degraded": "2 readings"},
		},
		{
			name:   "no-degraded fails on one degraded reading",
			limits: func(l *Limits) { l.NoDegraded = true },
			res:    result(mixed, healthy, Sample{At: 1500 * time.Millisecond, Degraded: degraded.Degraded, Nodes: degraded.Nodes}, healthy),
			want: map[string]bool{
				"GET /status never showed the pool degraded":      false,
				"only allowed server errors (create:503,get:504)": true,
			},
			detail: map[string]string{"GET /status never showed the pool degraded": "degraded in 1 transition(s); first at 1.5 s: n1: cannot execute /x"},
		},
		{
			name:   "no-degraded fails when /status was never read",
			limits: func(l *Limits) { l.NoDegraded = true },
			res:    result(mixed, Sample{Err: "503"}),
			want: map[string]bool{
				"GET /status never showed the pool degraded":      false,
				"only allowed server errors (create:503,get:504)": true,
			},
		},
		{
			name:   "success rates: 80% of creates ok, 60% of flows ok",
			limits: func(l *Limits) { l.MinCreateOK, l.MinFlowsOK = 80, 60 },
			res:    result(mixed),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"creates answered 2xx >= 80%":                     true,
				"flows fully ok >= 60%":                           true,
			},
			detail: map[string]string{"creates answered 2xx >= 80%": "80.0% (4 of 5)", "flows fully ok >= 60%": "60.0% (3 of 5)"},
		},
		{
			name:   "success rates below the bound",
			limits: func(l *Limits) { l.MinCreateOK, l.MinFlowsOK = 81, 60.5 },
			res:    result(mixed),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"creates answered 2xx >= 81%":                     false,
				"flows fully ok >= 60.5%":                         false,
			},
		},
		{
			name:   "a rate of 0% fails when nothing ran",
			limits: func(l *Limits) { l.MinCreateOK, l.MinFlowsOK = 0, 0 },
			res:    result(nil),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"creates answered 2xx >= 0%":                      false,
				"flows fully ok >= 0%":                            false,
			},
		},
		{
			name:   "probe p99: health fast, session-get slow",
			limits: func(l *Limits) { l.MaxProbeP99 = 100 * time.Millisecond },
			res: func() *Result {
				r := result(mixed)
				r.Probes = AggregateCalls([]Call{call(ProbeHealth, "200", 200, 3), call(ProbeHealth, "200", 200, 100),
					call(ProbeSession, "200", 200, 5), call(ProbeSession, "504", 504, 5000)})
				return r
			}(),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"probe health p99 <= 100 ms":                      true,
				"probe session-get p99 <= 100 ms":                 false,
			},
		},
		{
			name:   "probe p99 fails when a probe never ran",
			limits: func(l *Limits) { l.MaxProbeP99 = 100 * time.Millisecond },
			res: func() *Result {
				r := result(mixed)
				r.Probes = AggregateCalls([]Call{call(ProbeHealth, "200", 200, 3)})
				r.ProbeNotes = []string{"create of the probe session answered 503"}
				return r
			}(),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"probe health p99 <= 100 ms":                      true,
				"probe session-get p99 <= 100 ms":                 false,
			},
			detail: map[string]string{"probe session-get p99 <= 100 ms": "no probe was sent (create of the probe session answered 503)"},
		},
		{
			name: "burst: all created, each on its own worker",
			res: func() *Result {
				r := result([]Flow{okFlow(1, 1, 1), okFlow(1, 1, 1)})
				r.Burst = &Burst{Creates: 2, Created: 2, Listed: 2, Distinct: 2}
				return r
			}(),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"burst: all 2 creates answered 2xx":               true,
				"burst: each session on a worker of its own":      true,
			},
		},
		{
			name: "burst: 503s and a shared worker",
			res: func() *Result {
				r := result([]Flow{okFlow(1, 1, 1), okFlow(1, 1, 1), failFlow(call(StageCreate, "503", 503, 10))})
				r.Burst = &Burst{Creates: 3, Created: 2, Listed: 2, Distinct: 1}
				return r
			}(),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"burst: all 3 creates answered 2xx":               false,
				"burst: each session on a worker of its own":      false,
			},
		},
		{
			name: "burst: sessions lost before GET /workers are not a shared worker, wrong data is",
			res: func() *Result {
				r := result([]Flow{okFlow(1, 1, 1)})
				r.Burst = &Burst{Creates: 3, Created: 3, Listed: 2, Distinct: 2, WrongData: 1}
				return r
			}(),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"burst: all 3 creates answered 2xx":               true,
				"burst: each session on a worker of its own":      false,
			},
			detail: map[string]string{"burst: each session on a worker of its own": "2 sessions listed on 2 distinct workers, 1 not listed (lost before GET /workers), 1 GETs answered with another session's data"},
		},
		{
			name: "burst: no GET /workers",
			res: func() *Result {
				r := result([]Flow{okFlow(1, 1, 1)})
				r.Burst = &Burst{Creates: 1, Created: 1, WorkersErr: "404: the orchestrator has no GET /workers"}
				return r
			}(),
			want: map[string]bool{
				"only allowed server errors (create:503,get:504)": true,
				"burst: all 1 creates answered 2xx":               true,
				"burst: each session on a worker of its own":      false,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := defaultLimits()
			if tc.limits != nil {
				tc.limits(&l)
			}
			cs := Evaluate(l, tc.res)
			if got := verdicts(cs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("verdicts\n got %v\nwant %v", got, tc.want)
				for _, c := range cs {
					t.Logf("  %s: %s", c.Name, c.Detail)
				}
			}
			for name, want := range tc.detail {
				found := false
				for _, c := range cs {
					if c.Name == name {
						found = true
						if c.Detail != want {
							t.Errorf("%s: detail %q, want %q", name, c.Detail, want)
						}
					}
				}
				if !found {
					t.Errorf("no check %q", name)
				}
			}
		})
	}
}

func TestTally(t *testing.T) {
	p, f := Tally([]Check{{OK: true}, {OK: false}, {OK: true}})
	if p != 2 || f != 1 {
		t.Errorf("Tally = %d, %d", p, f)
	}
}
