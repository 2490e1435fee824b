// SPDX-License-Identifier: BSD-2-Clause

// Package report renders a run of the suite: the challenge's text layout
// (streamed as checks finish), a JSON document and a JUnit XML file.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"steel-orchestrator/tester/internal/checks"
)

const rule = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━"

// ANSI styles.
const (
	green  = "\033[32m"
	red    = "\033[31m"
	yellow = "\033[33m"
	dim    = "\033[2m"
	bold   = "\033[1m"
	reset  = "\033[0m"
)

// Text writes the human report. Color adds ANSI colours; Live (a terminal)
// shows the running check on a line that its result then replaces.
type Text struct {
	W     io.Writer
	Color bool
	Live  bool

	group   string // group of the last line printed
	pending bool   // a live "running" line is on screen
}

func (t *Text) style(s, code string) string {
	if !t.Color {
		return s
	}
	return code + s + reset
}

// Header prints the banner.
func (t *Text) Header() {
	fmt.Fprintf(t.W, "%s\n🧪 ORCHESTRATOR TEST SUITE\n%s\n\n", rule, rule)
	t.group = checks.GroupCore
}

// Start shows the check being run (on a terminal only).
func (t *Text) Start(c checks.Check) {
	t.groupHeader(c.Group)
	if t.Live {
		fmt.Fprintf(t.W, "%s", t.style("… "+c.Title, dim))
		t.pending = true
	}
}

func (t *Text) groupHeader(g string) {
	if g == t.group {
		return
	}
	t.group = g
	fmt.Fprintf(t.W, "\n%s\n", t.style("── "+g+" ──", bold))
}

// Finish prints the result line of a check and, for a failure or a skip,
// an indented reason.
func (t *Text) Finish(r checks.Result) {
	t.groupHeader(r.Group)
	if t.pending {
		fmt.Fprint(t.W, "\r\033[K")
		t.pending = false
	}
	mark := map[checks.Status]string{
		checks.Pass: t.style("✓", green),
		checks.Fail: t.style("✗", red),
		checks.Skip: t.style("○", yellow),
	}[r.Status]
	fmt.Fprintf(t.W, "%s %s %s\n", mark, r.Title, t.style("("+FormatDuration(r.Duration)+")", dim))
	switch r.Status {
	case checks.Fail:
		fmt.Fprintf(t.W, "    %s\n", indent(r.Reason))
	case checks.Skip:
		fmt.Fprintf(t.W, "    %s\n", t.style("skipped: "+indent(r.Reason), yellow))
	}
}

// Footer prints the totals: "RESULTS: passed/(passed+failed) passed" in
// the banner, then one plain line with every count.
func (t *Text) Footer(results []checks.Result) {
	passed, failed, _ := checks.Count(results)
	fmt.Fprintf(t.W, "\n%s\n📊 RESULTS: %d/%d passed\n%s\n", rule, passed, passed+failed, rule)
	fmt.Fprintln(t.W, Summary(results))
}

// Summary returns "N passed, M failed" with ", K skipped" when any were.
func Summary(results []checks.Result) string {
	passed, failed, skipped := checks.Count(results)
	s := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		s += fmt.Sprintf(", %d skipped", skipped)
	}
	return s
}

// FormatDuration prints a check's time with one decimal: "1.2s".
func FormatDuration(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// indent keeps a multi-line reason under its check.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}
