// SPDX-License-Identifier: BSD-2-Clause

// Package chaos is steel-chaos: a load generator that runs create -> GET ->
// DELETE flows (or one burst of creates) against an orchestrator, samples
// GET /status meanwhile, optionally probes GET /health and one live session
// while the load runs, and judges the figures against assertion flags.
//
// Every request carries a client deadline, so a hang of the server is
// measured, never waited on forever. A 503 is counted, never retried.
package chaos

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Options are the parsed command line.
type Options struct {
	URL          string
	Token        string
	Flows        int
	Parallel     int
	Timeout      time.Duration // client deadline of every request
	Sample       time.Duration // interval of the GET /status readings
	TimelineRows int           // most rows of the printed timeline
	JSONFile     string
	Burst        int           // >0: burst mode with this many creates
	ProbeDuring  bool          // probe /health and one session while loading
	ProbeEvery   time.Duration // interval of those probes
	Quiet        bool          // no timeline rows in the text report
	Limits       Limits
}

// msFlag is a flag in milliseconds stored as a duration; 0 means off.
type msFlag struct{ d *time.Duration }

func (m msFlag) String() string {
	if m.d == nil {
		return "0"
	}
	return strconv.FormatInt(m.d.Milliseconds(), 10)
}

func (m msFlag) Set(v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > 86400000 {
		return fmt.Errorf("must be a number of milliseconds from 0 to 86400000")
	}
	*m.d = time.Duration(n) * time.Millisecond
	return nil
}

// pctFlag is a percentage; unset is -1 (off).
type pctFlag struct{ p *float64 }

func (f pctFlag) String() string {
	if f.p == nil || *f.p < 0 {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f pctFlag) Set(v string) error {
	p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || p < 0 || p > 100 {
		return fmt.Errorf("must be a percentage from 0 to 100")
	}
	*f.p = p
	return nil
}

// secondsFlag takes seconds ("30", "0.5") or a Go duration ("1500ms").
type secondsFlag struct{ d *time.Duration }

func (s secondsFlag) String() string {
	if s.d == nil {
		return ""
	}
	return strconv.FormatFloat(s.d.Seconds(), 'g', -1, 64)
}

func (s secondsFlag) Set(v string) error {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if f, ferr := strconv.ParseFloat(v, 64); ferr == nil {
		d, err = time.Duration(f*float64(time.Second)), nil
	}
	if err != nil {
		return fmt.Errorf("not a number of seconds or a duration")
	}
	if d <= 0 || d > 24*time.Hour {
		return fmt.Errorf("must be between 0 and 86400 seconds")
	}
	*s.d = d
	return nil
}

// DefaultAllowed is the default of --allow-5xx: a create may find no
// worker in time, a GET may find its worker hung.
const DefaultAllowed = "create:503,get:504"

const usageText = `usage: steel-chaos [flags]

Runs --flows create -> GET -> DELETE flows, --parallel at a time, against
--url (or, with --burst N, N creates fired at once), samples GET /status
meanwhile and prints outcomes, latencies, the pool over time and the
verdict of each assertion flag, ending with "N passed, N failed".
Exit status: 0 when no assertion failed, 1 when one did, 2 on bad usage,
130 when interrupted.

`

// ParseArgs parses the command line. It returns flag.ErrHelp after
// printing the usage for -h, and another error (already printed) for a bad
// command line.
func ParseArgs(args []string, stderr io.Writer) (Options, error) {
	o := Options{
		URL: "http://127.0.0.1:8080", Flows: 100, Parallel: 10,
		Timeout: 30 * time.Second, Sample: 500 * time.Millisecond, TimelineRows: 40,
		ProbeEvery: 50 * time.Millisecond,
		Limits:     Limits{MaxMs: map[string]time.Duration{}, MinCreateOK: -1, MinFlowsOK: -1},
	}
	var createMs, getMs, deleteMs time.Duration
	allow := DefaultAllowed
	fs := flag.NewFlagSet("steel-chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", o.URL, "orchestrator base URL")
	fs.StringVar(&o.Token, "token", "", "send Authorization: Bearer `TOKEN` with every request")
	fs.IntVar(&o.Flows, "flows", o.Flows, "create -> GET -> DELETE flows to run")
	fs.IntVar(&o.Parallel, "parallel", o.Parallel, "flows running at once")
	fs.Var(secondsFlag{&o.Timeout}, "timeout", "client deadline of every request in seconds")
	fs.Var(secondsFlag{&o.Sample}, "sample", "interval of the GET /status readings in seconds")
	fs.IntVar(&o.TimelineRows, "timeline-rows", o.TimelineRows, "most rows of the printed pool timeline (0: all changes)")
	fs.StringVar(&o.JSONFile, "json", "", "also write the figures as JSON to `FILE`")
	fs.BoolVar(&o.Quiet, "quiet", false, "leave the timeline rows out of the text report")
	fs.IntVar(&o.Burst, "burst", 0, "instead of flows: `N` creates fired at once, each session checked on GET /workers, then deleted")
	fs.BoolVar(&o.ProbeDuring, "probe-during", false, "while the load runs, time GET /health and GET of one live session every --probe-ms")
	fs.Var(msFlag{&o.ProbeEvery}, "probe-ms", "interval of --probe-during probes in milliseconds")
	fs.Var(msFlag{&createMs}, "max-create-ms", "assert: every create answered within this many ms")
	fs.Var(msFlag{&getMs}, "max-get-ms", "assert: every GET answered within this many ms")
	fs.Var(msFlag{&deleteMs}, "max-delete-ms", "assert: every DELETE answered within this many ms")
	fs.StringVar(&allow, "allow-5xx", allow, "assert: no server error but these STAGE:CODE entries (CODE 500-599, 5xx or conn-error; \"none\")")
	fs.BoolVar(&o.Limits.NoDegraded, "no-degraded", false, "assert: GET /status never shows the pool degraded")
	fs.Var(pctFlag{&o.Limits.MinCreateOK}, "min-create-ok", "assert: at least `PCT` percent of creates answered 2xx")
	fs.Var(pctFlag{&o.Limits.MinFlowsOK}, "min-flows-ok", "assert: at least `PCT` percent of flows fully ok")
	fs.Var(msFlag{&o.Limits.MaxProbeP99}, "max-probe-p99-ms", "assert: p99 of each --probe-during probe within this many ms")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fail := func(format string, a ...interface{}) (Options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "steel-chaos: %v\n", err)
		return o, err
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if o.Flows < 1 {
		return fail("--flows must be at least 1")
	}
	if o.Parallel < 1 {
		return fail("--parallel must be at least 1")
	}
	if o.Burst < 0 {
		return fail("--burst must not be negative")
	}
	if o.ProbeDuring && o.ProbeEvery <= 0 {
		return fail("--probe-ms must be positive")
	}
	if o.Limits.MaxProbeP99 > 0 && !o.ProbeDuring {
		return fail("--max-probe-p99-ms needs --probe-during")
	}
	list, err := ParseAllowed(allow)
	if err != nil {
		return fail("--allow-5xx: %v", err)
	}
	o.Limits.Allowed = list
	o.Limits.MaxMs[StageCreate] = createMs
	o.Limits.MaxMs[StageGet] = getMs
	o.Limits.MaxMs[StageDelete] = deleteMs
	return o, nil
}

// IsHelp reports whether ParseArgs stopped for -h.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
