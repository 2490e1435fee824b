// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/api"
	"steel-orchestrator/tester/internal/clock"
	"steel-orchestrator/tester/internal/procs"
	"steel-orchestrator/tester/internal/workers"
)

// Config holds the knobs of a run.
type Config struct {
	TTL            time.Duration // the orchestrator's session TTL
	MaxBody        int           // body limit (bytes) when /status does not say
	WorkerDeadline time.Duration // bound on a GET whose worker hangs
	HangKillBound  time.Duration // bound on killing a hung worker
	CreateRetry    time.Duration // how long a create keeps retrying 503
	Local          bool          // false: never look at or signal local processes
}

// DefaultConfig returns the defaults of the command-line flags.
func DefaultConfig() Config {
	return Config{
		TTL:            60 * time.Second,
		MaxBody:        65536,
		WorkerDeadline: 10 * time.Second,
		HangKillBound:  15 * time.Second,
		CreateRetry:    10 * time.Second,
		Local:          true,
	}
}

// Env is what every check works with.
type Env struct {
	API      *api.Client
	Cfg      Config
	Clock    clock.Clock                     // sleeps of TTL waits and polls
	FS       procs.FS                        // the local /proc
	Locator  *workers.Locator                // nil when Cfg.Local is false
	Progress io.Writer                       // where long waits are shown; nil: nowhere
	Live     bool                            // Progress is a terminal: redraw one line
	Signal   func(pid int, sig Signal) error // sends signals; tests may replace it

	mu      sync.Mutex
	tracked []string // sessions to delete after the check
	current string   // title of the running check
}

// Signal names the signals checks send.
type Signal int

// Signals.
const (
	SigKill Signal = iota
	SigStop
	SigCont
)

// NewEnv returns an Env on the real clock and /proc.
func NewEnv(c *api.Client, cfg Config) *Env {
	e := &Env{API: c, Cfg: cfg, Clock: clock.Real{}, FS: procs.Default, Signal: sendSignal}
	if cfg.Local {
		e.Locator = workers.New(e.FS)
	}
	return e
}

func (e *Env) setCurrent(title string) {
	e.mu.Lock()
	e.current = title
	e.mu.Unlock()
}

// track records a session to delete once the check ends.
func (e *Env) track(id string) {
	e.mu.Lock()
	e.tracked = append(e.tracked, id)
	e.mu.Unlock()
}

// cleanup deletes the tracked sessions, eight at a time, ignoring errors:
// most are already deleted or expired.
func (e *Env) cleanup() {
	e.mu.Lock()
	ids := e.tracked
	e.tracked = nil
	e.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func(id string) {
			defer wg.Done()
			defer func() { <-sem }()
			_, _ = e.API.Do(ctx, api.Request{Method: http.MethodDelete, Path: api.SessionPath(id), Timeout: 3 * time.Second})
		}(id)
	}
	wg.Wait()
}

// create posts data and returns the session. A 503 is retried (after its
// Retry-After, at most one second) for Cfg.CreateRetry; any other answer
// than 200 or 201 is an error that quotes it. The session is tracked.
func (e *Env) create(ctx context.Context, data []byte) (*api.Session, *api.Response, error) {
	return e.createWith(ctx, data, nil)
}

func (e *Env) createWith(ctx context.Context, data []byte, hdr map[string]string) (*api.Session, *api.Response, error) {
	deadline := e.Clock.Now().Add(e.Cfg.CreateRetry)
	for {
		resp, s, err := e.API.CreateSession(ctx, data, hdr)
		if err != nil {
			return nil, resp, err
		}
		if s != nil {
			e.track(s.ID)
			return s, resp, nil
		}
		if resp.Status != http.StatusServiceUnavailable || !e.Clock.Now().Before(deadline) {
			return nil, resp, fmt.Errorf("POST /sessions: expected 200 or 201, got %d %s", resp.Status, api.Snippet(resp.Body))
		}
		wait := 250 * time.Millisecond
		if d, ok := api.RetryAfter(resp); ok && d < time.Second {
			wait = d
		} else if ok {
			wait = time.Second
		}
		if err := e.Clock.Sleep(ctx, wait); err != nil {
			return nil, resp, err
		}
	}
}

