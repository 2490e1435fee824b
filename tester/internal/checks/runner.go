// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"fmt"
	"time"
)

// Reporter receives the run as it happens.
type Reporter interface {
	Start(c Check)
	Finish(r Result)
}

// Run runs the checks in order, one at a time, and returns their results.
// After each check the sessions it left behind are deleted. A panic in a
// check fails that check only. Once ctx ends, the remaining checks are
// reported as skipped.
func Run(ctx context.Context, e *Env, list []Check, rep Reporter) []Result {
	var results []Result
	for _, c := range list {
		if rep != nil {
			rep.Start(c)
		}
		r := Result{Slug: c.Slug, Group: c.Group, Title: c.Title}
		start := time.Now()
		var err error
		if ctx.Err() != nil {
			err = skipf("interrupted")
		} else {
			e.setCurrent(c.Title)
			err = runOne(ctx, e, c)
			e.cleanup()
			e.setCurrent("")
		}
		r.Duration = time.Since(start)
		switch reason, skipped := skipReason(err); {
		case err == nil:
			r.Status = Pass
		case skipped:
			r.Status, r.Reason = Skip, reason
		default:
			r.Status, r.Reason = Fail, err.Error()
			if ctx.Err() != nil {
				r.Reason += " (interrupted)"
			}
		}
		if rep != nil {
			rep.Finish(r)
		}
		results = append(results, r)
	}
	return results
}

func runOne(ctx context.Context, e *Env, c Check) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in check %s: %v", c.Slug, p)
		}
	}()
	return c.run(ctx, e)
}

// Count tallies results.
func Count(rs []Result) (passed, failed, skipped int) {
	for _, r := range rs {
		switch r.Status {
		case Pass:
			passed++
		case Fail:
			failed++
		case Skip:
			skipped++
		}
	}
	return
}
