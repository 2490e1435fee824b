// SPDX-License-Identifier: BSD-2-Clause

package checks_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/checks"
	"steel-orchestrator/tester/internal/emu"
	"steel-orchestrator/tester/internal/fakeorch"
	"steel-orchestrator/tester/internal/procs"
)

// childEnv makes the test binary act as a worker for the process pool.
const childEnv = "STEEL_EMU_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		cfg, err := emu.ParseConfig(os.Getenv)
		if err != nil {
			fmt.Fprintf(os.Stderr, "steel-browser-emu: %v\n", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		os.Exit(emu.Run(ctx, cfg, os.Stdout, os.Exit))
	}
	os.Exit(m.Run())
}

// runPool runs the named checks against an orchestrator whose workers are
// real emulator processes and returns the results. Every worker process is
// gone when it returns. The session TTL is opts.TTL, 1 s when zero.
func runPool(t *testing.T, opts fakeorch.PoolOptions, only []string) []checks.Result {
	t.Helper()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	if opts.TTL == 0 {
		opts.TTL = time.Second
	}
	ttl := opts.TTL
	opts.WorkerTimeout = time.Second
	opts.Command = func(port int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "PORT="+strconv.Itoa(port))
		return cmd
	}
	pool, err := fakeorch.StartPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	pids := pool.Pids()
	defer func() {
		pool.Close()
		// Every worker this test started or that replaced one is gone.
		for _, pid := range pids {
			if !procs.Default.Gone(pid) {
				t.Errorf("worker pid %d still running", pid)
			}
		}
	}()
	client, err := api.New(pool.URL(), "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cfg := checks.DefaultConfig()
	cfg.TTL = ttl
	cfg.WorkerDeadline = 2 * time.Second
	cfg.HangKillBound = 4 * time.Second
	e := checks.NewEnv(client, cfg)
	list, err := checks.Select(checks.All(ttl), only, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	results := checks.Run(ctx, e, list, nil)
	pids = append(pids, pool.Pids()...)
	return results
}

func TestLocalChecksAgainstProcessPool(t *testing.T) {
	t.Parallel()
	only := []string{"create", "delete", "concurrent", "recovery", "ttl-reuse", "hang", "crash-create"}
	for _, r := range runPool(t, fakeorch.PoolOptions{Workers: 12}, only) {
		if r.Status != checks.Pass {
			t.Errorf("%s: expected pass, got %s: %s", r.Slug, r.Status, r.Reason)
		} else {
			t.Logf("%s passed in %v", r.Slug, r.Duration.Round(time.Millisecond))
		}
	}
}

// The session must outlive the check: once it expires, the fake hands its
// stopped worker to the next create, whose timeout kills it, and the
// check passes.  With a 1 s TTL it could expire on a busy machine before
// the check's GET (the check creates, finds the worker and stops it
// first).
func TestHangCheckCatchesAHungWorkerLeftRunning(t *testing.T) {
	t.Parallel()
	rs := runPool(t, fakeorch.PoolOptions{Workers: 3, KeepHung: true, TTL: 30 * time.Second}, []string{"hang"})
	if len(rs) != 1 || rs[0].Status != checks.Fail {
		t.Fatalf("expected the hang check to fail, got %+v", rs)
	}
	t.Logf("hang failed as expected: %s", rs[0].Reason)
}
