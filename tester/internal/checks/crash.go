// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/workers"
)

func crashChecks() []Check {
	return []Check{
		{Slug: "crash-create", Group: GroupCrash, Title: "Workers killed during creates: every create answers cleanly", run: checkCrashCreate},
	}
}

// idleWorkers returns the local workers of this orchestrator that say they
// are available. With GET /workers only the listed workers count; without
// it, any local worker whose process name mentions steel-browser.
func idleWorkers(ctx context.Context, e *Env) ([]workers.Worker, error) {
	listed, found, _ := e.API.GetWorkers(ctx)
	var out []workers.Worker
	if found {
		for _, h := range listed {
			if h.Port <= 0 || !workers.IsLoopbackHost(h.Host) {
				continue
			}
			host := workers.ProbeHost(h.Host)
			st, err := e.Locator.ProbeStatus(ctx, host, h.Port)
			if err != nil || !st.Available {
				continue
			}
			w := workers.Worker{Host: host, Port: h.Port, Status: st, Pid: e.Locator.PidForPort(h.Port)}
			if w.Pid > 0 {
				out = append(out, w)
			}
		}
		return out, nil
	}
	all, err := e.Locator.Scan(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range all {
		if w.Status.Available && w.Pid > 0 && workers.LooksLikeWorker(e.FS, w.Pid) {
			out = append(out, w)
		}
	}
	return out, nil
}

// checkCrashCreate: while a burst of creates is in flight, idle local
// workers are killed two at a time. Every create must answer within the
// client deadline with a good session or a 5xx JSON error; afterwards a
// create must succeed again within fifteen seconds.
func checkCrashCreate(ctx context.Context, e *Env) error {
	if err := e.localOnly(); err != nil {
		return err
	}
	if !workers.IsLoopbackHost(e.API.Base().Hostname()) {
		return skipf("orchestrator %s is not on this host", e.API.Base().Host)
	}
	idle, err := idleWorkers(ctx, e)
	if err != nil {
		return skipf("cannot list local workers: %v", err)
	}
	if len(idle) == 0 {
		return skipf("no idle local worker to kill")
	}
	const n = 12
	// A create may wait create_wait for a replacement worker: the client
	// deadline is that plus a margin, as in the load check.
	st, _, _ := e.API.GetStatus(ctx)
	timeout := createDeadline(e, st)
	type outcome struct {
		resp *api.Response
		s    *api.Session
		data []byte
		err  error
	}
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		out[i].data = uniqueData("crash-create", i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i].resp, out[i].s, out[i].err = createOnce(ctx, e, out[i].data, timeout)
		}(i)
	}
	killed := 0
	var killErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for round := 0; round < 4; round++ {
			ws := idle
			if round > 0 {
				ws, _ = idleWorkers(ctx, e)
			}
			for j := 0; j < 2 && j < len(ws); j++ {
				if err := e.Signal(ws[j].Pid, SigKill); err == nil {
					killed++
				} else if killErr == nil {
					killErr = err
				}
			}
			if round == 0 {
				close(start)
			}
			time.Sleep(30 * time.Millisecond)
		}
	}()
	<-done
	wg.Wait()
	if killed == 0 {
		if killErr != nil {
			return skipf("could not kill any idle worker: %v", killErr)
		}
		return skipf("no idle local worker to kill")
	}
	for i, o := range out {
		if o.err != nil {
			return fmt.Errorf("create %d of %d while %d workers were killed: %v", i+1, n, killed, o.err)
		}
		if o.s != nil {
			if err := sameJSON("data", o.data, o.s.Data); err != nil {
				return fmt.Errorf("create %d of %d: %v", i+1, n, err)
			}
			continue
		}
		if o.resp.Status < 500 {
			return expectStatus(fmt.Sprintf("create %d of %d while workers were killed", i+1, n), o.resp, http.StatusOK, http.StatusCreated, 502, 503)
		}
		if err := api.CheckErrorShape(o.resp); err != nil {
			return fmt.Errorf("create %d of %d while workers were killed: %v", i+1, n, err)
		}
	}
	return createRecovers(ctx, e, 15*time.Second, fmt.Sprintf("after killing %d idle workers", killed))
}
