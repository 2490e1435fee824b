// SPDX-License-Identifier: BSD-2-Clause

// Command steel-tester runs the black-box test suite against an
// orchestrator. See tester/README.md for the checks and flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"steel-orchestrator/tester/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	fi, err := os.Stdout.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	noColor := os.Getenv("NO_COLOR") != ""
	code := cli.Run(ctx, os.Args[1:], cli.IO{Stdout: os.Stdout, Stderr: os.Stderr, StdoutTTY: tty, NoColor: noColor})
	stop()
	os.Exit(code)
}
