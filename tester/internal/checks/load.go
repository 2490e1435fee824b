// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/api"
)

func loadChecks() []Check {
	return []Check{
		{Slug: "load", Group: GroupLoad, Title: "More parallel creates than idle workers: success or 503 with Retry-After", run: checkLoad},
	}
}

// loadCreates is how many creates checkLoad sends: five more than the idle
// workers /status reports, else 50, at most 200.
func loadCreates(st *api.Status) int {
	if idle, ok := st.Worker("idle"); ok && idle >= 0 {
		n := int(idle) + 5
		if n > 200 {
			n = 200
		}
		return n
	}
	return 50
}

// createDeadline is the client deadline of a create that may wait for a
// worker: the orchestrator's create_wait (from /status) plus a margin, or
// the client's default when that is longer or unknown.
func createDeadline(e *Env, st *api.Status) time.Duration {
	timeout := e.API.Timeout()
	if st == nil {
		return timeout
	}
	if cw, ok := st.Limit("create_wait"); ok && cw > 0 {
		if d := time.Duration(cw*float64(time.Second)) + 5*time.Second; d > timeout {
			timeout = d
		}
	}
	return timeout
}

// createOnce sends one POST /sessions with data and the given deadline,
// without retrying a 503 (the load and crash checks judge those
// themselves).  A 2xx answer is parsed into a session, which is tracked
// for deletion after the check.
func createOnce(ctx context.Context, e *Env, data []byte, timeout time.Duration) (*api.Response, *api.Session, error) {
	resp, err := e.API.Do(ctx, api.Request{Method: http.MethodPost, Path: "/sessions", Body: data, Timeout: timeout})
	if err != nil || (resp.Status != http.StatusOK && resp.Status != http.StatusCreated) {
		return resp, nil, err
	}
	s, err := api.ParseSession(resp.Body)
	if s != nil {
		e.track(s.ID)
	}
	return resp, s, err
}

// checkLoad: every create of a burst larger than the idle pool either
// succeeds or answers 503 with Retry-After and a JSON error; no two
// successes share an id or a worker (each GET returns its own data).
func checkLoad(ctx context.Context, e *Env) error {
	st, _, _ := e.API.GetStatus(ctx)
	n := loadCreates(st)
	timeout := createDeadline(e, st)
	type outcome struct {
		resp  *api.Response
		s     *api.Session
		data  []byte
		err   error
		own   error     // the GET right after this create
		getAt time.Time // when that GET refreshed the session
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		out[i].data = uniqueData("load", i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i].resp, out[i].s, out[i].err = createOnce(ctx, e, out[i].data, timeout)
			if out[i].s != nil {
				// Checked at once too: the burst may outlast a short
				// TTL before the final round below.
				out[i].own = expectSession(ctx, e, out[i].s, out[i].data)
				out[i].getAt = time.Now()
			}
		}(i)
	}
	close(start)
	wg.Wait()
	var sessions, live []*api.Session
	var liveData [][]byte
	rejected := 0
	for i, o := range out {
		if o.err != nil {
			return fmt.Errorf("create %d of %d: %v", i+1, n, o.err)
		}
		if o.s != nil {
			if o.own != nil {
				return fmt.Errorf("create %d of %d, GET right after: %v", i+1, n, o.own)
			}
			sessions = append(sessions, o.s)
			// The final round proves that no later create took this
			// session's worker; it can only ask sessions whose TTL
			// has not run out since their last GET.
			if time.Since(o.getAt) < e.Cfg.TTL-500*time.Millisecond {
				live = append(live, o.s)
				liveData = append(liveData, o.data)
			}
			continue
		}
		if o.resp.Status != http.StatusServiceUnavailable {
			return expectStatus(fmt.Sprintf("create %d of %d", i+1, n), o.resp, http.StatusOK, http.StatusCreated, http.StatusServiceUnavailable)
		}
		if _, ok := api.RetryAfter(o.resp); !ok {
			return fmt.Errorf("create %d of %d: 503 without a Retry-After header", i+1, n)
		}
		if err := api.CheckErrorShape(o.resp); err != nil {
			return fmt.Errorf("create %d of %d: %v", i+1, n, err)
		}
		rejected++
	}
	if len(sessions) == 0 {
		return fmt.Errorf("%d parallel creates: none succeeded (%d answered 503)", n, rejected)
	}
	seen := make(map[string]bool)
	for _, s := range sessions {
		if seen[s.ID] {
			return fmt.Errorf("%d parallel creates: id %q given twice", n, s.ID)
		}
		seen[s.ID] = true
	}
	return expectOwnData(ctx, e, live, liveData)
}
