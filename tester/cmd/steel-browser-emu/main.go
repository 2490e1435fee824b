// SPDX-License-Identifier: BSD-2-Clause

// Command steel-browser-emu emulates the steel-browser worker for tests.
// See tester/README.md for its environment knobs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"steel-orchestrator/tester/internal/emu"
)

func main() {
	cfg, err := emu.ParseConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "steel-browser-emu: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(emu.Run(ctx, cfg, os.Stdout, os.Exit))
}
