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

func ttlChecks() []Check {
	return []Check{
		{Slug: "ttl-refresh", Group: GroupTTL, Title: "A GET refreshes the session TTL", run: checkTTLRefresh},
		{Slug: "ttl-reuse", Group: GroupTTL, Title: "An expired session's worker is reused", run: checkTTLReuse},
	}
}

// getAll GETs each session and requires 200.
func getAll(ctx context.Context, e *Env, when string, ss ...*api.Session) error {
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Add(1)
		go func(i int, s *api.Session) {
			defer wg.Done()
			resp, err := e.API.Get(ctx, api.SessionPath(s.ID))
			if err != nil {
				errs[i] = err
				return
			}
			if resp.Status != http.StatusOK {
				errs[i] = fmt.Errorf("%s: GET %s: expected 200, got %d %s", when, api.SessionPath(s.ID), resp.Status, api.Snippet(resp.Body))
			}
		}(i, s)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkTTLRefresh: sessions R and S are created together and read at 0.6
// and 1.3 times the TTL: both reads must succeed, the second one 0.7 TTL
// after the refresh but past the TTL from creation. From the last read, S
// must still be alive shortly before the TTL, and R gone half a second after.
func checkTTLRefresh(ctx context.Context, e *Env) error {
	ttl := e.Cfg.TTL
	r, s, err := createPair(ctx, e, "ttl-refresh-r", "ttl-refresh-s")
	if err != nil {
		return err
	}
	t0 := e.Clock.Now()
	at := func(f float64) time.Time { return t0.Add(time.Duration(f * float64(ttl))) }
	if err := e.waitUntil(ctx, at(0.6), "reading the sessions at 0.6 TTL"); err != nil {
		return err
	}
	if err := getAll(ctx, e, "0.6 TTL after creation", r, s); err != nil {
		return err
	}
	if err := e.waitUntil(ctx, at(1.3), "reading again at 1.3 TTL"); err != nil {
		return err
	}
	if err := getAll(ctx, e, "1.3 TTL after creation, 0.7 TTL after a refreshing GET (the GET did not refresh the TTL?)", r, s); err != nil {
		return err
	}
	last := e.Clock.Now()
	if err := e.waitUntil(ctx, last.Add(notBefore(ttl)), "checking the refreshed session is alive before the TTL"); err != nil {
		return err
	}
	if err := getAll(ctx, e, fmt.Sprintf("%.1fs after the last GET (ttl %s)", notBefore(ttl).Seconds(), FormatSeconds(ttl)), s); err != nil {
		return err
	}
	if err := e.waitUntil(ctx, last.Add(ttl+expiryGrace), "waiting for the refreshed session to expire"); err != nil {
		return err
	}
	resp, err := e.API.Get(ctx, api.SessionPath(r.ID))
	if err != nil {
		return err
	}
	if resp.Status != http.StatusNotFound {
		return fmt.Errorf("refreshed session did not expire: GET %.1fs after the last GET (ttl %s): expected 404, got %d %s",
			(ttl + expiryGrace).Seconds(), FormatSeconds(ttl), resp.Status, api.Snippet(resp.Body))
	}
	return nil
}

// checkTTLReuse: a session is left to expire; within TTL+5s the worker that
// held it must hold one of the new sessions created afterwards (creates are
// kept open until it does, or until every idle worker has one).
func checkTTLReuse(ctx context.Context, e *Env) error {
	if err := e.localOnly(); err != nil {
		return err
	}
	ttl := e.Cfg.TTL
	x, _, err := e.create(ctx, uniqueData("ttl-reuse", 0))
	if err != nil {
		return err
	}
	t0 := e.Clock.Now()
	w, err := e.findWorker(ctx, x.ID)
	if err != nil {
		return err
	}
	if err := e.waitUntil(ctx, t0.Add(ttl+expiryGrace), "waiting for the session to expire"); err != nil {
		return err
	}
	resp, err := e.API.Get(ctx, api.SessionPath(x.ID))
	if err != nil {
		return err
	}
	if err := expectStatus("GET of the expired session", resp, http.StatusNotFound); err != nil {
		return err
	}
	deadline := t0.Add(ttl + 5*time.Second)
	ours := make(map[string]bool)
	limit := 64
	if st, found, err := e.API.GetStatus(ctx); found && err == nil {
		if idle, ok := st.Worker("idle"); ok && int(idle)+3 < limit {
			limit = int(idle) + 3
		}
	}
	created := 0
	for {
		st, err := e.Locator.ProbeStatus(ctx, w.Host, w.Port)
		if err == nil && ours[st.SessionID] {
			return nil
		}
		if !e.Clock.Now().Before(deadline) {
			return fmt.Errorf("%s held the expired session but holds none of %d new sessions %s after creation (ttl %s + 5s)",
				w, created, FormatSeconds(e.Clock.Now().Sub(t0).Round(100*time.Millisecond)), FormatSeconds(ttl))
		}
		if err == nil && st.Available && created < limit {
			resp, s, err := e.API.CreateSession(ctx, uniqueData("ttl-reuse-new", created), nil)
			if err != nil {
				return err
			}
			if s != nil {
				e.track(s.ID)
				ours[s.ID] = true
				created++
				continue
			}
			if resp.Status != http.StatusServiceUnavailable {
				return expectStatus("POST /sessions", resp, http.StatusOK, http.StatusCreated, http.StatusServiceUnavailable)
			}
		}
		if err := e.Clock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
