// SPDX-License-Identifier: BSD-2-Clause

package fakeorch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/procs"
	"steel-orchestrator/tester/internal/workers"
)

// PoolOptions configure a Pool.
type PoolOptions struct {
	Workers       int                      // worker processes kept alive
	TTL           time.Duration            // session TTL
	WorkerTimeout time.Duration            // deadline of one call to a worker
	Command       func(port int) *exec.Cmd // a worker process listening on 127.0.0.1:port
	KeepHung      bool                     // fault: a worker that timed out is left running
}

// Pool is a minimal orchestrator over real worker processes, so the checks
// that find, stop and kill local workers can be tested end to end. It
// follows the contract's happy path and failure handling only as far as
// those checks need: a worker that fails a call is killed, a worker that
// exits is replaced, a create that finds no worker answers 503.
type Pool struct {
	opts    PoolOptions
	hc      *http.Client
	ts      *httptest.Server
	locator *workers.Locator // checks who owns a worker's port

	mu       sync.Mutex
	slots    []*poolWorker
	sessions map[string]*poolSession
	closing  bool
	wg       sync.WaitGroup // worker watchers
}

type poolWorker struct {
	slot    int
	port    int
	cmd     *exec.Cmd
	state   string // starting, idle, busy, dead
	session string
	exited  chan struct{}
}

type poolSession struct {
	w    *poolWorker
	last time.Time
}

// StartPool starts the workers and serves the API on a free port of
// 127.0.0.1. It waits until every worker answered /health.
func StartPool(o PoolOptions) (*Pool, error) {
	p := &Pool{
		opts:     o,
		hc:       &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		slots:    make([]*poolWorker, o.Workers),
		sessions: make(map[string]*poolSession),
		locator:  workers.New(procs.Default),
	}
	for i := range p.slots {
		if err := p.spawn(i); err != nil {
			p.Close()
			return nil, err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		ready := true
		for _, w := range p.slots {
			ready = ready && w.state == "idle"
		}
		p.mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("workers did not become healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.ts = httptest.NewServer(p)
	return p, nil
}

// URL returns the pool's base URL.
func (p *Pool) URL() string { return p.ts.URL }

// Close stops serving and kills and reaps every worker.
func (p *Pool) Close() {
	if p.ts != nil {
		p.ts.CloseClientConnections()
		p.ts.Close()
	}
	p.mu.Lock()
	p.closing = true
	ws := append([]*poolWorker(nil), p.slots...)
	p.mu.Unlock()
	for _, w := range ws {
		if w != nil {
			_ = w.cmd.Process.Kill()
		}
	}
	p.wg.Wait()
}

// Pids returns the pids of the current workers.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, w := range p.slots {
		if w != nil {
			out = append(out, w.cmd.Process.Pid)
		}
	}
	return out
}

// freePort returns a port of 127.0.0.1 that is free now, chosen in
// 10000-19999: below the kernel's ephemeral range (so outgoing connections
// and listeners on port 0 do not take it before the worker binds it) and
// below the 20000-31999 worker ports of the project's local stacks.
func freePort() (int, error) {
	for i := 0; i < 100; i++ {
		port := 10000 + mrand.Intn(10000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port found")
}

// spawn starts a worker in slot, watches its exit and waits for its
// /health in the background.
func (p *Pool) spawn(slot int) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := p.opts.Command(port)
	if err := cmd.Start(); err != nil {
		return err
	}
	w := &poolWorker{slot: slot, port: port, cmd: cmd, state: "starting", exited: make(chan struct{})}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("pool is closing")
	}
	p.slots[slot] = w
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		_ = cmd.Wait()
		close(w.exited)
		p.onExit(w)
	}()
	go p.waitHealthy(w)
	return nil
}

// waitHealthy marks w idle once its /health answers and the listening
// socket really is its own (another process may have taken the port).
func (p *Pool) waitHealthy(w *poolWorker) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := p.call(w, http.MethodGet, "/health", nil)
		if err == nil && resp.status == http.StatusOK && p.locator.PidForPort(w.port) == w.cmd.Process.Pid {
			p.mu.Lock()
			if w.state == "starting" {
				w.state = "idle"
			}
			p.mu.Unlock()
			return
		}
		select {
		case <-w.exited:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = w.cmd.Process.Kill()
}

// onExit forgets a dead worker's session and starts a replacement.
func (p *Pool) onExit(w *poolWorker) {
	p.mu.Lock()
	w.state = "dead"
	if w.session != "" {
		delete(p.sessions, w.session)
	}
	respawn := !p.closing && p.slots[w.slot] == w
	p.mu.Unlock()
	if respawn {
		time.Sleep(50 * time.Millisecond)
		p.mu.Lock()
		closing := p.closing
		p.mu.Unlock()
		if !closing {
			_ = p.spawn(w.slot)
		}
	}
}

type workerResp struct {
	status int
	body   []byte
}

var errWorkerTimeout = errors.New("worker timeout")

func (p *Pool) call(w *poolWorker, method, path string, body []byte) (*workerResp, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.WorkerTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", w.port, path), rd)
	if err != nil {
		return nil, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errWorkerTimeout
		}
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errWorkerTimeout
		}
		return nil, err
	}
	return &workerResp{status: resp.StatusCode, body: b}, nil
}

