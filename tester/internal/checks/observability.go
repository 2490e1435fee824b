// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/prom"
)

func observabilityChecks() []Check {
	return []Check{
		{Slug: "status-shape", Group: GroupObservability, Title: "GET /status reports availability, workers and sessions", run: checkStatusShape},
		{Slug: "status-counts", Group: GroupObservability, Title: "GET /status counts follow new sessions", run: checkStatusCounts},
		{Slug: "workers-list", Group: GroupObservability, Title: "GET /workers lists each session with its worker", run: checkWorkersList},
		{Slug: "metrics", Group: GroupObservability, Title: "GET /metrics is valid Prometheus text and counts creates", run: checkMetrics},
	}
}

// workerStates are the states /status is expected to count.
var workerStates = []string{"starting", "idle", "busy", "releasing", "dead"}

// checkStatusShape: "available" is a boolean, "workers" an object of state
// counts, "sessions" a number.
func checkStatusShape(ctx context.Context, e *Env) error {
	resp, err := e.API.Get(ctx, "/status")
	if err != nil {
		return err
	}
	if resp.Status == http.StatusNotFound {
		return skipf("GET /status answers 404 (not implemented)")
	}
	if err := expectStatus("GET /status", resp, http.StatusOK); err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("GET /status: expected Content-Type application/json, got %q", resp.Header.Get("Content-Type"))
	}
	st, err := api.ParseStatus(resp.Body)
	if err != nil {
		return err
	}
	if st.Available == nil {
		return fmt.Errorf("GET /status: expected a boolean \"available\", got %s", short(st.Raw["available"]))
	}
	if st.Workers == nil {
		return fmt.Errorf("GET /status: expected an object \"workers\" of state counts, got %s", short(st.Raw["workers"]))
	}
	var missing []string
	for _, s := range workerStates {
		if _, ok := st.Workers[s]; !ok {
			missing = append(missing, s)
		}
	}
	if len(missing) == len(workerStates) {
		return fmt.Errorf("GET /status: \"workers\" counts none of %v: %s", workerStates, short(st.Raw["workers"]))
	}
	if st.Sessions == nil {
		return fmt.Errorf("GET /status: expected a number \"sessions\", got %s", short(st.Raw["sessions"]))
	}
	return nil
}

// checkStatusCounts: after three creates, workers.busy and sessions each
// rose by at least three.
func checkStatusCounts(ctx context.Context, e *Env) error {
	st0, found, err := e.API.GetStatus(ctx)
	if err != nil {
		return err
	}
	if !found {
		return skipf("GET /status answers 404 (not implemented)")
	}
	busy0, okb := st0.Worker("busy")
	if !okb || st0.Sessions == nil {
		return skipf("GET /status reports no workers.busy or sessions")
	}
	sess0 := *st0.Sessions
	if _, _, err := createMany(ctx, e, "status-counts", 3); err != nil {
		return err
	}
	st1, _, err := e.API.GetStatus(ctx)
	if err != nil {
		return err
	}
	busy1, _ := st1.Worker("busy")
	sess1 := 0.0
	if st1.Sessions != nil {
		sess1 = *st1.Sessions
	}
	if busy1-busy0 < 3 || sess1-sess0 < 3 {
		return fmt.Errorf("after 3 creates: expected workers.busy and sessions to rise by at least 3, got busy %g -> %g, sessions %g -> %g",
			busy0, busy1, sess0, sess1)
	}
	return nil
}

// checkWorkersList: every new session appears in GET /workers on a worker
// with a host and a port.
func checkWorkersList(ctx context.Context, e *Env) error {
	if _, found, err := e.API.GetWorkers(ctx); err != nil {
		return err
	} else if !found {
		return skipf("GET /workers answers 404 (not implemented)")
	}
	sessions, _, err := createMany(ctx, e, "workers-list", 3)
	if err != nil {
		return err
	}
	ws, _, err := e.API.GetWorkers(ctx)
	if err != nil {
		return err
	}
	bySession := make(map[string]api.WorkerInfo)
	for _, w := range ws {
		if id := w.SessionID(); id != "" {
			if prev, dup := bySession[id]; dup {
				return fmt.Errorf("GET /workers: session %s on two workers (%s:%d and %s:%d)", id, prev.Host, prev.Port, w.Host, w.Port)
			}
			bySession[id] = w
		}
	}
	for _, s := range sessions {
		w, ok := bySession[s.ID]
		if !ok {
			return fmt.Errorf("GET /workers: session %s not listed on any of %d workers", s.ID, len(ws))
		}
		if w.Host == "" || w.Port <= 0 {
			return fmt.Errorf("GET /workers: the worker of session %s has no host or port: %s", s.ID, marshal(w))
		}
	}
	return nil
}

func marshal(v interface{}) string {
	b, _ := json.Marshal(v)
	return short(b)
}

// checkMetrics: /metrics parses as the text exposition format and a
// *sessions_created* metric rises after a create.
func checkMetrics(ctx context.Context, e *Env) error {
	before, err := fetchMetrics(ctx, e)
	if err != nil {
		return err
	}
	n0, found := before.Sum("sessions_created")
	if !found {
		return fmt.Errorf("GET /metrics: expected a metric whose name contains sessions_created, found none among %d samples", len(before.Samples))
	}
	if _, _, err := e.create(ctx, uniqueData("metrics", 0)); err != nil {
		return err
	}
	after, err := fetchMetrics(ctx, e)
	if err != nil {
		return err
	}
	n1, _ := after.Sum("sessions_created")
	if n1 <= n0 {
		return fmt.Errorf("GET /metrics: sessions_created did not rise after a create: %g -> %g", n0, n1)
	}
	return nil
}

func fetchMetrics(ctx context.Context, e *Env) (*prom.Exposition, error) {
	resp, err := e.API.Get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	if resp.Status == http.StatusNotFound {
		return nil, skipf("GET /metrics answers 404 (not implemented)")
	}
	if err := expectStatus("GET /metrics", resp, http.StatusOK); err != nil {
		return nil, err
	}
	ex, err := prom.Parse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics is not valid Prometheus text: %v", err)
	}
	return ex, nil
}
