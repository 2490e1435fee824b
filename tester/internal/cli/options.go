// SPDX-License-Identifier: BSD-2-Clause

// Package cli is the steel-tester command: flag parsing, check selection
// and the choice of report, kept apart from main so tests can drive it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"steel-orchestrator/tester/internal/checks"
)

// Options are the parsed command line.
type Options struct {
	URL            string
	TTL            time.Duration
	Timeout        time.Duration
	MaxBody        int
	WorkerDeadline time.Duration
	HangKillBound  time.Duration
	Only           []string
	Skip           []string
	List           bool
	JSON           bool
	JUnit          string
	NoColor        bool
	Token          string
	Local          bool
}

// seconds is a duration flag that takes plain seconds ("10", "0.5") or a
// Go duration ("1.5s", "500ms").
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil {
		return ""
	}
	return checks.FormatSeconds(*s.d)
}

func (s seconds) Set(v string) error {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f <= 0 || f > 86400 {
			return fmt.Errorf("must be between 0 and 86400 seconds")
		}
		*s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a number of seconds or a duration")
	}
	if d <= 0 || d > 24*time.Hour {
		return fmt.Errorf("must be between 0 and 86400 seconds")
	}
	*s.d = d
	return nil
}

const usageText = `usage: steel-tester [flags]

Runs the orchestrator test suite against --url and prints a report.
Exit status: 0 when no check failed, 1 when one did, 2 on bad usage.

`

// ParseArgs parses the command line. It returns flag.ErrHelp after
// printing the usage for -h, and an error (usage already printed) for bad
// flags or values.
func ParseArgs(args []string, stderr io.Writer) (Options, error) {
	def := checks.DefaultConfig()
	o := Options{URL: "http://127.0.0.1:8080", TTL: def.TTL, Timeout: 10 * time.Second, MaxBody: def.MaxBody,
		WorkerDeadline: def.WorkerDeadline, HangKillBound: def.HangKillBound, Local: true}
	fs := flag.NewFlagSet("steel-tester", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var only, skip, local string
	fs.StringVar(&o.URL, "url", o.URL, "orchestrator base URL")
	fs.Var(seconds{&o.TTL}, "ttl", "the orchestrator's session TTL in seconds")
	fs.Var(seconds{&o.Timeout}, "timeout", "deadline of one request in seconds")
	fs.IntVar(&o.MaxBody, "max-body", o.MaxBody, "body size limit in bytes when GET /status has no limits.max_body")
	fs.Var(seconds{&o.WorkerDeadline}, "worker-deadline", "bound in seconds on a GET whose worker hangs")
	fs.Var(seconds{&o.HangKillBound}, "hang-kill-bound", "bound in seconds on killing a hung worker")
	fs.StringVar(&only, "only", "", "comma list of checks or groups to run (see --list)")
	fs.StringVar(&skip, "skip", "", "comma list of checks or groups not to run")
	fs.BoolVar(&o.List, "list", false, "list the checks (slug, group, title) and exit")
	fs.BoolVar(&o.JSON, "json", false, "print a JSON report on stdout instead of the text report")
	fs.StringVar(&o.JUnit, "junit", "", "also write a JUnit XML report to `FILE`")
	fs.BoolVar(&o.NoColor, "no-color", false, "no ANSI colours")
	fs.StringVar(&o.Token, "token", "", "send Authorization: Bearer `TOKEN` with every request")
	fs.StringVar(&local, "local", "auto", "auto: find, stop and kill local worker processes where a check needs it; off: skip those checks")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintf(stderr, "steel-tester: %v\n", err)
		fs.Usage()
		return o, err
	}
	fail := func(format string, a ...interface{}) (Options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "steel-tester: %v\n", err)
		return o, err
	}
	switch local {
	case "auto", "on":
		o.Local = true
	case "off":
		o.Local = false
	default:
		return fail("-local %q: expected auto or off", local)
	}
	if o.MaxBody < 1 {
		return fail("-max-body %d: must be positive", o.MaxBody)
	}
	o.Only, o.Skip = checks.SplitList(only), checks.SplitList(skip)
	if _, err := checks.Select(checks.All(o.TTL), o.Only, o.Skip); err != nil {
		return fail("%v", err)
	}
	return o, nil
}

// IsHelp reports whether err asks for the usage only.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
