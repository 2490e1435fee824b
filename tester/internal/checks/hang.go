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

func hangChecks() []Check {
	return []Check{
		{Slug: "hang", Group: GroupHang, Title: "A hung worker: bounded GET, creates go on, the worker is killed", run: checkHang},
	}
}

// hangSlack is how much later than --worker-deadline the GET may answer,
// for the network and the orchestrator's own bookkeeping.
const hangSlack = time.Second

// checkHang: the worker of a session is stopped with SIGSTOP. A GET of the
// session must answer (not 200) within the worker deadline; a create made
// meanwhile must succeed; the stopped process must be gone (or a zombie)
// within the kill bound. The worker is always continued afterwards.
func checkHang(ctx context.Context, e *Env) error {
	s, _, err := e.create(ctx, uniqueData("hang", 0))
	if err != nil {
		return err
	}
	w, err := e.findWorker(ctx, s.ID)
	if err != nil {
		return err
	}
	if err := e.Signal(w.Pid, SigStop); err != nil {
		return err
	}
	defer func() { _ = e.Signal(w.Pid, SigCont) }()
	stopped := e.Clock.Now()
	// The stop takes effect asynchronously; make sure it did before
	// asking anything of the worker.
	for !e.FS.Stopped(w.Pid) && !e.FS.Gone(w.Pid) {
		if e.Clock.Now().Sub(stopped) > 2*time.Second {
			return fmt.Errorf("sent SIGSTOP to %s but it did not stop", w)
		}
		if err := e.Clock.Sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}

	var getResp *api.Response
	var getErr, createErr error
	var getTook time.Duration
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.Now()
		getResp, getErr = e.API.Do(ctx, api.Request{Method: http.MethodGet, Path: api.SessionPath(s.ID), Timeout: e.Cfg.WorkerDeadline + hangSlack})
		getTook = time.Since(t)
	}()
	go func() {
		defer wg.Done()
		data := uniqueData("hang-create", 1)
		ns, _, err := e.create(ctx, data)
		if err == nil {
			err = sameJSON("data", data, ns.Data)
		}
		createErr = err
	}()
	wg.Wait()
	if getErr != nil {
		if api.IsTimeout(getErr) {
			return fmt.Errorf("GET of a session on a stopped worker: expected an answer within --worker-deadline %s, got none in %s",
				FormatSeconds(e.Cfg.WorkerDeadline), FormatSeconds(e.Cfg.WorkerDeadline+hangSlack))
		}
		return getErr
	}
	if getResp.Status == http.StatusOK {
		return fmt.Errorf("GET of a session on a stopped worker: expected an error status, got 200 %s", api.Snippet(getResp.Body))
	}
	if createErr != nil {
		return fmt.Errorf("create while %s is stopped: %v", w, createErr)
	}
	deadline := stopped.Add(e.Cfg.HangKillBound)
	for !e.FS.Gone(w.Pid) {
		if !e.Clock.Now().Before(deadline) {
			return fmt.Errorf("stopped %s still alive %s after SIGSTOP (expected killed within --hang-kill-bound %s; GET answered %d after %.1fs)",
				w, FormatSeconds(e.Clock.Now().Sub(stopped).Round(100*time.Millisecond)), FormatSeconds(e.Cfg.HangKillBound), getResp.Status, getTook.Seconds())
		}
		if err := e.Clock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
