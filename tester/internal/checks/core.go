// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/api"
)

// coreChecks are the challenge's seven checks.
func coreChecks(ttl time.Duration) []Check {
	return []Check{
		{Slug: "create", Group: GroupCore, Title: "Create session", run: checkCreate},
		{Slug: "get", Group: GroupCore, Title: "Get session", run: checkGet},
		{Slug: "delete", Group: GroupCore, Title: "Delete session", run: checkDelete},
		{Slug: "missing", Group: GroupCore, Title: "404 on missing session", run: checkMissing},
		{Slug: "concurrent", Group: GroupCore, Title: "Concurrent sessions (10 parallel)", run: checkConcurrent},
		{Slug: "ttl", Group: GroupCore, Title: "Session TTL expiration (" + FormatSeconds(ttl) + ")", run: checkTTL},
		{Slug: "recovery", Group: GroupCore, Title: "Worker failure recovery", run: checkRecovery},
	}
}

// checkCreate: POST {"user":"test"} gives 200 or 201 and a session whose
// data is what was sent.
func checkCreate(ctx context.Context, e *Env) error {
	data := []byte(`{"user":"test"}`)
	s, _, err := e.create(ctx, data)
	if err != nil {
		return err
	}
	return sameJSON("data", data, s.Data)
}

// checkGet: GET returns the same id, byte-identical created_at and the data.
func checkGet(ctx context.Context, e *Env) error {
	data := uniqueData("get", 0)
	s, _, err := e.create(ctx, data)
	if err != nil {
		return err
	}
	return expectSession(ctx, e, s, data)
}

// expectSession GETs s and compares it with what the create returned.
func expectSession(ctx context.Context, e *Env, s *api.Session, data []byte) error {
	resp, g, err := e.API.GetSession(ctx, s.ID)
	if err != nil {
		return err
	}
	if err := expectStatus("GET "+api.SessionPath(s.ID), resp, http.StatusOK); err != nil {
		return err
	}
	if g.ID != s.ID {
		return fmt.Errorf("GET %s: expected id %q, got %q", api.SessionPath(s.ID), s.ID, g.ID)
	}
	if !bytes.Equal(g.CreatedAt, s.CreatedAt) {
		return fmt.Errorf("created_at changed between POST and GET: expected %s, got %s", short(s.CreatedAt), short(g.CreatedAt))
	}
	return sameJSON("data of GET "+api.SessionPath(s.ID), data, g.Data)
}

// checkDelete: DELETE gives 204, then GET gives 404.
func checkDelete(ctx context.Context, e *Env) error {
	s, _, err := e.create(ctx, uniqueData("delete", 0))
	if err != nil {
		return err
	}
	path := api.SessionPath(s.ID)
	resp, err := e.API.Delete(ctx, path)
	if err != nil {
		return err
	}
	if err := expectStatus("DELETE "+path, resp, http.StatusNoContent); err != nil {
		return err
	}
	resp, err = e.API.Get(ctx, path)
	if err != nil {
		return err
	}
	return expectStatus("GET "+path+" after DELETE", resp, http.StatusNotFound)
}

// checkMissing: GET of an id nobody created gives 404.
func checkMissing(ctx context.Context, e *Env) error {
	path := api.SessionPath(randomID())
	resp, err := e.API.Get(ctx, path)
	if err != nil {
		return err
	}
	return expectStatus("GET "+path, resp, http.StatusNotFound)
}

// createMany creates n sessions in parallel, each with its own data, and
// returns them in order; the first failure is returned.
func createMany(ctx context.Context, e *Env, check string, n int) ([]*api.Session, [][]byte, error) {
	sessions := make([]*api.Session, n)
	datas := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		datas[i] = uniqueData(check, i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, _, err := e.create(ctx, datas[i])
			if err == nil {
				err = sameJSON("data", datas[i], s.Data)
			}
			sessions[i], errs[i] = s, err
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("create %d of %d: %v", i+1, n, err)
		}
	}
	seen := make(map[string]int)
	for i, s := range sessions {
		if j, dup := seen[s.ID]; dup {
			return nil, nil, fmt.Errorf("creates %d and %d both got id %q", j+1, i+1, s.ID)
		}
		seen[s.ID] = i
	}
	return sessions, datas, nil
}

// expectOwnData GETs every session in parallel and checks each returns its
// own data: two sessions on one worker would show the other's data or 404.
func expectOwnData(ctx context.Context, e *Env, sessions []*api.Session, datas [][]byte) error {
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range sessions {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = expectSession(ctx, e, sessions[i], datas[i])
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("session %d of %d: %v", i+1, len(sessions), err)
		}
	}
	return nil
}

// checkConcurrent: ten parallel creates succeed with distinct ids, each
// session keeps its own data, and all can be deleted.
func checkConcurrent(ctx context.Context, e *Env) error {
	const n = 10
	sessions, datas, err := createMany(ctx, e, "concurrent", n)
	if err != nil {
		return err
	}
	if err := expectOwnData(ctx, e, sessions, datas); err != nil {
		return err
	}
	for _, s := range sessions {
		resp, err := e.API.Delete(ctx, api.SessionPath(s.ID))
		if err != nil {
			return err
		}
		if err := expectStatus("DELETE "+api.SessionPath(s.ID), resp, http.StatusNoContent); err != nil {
			return err
		}
	}
	return nil
}

