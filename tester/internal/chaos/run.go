// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"steel-orchestrator/tester/internal/api"
)

// runner holds what the goroutines of one run share.
type runner struct {
	o     Options
	c     *api.Client
	runID string    // put in every session's data, to tell this run's sessions
	start time.Time // start of the load
	log   io.Writer // progress lines
	done  int64     // flows finished (atomic)
}

// call sends req and returns the call it makes for the report, with the
// answer (nil without one). The latency is measured here, so a request
// that fails counts the time until it failed.
func (r *runner) call(ctx context.Context, stage string, req api.Request) (Call, *api.Response) {
	t0 := time.Now()
	resp, err := r.c.Do(ctx, req)
	c := Call{Stage: stage, Elapsed: time.Since(t0)}
	switch {
	case err == nil:
		c.Status = resp.Status
		c.Outcome = strconv.Itoa(resp.Status)
		if resp.Status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			c.NoRetryAfter = true
		}
		return c, resp
	case api.IsTimeout(err):
		c.Outcome = OutcomeTimeout
	case ctx.Err() != nil:
		c.Outcome = OutcomeCancelled
	default:
		c.Outcome = OutcomeConnError
	}
	return c, nil
}

// data is the body of the create of flow i.
func (r *runner) data(i int) []byte {
	b, _ := json.Marshal(map[string]interface{}{"chaos": r.runID, "flow": i})
	return b
}

// create sends one POST /sessions. The session is returned for a 2xx
// answer that holds one; a 2xx without a session is marked "bad-body".
func (r *runner) create(ctx context.Context, data []byte) (Call, *api.Session) {
	c, resp := r.call(ctx, StageCreate, api.Request{Method: http.MethodPost, Path: "/sessions", Body: data})
	if resp == nil || resp.Status < 200 || resp.Status > 299 {
		return c, nil
	}
	s, err := api.ParseSession(resp.Body)
	if err != nil {
		c.Outcome += " bad-body"
		return c, nil
	}
	return c, s
}

// get sends GET of session s; a 200 answer must hold s's id and data, else
// it is marked "wrong-data". ok is true for a 200 with the right session.
func (r *runner) get(ctx context.Context, s *api.Session, data []byte) (c Call, ok bool) {
	c, resp := r.call(ctx, StageGet, api.Request{Method: http.MethodGet, Path: api.SessionPath(s.ID)})
	if resp == nil || resp.Status != http.StatusOK {
		return c, false
	}
	if !sameSession(resp.Body, s.ID, data) {
		c.Outcome += " wrong-data"
		return c, false
	}
	return c, true
}

// del sends DELETE of session id. After an interrupt it still tries, once,
// on a context of its own, and reports nothing (ok false, no call).
func (r *runner) del(ctx context.Context, id string) (c Call, recorded bool) {
	if ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = r.c.Do(cctx, api.Request{Method: http.MethodDelete, Path: api.SessionPath(id)})
		return Call{}, false
	}
	c, _ = r.call(ctx, StageDelete, api.Request{Method: http.MethodDelete, Path: api.SessionPath(id)})
	return c, true
}

