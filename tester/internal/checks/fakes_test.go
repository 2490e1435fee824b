// SPDX-License-Identifier: BSD-2-Clause

package checks_test

import (
	"context"
	"testing"
	"time"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/checks"
	"steel-orchestrator/tester/internal/clock"
	"steel-orchestrator/tester/internal/fakeorch"
)

// localChecks need local worker processes; against a fake they skip.
var localChecks = map[string]bool{
	"recovery": true, "ttl-reuse": true, "hang": true, "crash-create": true, "leak-zombies": true,
}

// runFake runs the selected checks against a fake with the given fault on
// a manual clock (so TTL waits take no time) and returns results by slug.
func runFake(t *testing.T, fault fakeorch.Fault, only []string, timeout time.Duration) map[string]checks.Result {
	t.Helper()
	const ttl = 2 * time.Second
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	fake := fakeorch.Start(fakeorch.Options{TTL: ttl, Clock: clk, Fault: fault})
	defer fake.Close()
	client, err := api.New(fake.URL(), "", timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cfg := checks.DefaultConfig()
	cfg.TTL = ttl
	cfg.Local = false
	e := checks.NewEnv(client, cfg)
	e.Clock = clk
	list, err := checks.Select(checks.All(ttl), only, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(map[string]checks.Result)
	for _, r := range checks.Run(ctx, e, list, nil) {
		out[r.Slug] = r
	}
	return out
}

func TestCorrectFakePassesEverything(t *testing.T) {
	t.Parallel()
	results := runFake(t, fakeorch.None, nil, 5*time.Second)
	if len(results) != len(checks.All(time.Second)) {
		t.Fatalf("ran %d checks, expected %d", len(results), len(checks.All(time.Second)))
	}
	for slug, r := range results {
		want := checks.Pass
		if localChecks[slug] {
			want = checks.Skip
		}
		if r.Status != want {
			t.Errorf("%s: expected %s, got %s: %s", slug, want, r.Status, r.Reason)
		}
	}
}

func TestBrokenFakesFailTheMatchingCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault    fakeorch.Fault
		only     []string
		timeout  time.Duration
		mustFail []string
	}{
		{fault: fakeorch.TTLLate, only: []string{"core", "ttl"},
			mustFail: []string{"ttl", "ttl-refresh"}},
		// leak-cycles is out of scope: the short TTL gives the leaked
		// workers back while it waits.
		{fault: fakeorch.OKAfterDelete, only: []string{"core", "delete"},
			mustFail: []string{"delete", "delete-twice"}},
		{fault: fakeorch.SharedWorker, only: []string{"create", "get", "delete", "missing", "concurrent", "load", "status-counts"},
			mustFail: []string{"concurrent", "load"}},
		{fault: fakeorch.HangingGet, only: []string{"create", "get", "delete", "missing", "concurrent", "data-created-at", "input"}, timeout: 500 * time.Millisecond,
			mustFail: []string{"get", "concurrent", "data-created-at"}},
		{fault: fakeorch.PlainErrors, only: []string{"core", "delete", "data-json", "input", "idem-conflict", "load"},
			mustFail: []string{"input-json", "input-size", "input-type", "input-method", "input-long-id", "input-path", "input-unknown", "idem-conflict", "load"}},
		// Concurrent compares every GET with its POST, so it sees the
		// re-typed created_at too.
		{fault: fakeorch.RetypedCreatedAt, only: []string{"core", "data"},
			mustFail: []string{"get", "concurrent", "data-created-at"}},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(string(tc.fault), func(t *testing.T) {
			t.Parallel()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			results := runFake(t, tc.fault, tc.only, timeout)
			fail := make(map[string]bool)
			for _, s := range tc.mustFail {
				fail[s] = true
				r, ok := results[s]
				if !ok {
					t.Errorf("%s: not run", s)
				} else if r.Status != checks.Fail {
					t.Errorf("%s: expected fail, got %s %s", s, r.Status, r.Reason)
				} else {
					t.Logf("%s failed as expected: %s", s, r.Reason)
				}
			}
			for slug, r := range results {
				if !fail[slug] && r.Status == checks.Fail {
					t.Errorf("%s: expected not to fail, got: %s", slug, r.Reason)
				}
			}
		})
	}
}

// The TTL checks on the wall clock, against a fake with a one-second TTL:
// the same timeline as a real run, only shorter.
func TestTTLChecksOnTheWallClock(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for real TTLs")
	}
	const ttl = time.Second
	for _, fault := range []fakeorch.Fault{fakeorch.None, fakeorch.TTLLate} {
		fault := fault
		t.Run("fault="+string(fault), func(t *testing.T) {
			t.Parallel()
			fake := fakeorch.Start(fakeorch.Options{TTL: ttl, Fault: fault})
			defer fake.Close()
			client, err := api.New(fake.URL(), "", 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			cfg := checks.DefaultConfig()
			cfg.TTL, cfg.Local = ttl, false
			list, _ := checks.Select(checks.All(ttl), []string{"ttl"}, []string{"ttl-reuse"})
			want := checks.Pass
			if fault == fakeorch.TTLLate {
				want = checks.Fail
			}
			for _, r := range checks.Run(context.Background(), checks.NewEnv(client, cfg), list, nil) {
				if r.Status != want {
					t.Errorf("%s: expected %s, got %s %s", r.Slug, want, r.Status, r.Reason)
				}
			}
		})
	}
}
