// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"

	"steel-orchestrator/tester/internal/api"
)

func idempotencyChecks() []Check {
	return []Check{
		{Slug: "idem-replay", Group: GroupIdempotency, Title: "A repeated Idempotency-Key returns the same session", run: checkIdemReplay},
		{Slug: "idem-conflict", Group: GroupIdempotency, Title: "A reused Idempotency-Key with another body answers 422", run: checkIdemConflict},
		{Slug: "idem-parallel", Group: GroupIdempotency, Title: "Parallel creates with one Idempotency-Key make one session", run: checkIdemParallel},
	}
}

func idemKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "steel-tester-" + hex.EncodeToString(b[:])
}

// busyCount returns workers.busy and sessions from /status; ok is false
// when /status does not report them.
func busyCount(ctx context.Context, e *Env) (busy, sessions float64, ok bool) {
	st, found, err := e.API.GetStatus(ctx)
	if !found || err != nil {
		return 0, 0, false
	}
	b, okb := st.Worker("busy")
	if !okb || st.Sessions == nil {
		return 0, 0, false
	}
	return b, *st.Sessions, true
}

// idemPost posts body with key once (no 503 retry) and tracks a session.
func idemPost(ctx context.Context, e *Env, key string, body []byte) (*api.Response, *api.Session, error) {
	resp, s, err := e.API.CreateSession(ctx, body, map[string]string{"Idempotency-Key": key})
	if s != nil {
		e.track(s.ID)
	}
	return resp, s, err
}

// checkIdemReplay: the same key and body twice give the same id and the
// same body, and only one worker is claimed.
func checkIdemReplay(ctx context.Context, e *Env) error {
	key := idemKey()
	body := uniqueData("idem-replay", 0)
	busy0, sess0, counted := busyCount(ctx, e)
	r1, s1, err := idemPost(ctx, e, key, body)
	if err != nil {
		return err
	}
	if s1 == nil {
		return expectStatus("first POST with Idempotency-Key", r1, http.StatusOK, http.StatusCreated)
	}
	r2, s2, err := idemPost(ctx, e, key, body)
	if err != nil {
		return err
	}
	if s2 == nil {
		return expectStatus("second POST with the same Idempotency-Key", r2, http.StatusOK, http.StatusCreated)
	}
	if s1.ID != s2.ID {
		return fmt.Errorf("same Idempotency-Key: expected the same id twice, got %q and %q", s1.ID, s2.ID)
	}
	if !bytes.Equal(bytes.TrimSpace(r1.Body), bytes.TrimSpace(r2.Body)) {
		return fmt.Errorf("same Idempotency-Key: expected the same body twice, got %s and %s", short(r1.Body), short(r2.Body))
	}
	if counted {
		busy1, sess1, ok := busyCount(ctx, e)
		if ok && (busy1-busy0 > 1 || sess1-sess0 > 1) {
			return fmt.Errorf("same Idempotency-Key: expected one more busy worker and session, got busy %+g, sessions %+g",
				busy1-busy0, sess1-sess0)
		}
	}
	return nil
}

// checkIdemConflict: the same key with a different body answers 422.
func checkIdemConflict(ctx context.Context, e *Env) error {
	key := idemKey()
	r1, s1, err := idemPost(ctx, e, key, uniqueData("idem-conflict", 0))
	if err != nil {
		return err
	}
	if s1 == nil {
		return expectStatus("first POST with Idempotency-Key", r1, http.StatusOK, http.StatusCreated)
	}
	r2, s2, err := idemPost(ctx, e, key, uniqueData("idem-conflict", 1))
	if err != nil {
		return err
	}
	if s2 != nil {
		return fmt.Errorf("same Idempotency-Key with another body: expected 422, got %d with session %q", r2.Status, s2.ID)
	}
	if err := expectStatus("same Idempotency-Key with another body", r2, http.StatusUnprocessableEntity); err != nil {
		return err
	}
	return api.CheckErrorShape(r2)
}

// checkIdemParallel: five parallel creates with one key all get the same
// session (a 409 JSON error for a create still in progress is accepted),
// and at most one worker is claimed.
func checkIdemParallel(ctx context.Context, e *Env) error {
	const n = 5
	key := idemKey()
	body := uniqueData("idem-parallel", 0)
	busy0, sess0, counted := busyCount(ctx, e)
	resps := make([]*api.Response, n)
	sessions := make([]*api.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			resps[i], sessions[i], errs[i] = idemPost(ctx, e, key, body)
		}(i)
	}
	close(start)
	wg.Wait()
	ids := make(map[string]bool)
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			return fmt.Errorf("create %d of %d: %v", i+1, n, errs[i])
		}
		if sessions[i] != nil {
			ids[sessions[i].ID] = true
			continue
		}
		if resps[i].Status == http.StatusConflict {
			if err := api.CheckErrorShape(resps[i]); err != nil {
				return fmt.Errorf("create %d of %d: %v", i+1, n, err)
			}
			continue
		}
		return expectStatus(fmt.Sprintf("create %d of %d with one Idempotency-Key", i+1, n), resps[i], http.StatusOK, http.StatusCreated, http.StatusConflict)
	}
	if len(ids) != 1 {
		return fmt.Errorf("%d parallel creates with one Idempotency-Key: expected 1 session, got %d", n, len(ids))
	}
	if counted {
		busy1, sess1, ok := busyCount(ctx, e)
		if ok && (busy1-busy0 > 1 || sess1-sess0 > 1) {
			return fmt.Errorf("%d parallel creates with one Idempotency-Key: expected one more busy worker and session, got busy %+g, sessions %+g",
				n, busy1-busy0, sess1-sess0)
		}
	}
	return nil
}