// sameSession reports whether body is a session with id and data equal to
// want as JSON values.
func sameSession(body []byte, id string, want []byte) bool {
	s, err := api.ParseSession(body)
	if err != nil || s.ID != id {
		return false
	}
	var a, b interface{}
	if json.Unmarshal(s.Data, &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// flow runs create -> GET -> DELETE for flow i. A flow whose create did
// not give a session ends there; a session that was created is deleted
// whatever its GET answered.
func (r *runner) flow(ctx context.Context, i int) Flow {
	t0 := time.Now()
	var f Flow
	data := r.data(i)
	c, s := r.create(ctx, data)
	f.Calls = append(f.Calls, c)
	if s == nil {
		f.Elapsed = time.Since(t0)
		return f
	}
	c, ok := r.get(ctx, s, data)
	f.Calls = append(f.Calls, c)
	c, rec := r.del(ctx, s.ID)
	if rec {
		f.Calls = append(f.Calls, c)
	}
	f.OK = ok && rec && c.Status == http.StatusNoContent
	f.Elapsed = time.Since(t0)
	return f
}

// runFlows runs o.Flows flows, o.Parallel at a time, and returns those
// that ran (all of them unless ctx was cancelled).
func (r *runner) runFlows(ctx context.Context) []Flow {
	n := r.o.Flows
	flows := make([]Flow, n)
	ran := make([]bool, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for p := 0; p < r.o.Parallel && p < n; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				flows[i] = r.flow(ctx, i)
				ran[i] = true
				atomic.AddInt64(&r.done, 1)
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	out := flows[:0]
	for i := range flows {
		if ran[i] {
			out = append(out, flows[i])
		}
	}
	return out
}

// workerKey names one entry of GET /workers.
func workerKey(w api.WorkerInfo) string {
	return fmt.Sprintf("%s/%s/%s:%d", w.Node, string(w.ID), w.Host, w.Port)
}

// runBurst fires o.Burst creates at once, then reads GET /workers to see
// which worker holds each new session, GETs every session and deletes
// them all.
func (r *runner) runBurst(ctx context.Context) ([]Flow, *Burst) {
	n := r.o.Burst
	flows := make([]Flow, n)
	sess := make([]*api.Session, n)
	starts := make([]time.Time, n)
	b := &Burst{Creates: n}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			starts[i] = time.Now()
			c, s := r.create(ctx, r.data(i))
			flows[i].Calls = append(flows[i].Calls, c)
			sess[i] = s
		}(i)
	}
	close(gate)
	wg.Wait()
	for _, s := range sess {
		if s != nil {
			b.Created++
		}
	}

	if b.Created > 0 {
		ws, found, err := r.c.GetWorkers(ctx)
		switch {
		case err != nil:
			b.WorkersErr = err.Error()
		case !found:
			b.WorkersErr = "404: the orchestrator has no GET /workers"
		default:
			on := map[string][]string{} // session id -> workers holding it
			for _, w := range ws {
				if id := w.SessionID(); id != "" {
					on[id] = append(on[id], workerKey(w))
				}
			}
			distinct := map[string]bool{}
			for _, s := range sess {
				if s == nil || len(on[s.ID]) == 0 {
					continue
				}
				b.Listed++
				if len(on[s.ID]) > 1 {
					b.Doubled++
				}
				for _, k := range on[s.ID] {
					distinct[k] = true
				}
			}
			b.Distinct = len(distinct)
		}
	}

	var wrong int64
	each := func(fn func(i int, s *api.Session)) {
		var wg sync.WaitGroup
		for i, s := range sess {
			if s == nil {
				continue
			}
			wg.Add(1)
			go func(i int, s *api.Session) {
				defer wg.Done()
				fn(i, s)
			}(i, s)
		}
		wg.Wait()
	}
	ok := make([]bool, n)
	each(func(i int, s *api.Session) {
		c, good := r.get(ctx, s, r.data(i))
		if c.Status == http.StatusOK && !good {
			atomic.AddInt64(&wrong, 1)
		}
		flows[i].Calls = append(flows[i].Calls, c)
		ok[i] = good
	})
	b.WrongData = int(wrong)
	each(func(i int, s *api.Session) {
		c, rec := r.del(ctx, s.ID)
		if rec {
			flows[i].Calls = append(flows[i].Calls, c)
		}
		ok[i] = ok[i] && rec && c.Status == http.StatusNoContent
	})
	for i := range flows {
		flows[i].OK = ok[i]
		flows[i].Elapsed = time.Since(starts[i])
	}
	atomic.AddInt64(&r.done, int64(n))
	return flows, b
}

// sampler reads GET /status now and every o.Sample until stop is closed,
// then once more.
func (r *runner) sampler(ctx context.Context, stop <-chan struct{}) []Sample {
	deadline := r.o.Timeout
	if deadline > 5*time.Second {
		deadline = 5 * time.Second
	}
	var out []Sample
	read := func() {
		c, resp := r.call(ctx, "status", api.Request{Method: http.MethodGet, Path: "/status", Timeout: deadline})
		s := Sample{Err: c.Outcome}
		if resp != nil && resp.Status == http.StatusOK {
			var err error
			if s, err = ParseStatus(resp.Body); err != nil {
				s = Sample{Err: "bad-body"}
			}
		}
		s.At, s.Elapsed = time.Since(r.start)-c.Elapsed, c.Elapsed
		if s.At < 0 {
			s.At = 0
		}
		out = append(out, s)
	}
	t := time.NewTicker(r.o.Sample)
	defer t.Stop()
	read()
	for {
		select {
		case <-stop:
			if ctx.Err() == nil {
				read()
			}
			return out
		case <-ctx.Done():
			return out
		case <-t.C:
			read()
		}
	}
}

// prober sends one probe per tick of o.ProbeEvery until stop is closed,
// one at a time, so probes add almost no load. A probe that is still out
// when later ticks fall due would, sent on time, have waited for the same
// stall: each such tick is recorded as a missed call whose latency runs
// from its tick to that answer, and the next probe goes out on the first
// tick after it (no coordinated omission: a 20 s stall weighs like the
// 400 probes that would have waited in it, not like one). probe returns
// false when it sent nothing; then its ticks are not counted.
func (r *runner) prober(stop <-chan struct{}, probe func() (Call, bool)) []Call {
	var out []Call
	tick := time.Now()
	for {
		if wait := time.Until(tick); wait > 0 {
			select {
			case <-stop:
				return out
			case <-time.After(wait):
			}
		}
		select {
		case <-stop:
			return out
		default:
		}
		c, sent := probe()
		end := time.Now()
		if sent {
			out = append(out, c)
		}
		for tick = tick.Add(r.o.ProbeEvery); tick.Before(end); tick = tick.Add(r.o.ProbeEvery) {
			if sent {
				out = append(out, Call{Stage: c.Stage, Missed: true, Elapsed: end.Sub(tick)})
			}
		}
	}
}

// probeSession keeps one live session for the session-get probe.
type probeSession struct {
	r        *runner
	s        *api.Session
	data     []byte
	created  int      // sessions created for the probe
	failures []string // why creating one failed, the first few
}

// ensure creates the probe's session when it has none. It tries up to
// attempts times, waiting after a 503 for its Retry-After (at most 1 s).
func (p *probeSession) ensure(ctx context.Context, attempts int) bool {
	for i := 0; i < attempts && p.s == nil && ctx.Err() == nil; i++ {
		c, s := p.r.create(ctx, p.data)
		if s != nil {
			p.s = s
			p.created++
			return true
		}
		if len(p.failures) < 3 {
			p.failures = append(p.failures, "create of the probe session answered "+c.Outcome)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return p.s != nil
}

// get is one session-get probe: a GET of the live session. A 404 means
// the session was lost (its worker died); the next probe creates another.
func (p *probeSession) get(ctx context.Context) (Call, bool) {
	if p.s == nil && !p.ensure(ctx, 1) {
		return Call{}, false
	}
	c, _ := p.r.call(ctx, ProbeSession, api.Request{Method: http.MethodGet, Path: api.SessionPath(p.s.ID)})
	if c.Status == http.StatusNotFound {
		p.s = nil
	}
	return c, true
}

// release deletes the probe's session, unrecorded.
func (p *probeSession) release() {
	if p.s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = p.r.c.Do(ctx, api.Request{Method: http.MethodDelete, Path: api.SessionPath(p.s.ID)})
	p.s = nil
}

// progress prints a line to r.log every 5 s until stop is closed.
func (r *runner) progress(stop <-chan struct{}, total int) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fmt.Fprintf(r.log, "steel-chaos: %d/%d flows done, %.0f s\n",
				atomic.LoadInt64(&r.done), total, time.Since(r.start).Seconds())
		}
	}
}