// expectStatus returns nil when resp has one of the wanted codes.
func expectStatus(what string, resp *api.Response, want ...int) error {
	for _, w := range want {
		if resp.Status == w {
			return nil
		}
	}
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = fmt.Sprint(w)
	}
	return fmt.Errorf("%s: expected %s, got %d %s", what, strings.Join(ws, " or "), resp.Status, api.Snippet(resp.Body))
}

// randomID returns an id that no orchestrator has seen.
func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "steel-tester-" + hex.EncodeToString(b[:])
}

// uniqueData returns a small JSON object that no other create sends.
func uniqueData(check string, n int) []byte {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return []byte(fmt.Sprintf(`{"tester":"steel-tester","check":%q,"n":%d,"nonce":"%s"}`, check, n, hex.EncodeToString(b[:])))
}

// short quotes a JSON value for a message.
func short(b []byte) string {
	const max = 100
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		return fmt.Sprintf("%s...(%d bytes)", s[:max], len(s))
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// waitUntil sleeps on the env clock until t. On a terminal it shows a
// countdown on one redrawn line; otherwise it prints one progress line.
func (e *Env) waitUntil(ctx context.Context, t time.Time, why string) error {
	d := t.Sub(e.Clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	e.mu.Lock()
	title := e.current
	e.mu.Unlock()
	if e.Progress == nil {
		return e.Clock.Sleep(ctx, d)
	}
	if !e.Live {
		fmt.Fprintf(e.Progress, "steel-tester: %s: waiting %.1fs (%s)\n", title, d.Seconds(), why)
		return e.Clock.Sleep(ctx, d)
	}
	defer fmt.Fprint(e.Progress, "\r\033[K")
	for {
		left := t.Sub(e.Clock.Now())
		if left <= 0 {
			return ctx.Err()
		}
		fmt.Fprintf(e.Progress, "\r\033[K\033[2m… %s: %s, %.1fs left\033[0m", title, why, left.Seconds())
		step := 100 * time.Millisecond
		if left < step {
			step = left
		}
		if err := e.Clock.Sleep(ctx, step); err != nil {
			return err
		}
	}
}

// localOnly returns a skip error when local process checks are off.
func (e *Env) localOnly() error {
	if !e.Cfg.Local || e.Locator == nil {
		return skipf("local process checks are off")
	}
	return nil
}

// hints turns the orchestrator's GET /workers into locator hints; nil when
// the endpoint is missing or broken.
func (e *Env) hints(ctx context.Context) []workers.Hint {
	ws, found, err := e.API.GetWorkers(ctx)
	if !found || err != nil {
		return nil
	}
	var out []workers.Hint
	for _, w := range ws {
		out = append(out, workers.Hint{Host: w.Host, Port: w.Port, Pid: w.Pid})
	}
	return out
}

// findWorker returns the local worker process that holds session id. It
// skips the check when the worker is not local or its process is unknown.
func (e *Env) findWorker(ctx context.Context, id string) (workers.Worker, error) {
	if err := e.localOnly(); err != nil {
		return workers.Worker{}, err
	}
	w, err := e.Locator.Find(ctx, id, e.hints(ctx))
	if errors.Is(err, workers.ErrNotLocal) {
		return w, skipf("no local worker holds session %s (orchestrator on another host?)", id)
	}
	if err != nil {
		return w, skipf("cannot look for local workers: %v", err)
	}
	if w.Pid == 0 {
		return w, skipf("%s holds session %s but its process could not be identified (permissions?)", w, id)
	}
	return w, nil
}

// maxBody returns limits.max_body from /status, else the configured value.
func (e *Env) maxBody(ctx context.Context) int {
	if st, found, err := e.API.GetStatus(ctx); found && err == nil {
		if v, ok := st.Limit("max_body"); ok && v > 0 {
			return int(v)
		}
	}
	return e.Cfg.MaxBody
}
