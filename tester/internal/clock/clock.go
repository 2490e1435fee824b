// SPDX-License-Identifier: BSD-2-Clause

// Package clock gives the checks and the fake orchestrators one notion of
// time, so a test can run a whole TTL timeline without waiting for it.
//
// Real sleeps on the wall clock. Manual only moves when someone sleeps on it
// or advances it, which makes "wait ttl+0.5 s" instantaneous in tests while
// the fake orchestrator on the other side sees exactly that much time pass.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and sleeps. Sleep returns ctx.Err() when the context
// ends first, nil otherwise.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Manual is a clock that moves only when told to. It is safe for concurrent
// use; every Sleep advances the shared time by its duration at once.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a Manual clock reading start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start}
}

// Now returns the current manual time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d (negative d is ignored).
func (m *Manual) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

// Sleep advances the clock by d and returns immediately.
func (m *Manual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.Advance(d)
	return nil
}
