// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/workers"
)

func leakChecks() []Check {
	return []Check{
		{Slug: "leak-cycles", Group: GroupLeaks, Title: "100 create/delete cycles give every worker back", run: checkLeakCycles},
		{Slug: "leak-zombies", Group: GroupLeaks, Title: "No zombie worker processes", run: checkLeakZombies},
	}
}

// checkLeakCycles: four clients each create and delete 25 sessions; then,
// within ten seconds, no worker is lost (workers.idle is back to at least
// its starting value, less one) and none is left holding a deleted session
// (workers.busy is back to at most its starting value, plus one).  More
// idle workers than before is no leak: a pool that kept its idle target
// during the churn retires the surplus later.
func checkLeakCycles(ctx context.Context, e *Env) error {
	idle0, haveIdle := 0.0, false
	busy0, haveBusy := 0.0, false
	if st, found, err := e.API.GetStatus(ctx); found && err == nil {
		idle0, haveIdle = st.Worker("idle")
		busy0, haveBusy = st.Worker("busy")
	}
	const clients, rounds = 4, 25
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < rounds && errs[c] == nil; i++ {
				s, _, err := e.create(ctx, uniqueData("leak-cycles", c*rounds+i))
				if err != nil {
					errs[c] = fmt.Errorf("cycle %d: %v", c*rounds+i+1, err)
					return
				}
				resp, err := e.API.Delete(ctx, api.SessionPath(s.ID))
				if err == nil {
					err = expectStatus("DELETE "+api.SessionPath(s.ID), resp, http.StatusNoContent)
				}
				if err != nil {
					errs[c] = fmt.Errorf("cycle %d: %v", c*rounds+i+1, err)
				}
			}
		}(c)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if !haveIdle {
		return skipf("100 cycles passed, but GET /status reports no workers.idle to compare")
	}
	deadline := e.Clock.Now().Add(10 * time.Second)
	last, lastBusy := math.NaN(), math.NaN()
	for {
		if st, found, err := e.API.GetStatus(ctx); found && err == nil {
			if idle, ok := st.Worker("idle"); ok {
				last = idle
				busyOK := true
				if busy, ok := st.Worker("busy"); ok && haveBusy {
					lastBusy = busy
					busyOK = busy <= busy0+1
				}
				if idle >= idle0-1 && busyOK {
					return nil
				}
			}
		}
		if !e.Clock.Now().Before(deadline) {
			return fmt.Errorf("after 100 create/delete cycles: expected workers.idle >= %g and workers.busy <= %g within 10s, got idle %g, busy %g", idle0-1, busy0+1, last, lastBusy)
		}
		if err := e.Clock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// checkLeakZombies: no local process whose name mentions steel-browser stays
// a zombie for more than three seconds.
func checkLeakZombies(ctx context.Context, e *Env) error {
	if err := e.localOnly(); err != nil {
		return err
	}
	if !workers.IsLoopbackHost(e.API.Base().Hostname()) {
		return skipf("orchestrator %s is not on this host", e.API.Base().Host)
	}
	if _, err := os.Stat(e.FS.Root + "/self"); err != nil {
		return skipf("no /proc here")
	}
	deadline := e.Clock.Now().Add(3 * time.Second)
	for {
		zs, err := e.FS.Zombies("steel-browser")
		if err != nil {
			return skipf("cannot read processes: %v", err)
		}
		if len(zs) == 0 {
			return nil
		}
		if !e.Clock.Now().Before(deadline) {
			z := zs[0]
			return fmt.Errorf("expected no zombie workers, got %d, e.g. pid %d (%s) of parent %d", len(zs), z.Pid, z.Comm, z.PPid)
		}
		if err := e.Clock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
