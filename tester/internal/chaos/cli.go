// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"context"
	"fmt"
	"io"
	"os"

	"steel-orchestrator/tester/internal/api"
)

// Main runs the command with args and returns its exit status: 0 when
// every assertion held, 1 when one failed, 2 on bad usage or when the
// --json file cannot be written, 130 when ctx was cancelled mid-run.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args, stderr)
	if err != nil {
		if IsHelp(err) {
			return 0
		}
		return 2
	}
	client, err := api.New(o.URL, o.Token, o.Timeout)
	if err != nil {
		fmt.Fprintf(stderr, "steel-chaos: %v\n", err)
		return 2
	}
	defer client.Close()

	res := Run(ctx, o, client, stderr)
	checks := Evaluate(o.Limits, res)
	h := Header{URL: o.URL, Timeout: o.Timeout, Sample: o.Sample, Probe: o.ProbeEvery, Rows: o.TimelineRows, Quiet: o.Quiet}
	WriteText(stdout, h, res, checks)
	code := 0
	if _, failed := Tally(checks); failed > 0 {
		code = 1
	}
	if o.JSONFile != "" {
		if err := writeJSONFile(o.JSONFile, h, res, checks); err != nil {
			fmt.Fprintf(stderr, "steel-chaos: %v\n", err)
			code = 2
		}
	}
	if res.Interrupted {
		code = 130
	}
	return code
}

func writeJSONFile(path string, h Header, r *Result, checks []Check) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteJSON(f, h, r, checks); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", path, err)
	}
	return f.Close()
}
