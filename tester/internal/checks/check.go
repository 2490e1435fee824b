// SPDX-License-Identifier: BSD-2-Clause

// Package checks holds the orchestrator test suite: the challenge's seven
// checks and the extended groups, a registry that names them, the selection
// rules of --only and --skip, and the runner.
//
// Each check is a function that returns nil (pass), a skip error (the check
// cannot run against this orchestrator, e.g. it needs local worker
// processes) or any other error (fail, with a reason that says what was
// expected and what came back). Checks are self-contained: each creates the
// sessions it needs, and the runner deletes whatever a check left behind.
package checks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

// Outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check is one entry of the suite.
type Check struct {
	Slug  string // short name for --only and --skip
	Group string // group name for --only and --skip
	Title string // the line shown in the report
	run   func(ctx context.Context, e *Env) error
}

// Result is what a check produced.
type Result struct {
	Slug     string
	Group    string
	Title    string
	Status   Status
	Reason   string        // why it failed or was skipped
	Duration time.Duration // wall time of the check
}

// skipError marks a check that cannot run here.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// skipf returns an error that makes the check count as skipped.
func skipf(format string, args ...interface{}) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

// skipReason returns the reason of a skip error.
func skipReason(err error) (string, bool) {
	var se *skipError
	if errors.As(err, &se) {
		return se.reason, true
	}
	return "", false
}

// Group names in report order.
const (
	GroupCore          = "core"
	GroupTTL           = "ttl"
	GroupDelete        = "delete"
	GroupData          = "data"
	GroupInput         = "input"
	GroupIdempotency   = "idempotency"
	GroupObservability = "observability"
	GroupLoad          = "load"
	GroupLeaks         = "leaks"
	GroupHang          = "hang"
	GroupCrash         = "crash"
)

// Groups returns the group names in the order the suite runs them. The
// checks that disturb the pool (killing or stopping workers) run last,
// except the challenge's own recovery check.
func Groups() []string {
	return []string{GroupCore, GroupTTL, GroupDelete, GroupData, GroupInput, GroupIdempotency,
		GroupObservability, GroupLoad, GroupLeaks, GroupHang, GroupCrash}
}

// FormatSeconds prints a duration as whole or fractional seconds: "60s",
// "1.5s".
func FormatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// All returns every check in run order; titles that mention the TTL use ttl.
func All(ttl time.Duration) []Check {
	var all []Check
	all = append(all, coreChecks(ttl)...)
	all = append(all, ttlChecks()...)
	all = append(all, deleteChecks()...)
	all = append(all, dataChecks()...)
	all = append(all, inputChecks()...)
	all = append(all, idempotencyChecks()...)
	all = append(all, observabilityChecks()...)
	all = append(all, loadChecks()...)
	all = append(all, leakChecks()...)
	all = append(all, hangChecks()...)
	all = append(all, crashChecks()...)
	return all
}

// Select applies --only and --skip. Each name is a check slug or a group
// name; a name that is both (ttl, delete, load, hang) means the check and
// the whole group. An empty only means every check. Unknown names are an
// error. The result keeps run order.
func Select(all []Check, only, skip []string) ([]Check, error) {
	match := func(names []string) (map[string]bool, error) {
		set := make(map[string]bool)
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			found := false
			for _, c := range all {
				if c.Slug == n || c.Group == n {
					set[c.Slug] = true
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("unknown check or group %q (see --list)", n)
			}
		}
		return set, nil
	}
	onlySet, err := match(only)
	if err != nil {
		return nil, err
	}
	skipSet, err := match(skip)
	if err != nil {
		return nil, err
	}
	var out []Check
	for _, c := range all {
		if len(onlySet) > 0 && !onlySet[c.Slug] {
			continue
		}
		if skipSet[c.Slug] {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// SplitList splits a comma list flag value.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Names returns the sorted slugs and group names, for messages.
func Names(all []Check) []string {
	set := make(map[string]bool)
	for _, c := range all {
		set[c.Slug] = true
		set[c.Group] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