func newRunID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b)
}

// Run runs the load o describes with client c and returns what it
// measured. Progress lines go to log. Cancelling ctx stops it early
// (Result.Interrupted); sessions already created are still deleted.
func Run(ctx context.Context, o Options, c *api.Client, log io.Writer) *Result {
	r := &runner{o: o, c: c, runID: newRunID(), log: log}
	res := &Result{Mode: "flows", Flows: o.Flows, Parallel: o.Parallel}
	if o.Burst > 0 {
		res.Mode, res.Flows, res.Parallel = "burst", o.Burst, o.Burst
	}

	var ps *probeSession
	if o.ProbeDuring {
		ps = &probeSession{r: r, data: []byte(`{"chaos":"probe"}`)}
		if !ps.ensure(ctx, 3) {
			res.ProbeNotes = append(res.ProbeNotes, ps.failures...)
		}
	}

	r.start = time.Now()
	stop := make(chan struct{})
	var aux sync.WaitGroup
	var samples []Sample
	probes := map[string][]Call{}
	var mu sync.Mutex
	aux.Add(1)
	go func() {
		defer aux.Done()
		s := r.sampler(ctx, stop)
		mu.Lock()
		samples = s
		mu.Unlock()
	}()
	if o.ProbeDuring {
		aux.Add(2)
		go func() {
			defer aux.Done()
			calls := r.prober(stop, func() (Call, bool) {
				c, _ := r.call(ctx, ProbeHealth, api.Request{Method: http.MethodGet, Path: "/health"})
				return c, true
			})
			mu.Lock()
			probes[ProbeHealth] = calls
			mu.Unlock()
		}()
		go func() {
			defer aux.Done()
			calls := r.prober(stop, func() (Call, bool) { return ps.get(ctx) })
			mu.Lock()
			probes[ProbeSession] = calls
			mu.Unlock()
		}()
	}
	progStop := make(chan struct{})
	go r.progress(progStop, res.Flows)

	var flows []Flow
	if o.Burst > 0 {
		flows, res.Burst = r.runBurst(ctx)
	} else {
		flows = r.runFlows(ctx)
	}
	res.Wall = time.Since(r.start)
	close(progStop)
	close(stop)
	aux.Wait()

	res.Summary = Aggregate(flows)
	res.Samples = samples
	var sl []time.Duration
	for _, s := range samples {
		sl = append(sl, s.Elapsed)
	}
	res.StatusLat = Summarize(sl)
	if o.ProbeDuring {
		var all []Call
		for _, name := range ProbeNames {
			all = append(all, probes[name]...)
		}
		res.Probes = AggregateCalls(all)
		if ps.created > 1 {
			res.Replaced = ps.created - 1
		}
		if len(res.ProbeNotes) == 0 && len(probes[ProbeSession]) == 0 {
			res.ProbeNotes = append(res.ProbeNotes, ps.failures...)
		}
		ps.release()
	}
	res.Interrupted = ctx.Err() != nil
	return res
}
