// SPDX-License-Identifier: BSD-2-Clause

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/checks"
	"steel-orchestrator/tester/internal/clock"
	"steel-orchestrator/tester/internal/report"
)

// IO is the outside world of one run.
type IO struct {
	Stdout    io.Writer
	Stderr    io.Writer
	StdoutTTY bool        // stdout is a terminal
	NoColor   bool        // NO_COLOR is set
	Clock     clock.Clock // nil: the wall clock
}

// Run runs the command and returns its exit status.
func Run(ctx context.Context, args []string, sys IO) int {
	o, err := ParseArgs(args, sys.Stderr)
	if err != nil {
		if IsHelp(err) {
			return 0
		}
		return 2
	}
	all := checks.All(o.TTL)
	if o.List {
		tw := tabwriter.NewWriter(sys.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLUG\tGROUP\tTITLE")
		for _, c := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Slug, c.Group, c.Title)
		}
		tw.Flush()
		return 0
	}
	list, _ := checks.Select(all, o.Only, o.Skip)
	client, err := api.New(o.URL, o.Token, o.Timeout)
	if err != nil {
		fmt.Fprintf(sys.Stderr, "steel-tester: %v\n", err)
		return 2
	}
	defer client.Close()

	cfg := checks.DefaultConfig()
	cfg.TTL, cfg.MaxBody, cfg.Local = o.TTL, o.MaxBody, o.Local
	cfg.WorkerDeadline, cfg.HangKillBound = o.WorkerDeadline, o.HangKillBound
	env := checks.NewEnv(client, cfg)
	if sys.Clock != nil {
		env.Clock = sys.Clock
	}
	live := sys.StdoutTTY && !o.JSON
	if live {
		env.Progress, env.Live = sys.Stdout, true
	} else {
		env.Progress = sys.Stderr
	}

	var rep checks.Reporter
	var text *report.Text
	if !o.JSON {
		text = &report.Text{W: sys.Stdout, Color: sys.StdoutTTY && !o.NoColor && !sys.NoColor, Live: live}
		text.Header()
		rep = text
	}
	started := time.Now()
	results := checks.Run(ctx, env, list, rep)
	run := report.Run{URL: o.URL, TTL: o.TTL, Started: started, Duration: time.Since(started), Results: results}
	if text != nil {
		text.Footer(results)
	} else if err := report.WriteJSON(sys.Stdout, run); err != nil {
		fmt.Fprintf(sys.Stderr, "steel-tester: writing JSON: %v\n", err)
		return 1
	}
	if o.JUnit != "" {
		if err := writeJUnit(o.JUnit, run); err != nil {
			fmt.Fprintf(sys.Stderr, "steel-tester: %v\n", err)
			return 1
		}
	}
	if _, failed, _ := checks.Count(results); failed > 0 {
		return 1
	}
	return 0
}

func writeJUnit(path string, run report.Run) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing JUnit report: %v", err)
	}
	if err := report.WriteJUnit(f, run); err != nil {
		f.Close()
		return fmt.Errorf("writing JUnit report %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing JUnit report %s: %v", path, err)
	}
	return nil
}