func poolError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// sweep expires idle sessions: the worker is freed at once and told to
// drop the session in the background. Caller holds mu.
func (p *Pool) sweep() {
	now := time.Now()
	for id, s := range p.sessions {
		if now.Sub(s.last) >= p.opts.TTL {
			delete(p.sessions, id)
			w := s.w
			if w.state == "busy" && w.session == id {
				w.state, w.session = "idle", ""
				go p.call(w, http.MethodDelete, "/sessions/"+id, nil)
			}
		}
	}
}

// ServeHTTP routes one request.
func (p *Pool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case path == "/sessions" && r.Method == http.MethodPost:
		p.create(w, r)
	case strings.HasPrefix(path, "/sessions/") && validID(path[len("/sessions/"):]) &&
		(r.Method == http.MethodGet || r.Method == http.MethodDelete):
		p.forward(w, r.Method, path[len("/sessions/"):])
	case path == "/status" && r.Method == http.MethodGet:
		p.status(w)
	case path == "/workers" && r.Method == http.MethodGet:
		p.workers(w)
	default:
		poolError(w, http.StatusNotFound, "not_found", "not supported by the pool fake")
	}
}

func (p *Pool) create(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 65537))
	if !json.Valid(body) || !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
		poolError(w, http.StatusBadRequest, "invalid_json", "body must be a JSON object")
		return
	}
	for attempt := 0; attempt < 3; attempt++ {
		p.mu.Lock()
		p.sweep()
		var wk *poolWorker
		for _, c := range p.slots {
			if c != nil && c.state == "idle" {
				wk = c
				break
			}
		}
		if wk == nil {
			p.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			poolError(w, http.StatusServiceUnavailable, "no_worker", "no idle worker")
			return
		}
		wk.state = "busy"
		p.mu.Unlock()
		resp, err := p.call(wk, http.MethodPost, "/sessions", body)
		if err != nil {
			_ = wk.cmd.Process.Kill()
			continue
		}
		var s struct {
			ID string `json:"id"`
		}
		if (resp.status != 200 && resp.status != 201) || json.Unmarshal(resp.body, &s) != nil || s.ID == "" {
			_ = wk.cmd.Process.Kill()
			continue
		}
		p.mu.Lock()
		if wk.state == "busy" {
			wk.session = s.ID
			p.sessions[s.ID] = &poolSession{w: wk, last: time.Now()}
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		w.Write(resp.body)
		return
	}
	poolError(w, http.StatusBadGateway, "worker_failed", "workers failed the create")
}

func (p *Pool) forward(w http.ResponseWriter, method, id string) {
	p.mu.Lock()
	p.sweep()
	s, ok := p.sessions[id]
	p.mu.Unlock()
	if !ok {
		poolError(w, http.StatusNotFound, "session_not_found", "no session "+id)
		return
	}
	resp, err := p.call(s.w, method, "/sessions/"+id, nil)
	if err != nil {
		if err != errWorkerTimeout || !p.opts.KeepHung {
			_ = s.w.cmd.Process.Kill()
		}
		if err == errWorkerTimeout {
			poolError(w, http.StatusGatewayTimeout, "worker_timeout", "the worker did not answer")
		} else {
			poolError(w, http.StatusBadGateway, "worker_unavailable", "the worker failed")
		}
		return
	}
	p.mu.Lock()
	switch {
	case resp.status == http.StatusNotFound || (method == http.MethodDelete && resp.status == http.StatusNoContent):
		if p.sessions[id] == s {
			delete(p.sessions, id)
			if s.w.session == id && s.w.state == "busy" {
				s.w.state, s.w.session = "idle", ""
			}
		}
	case resp.status == http.StatusOK:
		s.last = time.Now()
	}
	p.mu.Unlock()
	switch resp.status {
	case http.StatusNotFound:
		poolError(w, http.StatusNotFound, "session_not_found", "no session "+id)
	case http.StatusNoContent:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		w.Write(resp.body)
	}
}

func (p *Pool) status(w http.ResponseWriter) {
	p.mu.Lock()
	p.sweep()
	counts := map[string]int{"starting": 0, "idle": 0, "busy": 0, "releasing": 0, "dead": 0}
	for _, wk := range p.slots {
		if wk != nil {
			counts[wk.state]++
		}
	}
	n := len(p.sessions)
	p.mu.Unlock()
	b, _ := json.Marshal(map[string]interface{}{"available": counts["idle"] > 0, "workers": counts, "sessions": n})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (p *Pool) workers(w http.ResponseWriter) {
	type entry struct {
		ID      int     `json:"id"`
		Pid     int     `json:"pid"`
		Host    string  `json:"host"`
		Port    int     `json:"port"`
		State   string  `json:"state"`
		Session *string `json:"session"`
	}
	p.mu.Lock()
	p.sweep()
	list := []entry{}
	for _, wk := range p.slots {
		if wk == nil {
			continue
		}
		e := entry{ID: wk.slot, Pid: wk.cmd.Process.Pid, Host: "127.0.0.1", Port: wk.port, State: wk.state}
		if wk.session != "" {
			s := wk.session
			e.Session = &s
		}
		list = append(list, e)
	}
	p.mu.Unlock()
	b, _ := json.Marshal(map[string]interface{}{"workers": list})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
