// SPDX-License-Identifier: BSD-2-Clause

// Package workers finds the local worker processes behind an orchestrator.
//
// A worker is any listening TCP socket on loopback whose GET /status answers
// {"available": bool, "session_id": string|null}. The process behind it is
// found by mapping the socket's inode to the pid holding it. The
// orchestrator's own GET /workers may be passed in as hints, but a hint is
// only believed after the worker's /status confirms it.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/procs"
)

// Status is a worker's own GET /status.
type Status struct {
	Available bool
	SessionID string // "" when the worker holds no session
}

// Worker is a local worker process.
type Worker struct {
	Host   string
	Port   int
	Pid    int // 0 when the owning process could not be found
	Status Status
}

// Addr returns "host:port".
func (w Worker) Addr() string { return net.JoinHostPort(w.Host, strconv.Itoa(w.Port)) }

// String describes the worker for messages.
func (w Worker) String() string {
	if w.Pid > 0 {
		return fmt.Sprintf("worker %s (pid %d)", w.Addr(), w.Pid)
	}
	return "worker " + w.Addr()
}

// Hint is a worker the orchestrator reported.
type Hint struct {
	Host string
	Port int
	Pid  int
}

// ErrNotLocal is returned when no local worker could be found.
var ErrNotLocal = errors.New("no local worker")

// Locator probes local workers. The zero value is not usable; use New.
type Locator struct {
	FS       procs.FS
	Probe    time.Duration // deadline of one /status probe
	Parallel int           // probes in flight at once
	hc       *http.Client
}

// New returns a Locator reading fs with 300 ms probes, 16 at a time.
func New(fs procs.FS) *Locator {
	tr := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{Timeout: 300 * time.Millisecond}).DialContext,
	}
	return &Locator{FS: fs, Probe: 300 * time.Millisecond, Parallel: 16, hc: &http.Client{Transport: tr}}
}

// ParseStatus decodes a worker's /status body. It requires a boolean
// "available" and a "session_id" that is a string or null (or absent).
func ParseStatus(body []byte) (Status, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return Status{}, fmt.Errorf("not a JSON object")
	}
	var st Status
	raw, ok := m["available"]
	if !ok || json.Unmarshal(raw, &st.Available) != nil {
		return Status{}, fmt.Errorf("no boolean \"available\"")
	}
	if raw, ok := m["session_id"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &st.SessionID) != nil {
			return Status{}, fmt.Errorf("\"session_id\" is not a string")
		}
	} else if _, hasWorkers := m["workers"]; hasWorkers {
		// An orchestrator's /status, not a worker's.
		return Status{}, fmt.Errorf("orchestrator status, not a worker")
	}
	return st, nil
}

// ProbeStatus sends GET http://host:port/status with the probe deadline.
func (l *Locator) ProbeStatus(ctx context.Context, host string, port int) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, l.Probe)
	defer cancel()
	u := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Status{}, err
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Status{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	return ParseStatus(b)
}

// Scan probes every listening loopback socket and returns those that answer
// like a worker, with their pids resolved where possible.
func (l *Locator) Scan(ctx context.Context) ([]Worker, error) {
	socks, err := l.FS.ListeningLocal()
	if err != nil {
		return nil, fmt.Errorf("reading listening sockets: %v", err)
	}
	var ports []int
	inodes := make(map[int]uint64)
	hosts := make(map[int]string) // where to probe: ::1 only for IPv6-loopback-only sockets
	for _, s := range socks {
		if _, seen := inodes[s.Port]; !seen {
			ports = append(ports, s.Port)
			inodes[s.Port] = s.Inode
			hosts[s.Port] = "::1"
		}
		if s.IP.To4() != nil || s.IP.IsUnspecified() {
			hosts[s.Port] = "127.0.0.1"
		}
	}
	var (
		mu  sync.Mutex
		out []Worker
		wg  sync.WaitGroup
		sem = make(chan struct{}, max(1, l.Parallel))
	)
	for _, p := range ports {
		wg.Add(1)
		sem <- struct{}{}
		go func(port int) {
			defer wg.Done()
			defer func() { <-sem }()
			st, err := l.ProbeStatus(ctx, hosts[port], port)
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, Worker{Host: hosts[port], Port: port, Status: st})
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	want := make(map[uint64]bool)
	for _, w := range out {
		want[inodes[w.Port]] = true
	}
	if len(want) > 0 {
		owners, err := l.FS.SocketOwners(want)
		if err == nil {
			for i := range out {
				out[i].Pid = l.pick(owners[inodes[out[i].Port]])
			}
		}
	}
	return out, ctx.Err()
}

// Find returns the local worker whose /status says it holds sessionID.
// Hints are tried first; then every local listener is probed. The error is
// ErrNotLocal (wrapped) when no local worker holds the session.
func (l *Locator) Find(ctx context.Context, sessionID string, hints []Hint) (Worker, error) {
	for _, h := range hints {
		if h.Port <= 0 || !isLoopbackHost(h.Host) {
			continue
		}
		host := ProbeHost(h.Host)
		st, err := l.ProbeStatus(ctx, host, h.Port)
		if err != nil || st.SessionID != sessionID {
			continue
		}
		w := Worker{Host: host, Port: h.Port, Status: st}
		w.Pid = l.PidForPort(h.Port)
		if w.Pid == 0 && h.Pid > 0 && !l.FS.Gone(h.Pid) {
			w.Pid = h.Pid
		}
		return w, nil
	}
	ws, err := l.Scan(ctx)
	if err != nil {
		return Worker{}, err
	}
	for _, w := range ws {
		if w.Status.SessionID == sessionID {
			return w, nil
		}
	}
	return Worker{}, fmt.Errorf("%w holds session %s", ErrNotLocal, sessionID)
}

// PidForPort returns the pid that holds the local listening socket on port,
// or 0.
func (l *Locator) PidForPort(port int) int {
	socks, err := l.FS.ListeningLocal()
	if err != nil {
		return 0
	}
	want := make(map[uint64]bool)
	for _, s := range socks {
		if s.Port == port {
			want[s.Inode] = true
		}
	}
	if len(want) == 0 {
		return 0
	}
	owners, err := l.FS.SocketOwners(want)
	if err != nil {
		return 0
	}
	var all []int
	for _, pids := range owners {
		all = append(all, pids...)
	}
	return l.pick(all)
}

// pick chooses among the processes sharing one socket: the one that looks
// like a worker binary if any, else the first.
func (l *Locator) pick(pids []int) int {
	if len(pids) == 0 {
		return 0
	}
	for _, p := range pids {
		if LooksLikeWorker(l.FS, p) {
			return p
		}
	}
	return pids[0]
}

// LooksLikeWorker reports whether pid's name or command line mentions
// steel-browser.
func LooksLikeWorker(fs procs.FS, pid int) bool {
	if st, err := fs.Stat(pid); err == nil && strings.Contains(st.Comm, "steel-browser") {
		return true
	}
	cmd, _ := fs.Cmdline(pid)
	return strings.Contains(cmd, "steel-browser")
}

func isLoopbackHost(h string) bool {
	if h == "" || h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// ProbeHost returns the loopback address to reach a worker that the
// orchestrator reports at host: ::1 for IPv6 loopback, else 127.0.0.1.
func ProbeHost(host string) string {
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.To4() == nil && ip.IsLoopback() {
		return "::1"
	}
	return "127.0.0.1"
}

// IsLoopbackHost reports whether host names this machine through loopback.
func IsLoopbackHost(h string) bool { return isLoopbackHost(h) }

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
