// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"context"
	"testing"
	"time"
)

func TestManual(t *testing.T) {
	start := time.Unix(100, 0)
	m := NewManual(start)
	if err := m.Sleep(context.Background(), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	m.Advance(-time.Second)
	if got := m.Now().Sub(start); got != 1500*time.Millisecond {
		t.Errorf("advanced %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if m.Sleep(ctx, time.Second) == nil || m.Now().Sub(start) != 1500*time.Millisecond {
		t.Error("Sleep on a done context advanced the clock")
	}
}

func TestRealSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := (Real{}).Sleep(ctx, time.Minute); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Sleep returned %v after %v", err, time.Since(start))
	}
	if err := (Real{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
}
