// SPDX-License-Identifier: BSD-2-Clause

// Command steel-chaos runs create -> GET -> DELETE flows (or a burst of
// creates) against an orchestrator and checks latency and error
// invariants. See tester/README.md for the flags and the report.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"steel-orchestrator/tester/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := chaos.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