// notBefore is how long after the last activity a session must still be
// alive in the TTL checks: a second before the TTL, or half of a short TTL.
func notBefore(ttl time.Duration) time.Duration {
	if ttl >= 2*time.Second {
		return ttl - time.Second
	}
	return ttl / 2
}

// createPair creates two sessions at the same moment (data tagged with
// the two slugs), so that TTL checks can compare them from one start time.
func createPair(ctx context.Context, e *Env, slugA, slugB string) (*api.Session, *api.Session, error) {
	var a, b *api.Session
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, _, errA = e.create(ctx, uniqueData(slugA, 0)) }()
	go func() { defer wg.Done(); b, _, errB = e.create(ctx, uniqueData(slugB, 1)) }()
	wg.Wait()
	if errA != nil {
		return nil, nil, errA
	}
	return a, b, errB
}

// expiryGrace is how late after the TTL a session may still answer.
const expiryGrace = 500 * time.Millisecond

// checkTTL: two sessions A and B are created together and left alone. B
// must still answer 200 shortly before the TTL (that GET refreshes only B);
// A must answer 404 half a second after the TTL.
func checkTTL(ctx context.Context, e *Env) error {
	ttl := e.Cfg.TTL
	a, b, err := createPair(ctx, e, "ttl-a", "ttl-b")
	if err != nil {
		return err
	}
	t0 := e.Clock.Now()
	if err := e.waitUntil(ctx, t0.Add(notBefore(ttl)), "checking a session is still alive before the TTL"); err != nil {
		return err
	}
	resp, err := e.API.Get(ctx, api.SessionPath(b.ID))
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("session expired early: GET %.1fs after creation (ttl %s): expected 200, got %d %s",
			notBefore(ttl).Seconds(), FormatSeconds(ttl), resp.Status, api.Snippet(resp.Body))
	}
	if err := e.waitUntil(ctx, t0.Add(ttl+expiryGrace), "waiting for the session TTL"); err != nil {
		return err
	}
	resp, err = e.API.Get(ctx, api.SessionPath(a.ID))
	if err != nil {
		return err
	}
	if resp.Status != http.StatusNotFound {
		return fmt.Errorf("session did not expire: GET %.1fs after creation (ttl %s): expected 404, got %d %s",
			(ttl + expiryGrace).Seconds(), FormatSeconds(ttl), resp.Status, api.Snippet(resp.Body))
	}
	return nil
}

// checkRecovery: the worker holding a session is killed; the session then
// answers 404 (5xx allowed meanwhile, never 200) within five seconds, and a
// new create succeeds within ten (503 with Retry-After allowed meanwhile).
func checkRecovery(ctx context.Context, e *Env) error {
	s, _, err := e.create(ctx, uniqueData("recovery", 0))
	if err != nil {
		return err
	}
	w, err := e.findWorker(ctx, s.ID)
	if err != nil {
		return err
	}
	if err := e.Signal(w.Pid, SigKill); err != nil {
		return err
	}
	killed := e.Clock.Now()
	path := api.SessionPath(s.ID)
	last := ""
	for {
		resp, err := e.API.Get(ctx, path)
		if err != nil {
			return fmt.Errorf("after killing %s: %v", w, err)
		}
		switch {
		case resp.Status == http.StatusNotFound:
			last = ""
		case resp.Status >= 500:
			last = fmt.Sprintf("%d %s", resp.Status, api.Snippet(resp.Body))
		default:
			return fmt.Errorf("after killing %s: GET %s: expected 404 (or 5xx while recovering), got %d %s",
				w, path, resp.Status, api.Snippet(resp.Body))
		}
		if last == "" {
			break
		}
		if e.Clock.Now().Sub(killed) > 5*time.Second {
			return fmt.Errorf("after killing %s: GET %s: expected 404 within 5s, still %s", w, path, last)
		}
		if err := e.Clock.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return createRecovers(ctx, e, 10*time.Second, "after killing "+w.String())
}

// createRecovers creates a session, allowing 503 with Retry-After for up to
// limit; anything else than a good session or such a 503 fails.
func createRecovers(ctx context.Context, e *Env, limit time.Duration, when string) error {
	start := e.Clock.Now()
	for {
		data := uniqueData("recovery-create", 0)
		resp, s, err := e.API.CreateSession(ctx, data, nil)
		if err != nil {
			return fmt.Errorf("%s: %v", when, err)
		}
		if s != nil {
			e.track(s.ID)
			return sameJSON("data", data, s.Data)
		}
		if resp.Status != http.StatusServiceUnavailable {
			return fmt.Errorf("%s: POST /sessions: expected 200 or 201 (or 503 while the pool refills), got %d %s",
				when, resp.Status, api.Snippet(resp.Body))
		}
		ra, ok := api.RetryAfter(resp)
		if !ok {
			return fmt.Errorf("%s: POST /sessions answered 503 without a Retry-After header", when)
		}
		if e.Clock.Now().Sub(start) > limit {
			return fmt.Errorf("%s: POST /sessions: expected a session within %s, still 503 %s", when, FormatSeconds(limit), api.Snippet(resp.Body))
		}
		wait := 200 * time.Millisecond
		if ra > 0 && ra < wait {
			wait = ra
		}
		if err := e.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
