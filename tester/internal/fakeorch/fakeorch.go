// SPDX-License-Identifier: BSD-2-Clause

// Package fakeorch is a small in-process orchestrator that follows the
// session API contract, used to test the tester itself. A Fault makes it
// break exactly one rule, so a test can show that the matching check fails
// and the others do not.
//
// Sessions live in a map; "workers" are slots that hold at most one session.
// Time comes from a clock.Clock, so a test on a manual clock runs a TTL
// timeline instantly. No processes are involved: checks that need local
// worker processes skip against it.
package fakeorch

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"steel-orchestrator/tester/internal/clock"
)

// Fault names the one rule a fake breaks.
type Fault string

// Faults.
const (
	None             Fault = ""                   // follows every rule
	TTLLate          Fault = "ttl-late"           // sessions expire two seconds after the TTL
	OKAfterDelete    Fault = "ok-after-delete"    // DELETE answers 204 but the session stays
	SharedWorker     Fault = "shared-worker"      // every session shows the data of the last create
	HangingGet       Fault = "hanging-get"        // GET of an existing session never answers
	PlainErrors      Fault = "plain-errors"       // errors are plain text, not JSON
	RetypedCreatedAt Fault = "retyped-created-at" // GET turns the integer created_at into a string
)

// Faults lists every fault, None first.
func Faults() []Fault {
	return []Fault{None, TTLLate, OKAfterDelete, SharedWorker, HangingGet, PlainErrors, RetypedCreatedAt}
}

// Options configure a fake.
type Options struct {
	TTL     time.Duration // session TTL; default 60 s
	Clock   clock.Clock   // default the wall clock
	Workers int           // worker slots; default 16
	MaxBody int           // body limit in bytes; default 65536
	Fault   Fault
}

type session struct {
	id         string
	createdRaw []byte    // created_at as sent at creation (epoch seconds)
	created    time.Time // creation time on the fake's clock
	data       []byte
	last       time.Time // last create or GET
	worker     int
}

type idemEntry struct {
	body   string // request body the key was first used with
	status int
	resp   []byte
}

// Server is a running fake orchestrator.
type Server struct {
	opts Options

	mu       sync.Mutex
	sessions map[string]*session
	slots    []string // worker slot -> session id or ""
	idem     map[string]idemEntry
	shared   []byte // SharedWorker: the data of the last create
	created  int    // sessions created, for /metrics
	hist     histogram

	stop chan struct{}
	ts   *httptest.Server
}

// Start runs a fake on a free port of 127.0.0.1.
func Start(o Options) *Server {
	if o.TTL <= 0 {
		o.TTL = 60 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 65536
	}
	s := &Server{
		opts:     o,
		sessions: make(map[string]*session),
		slots:    make([]string, o.Workers),
		idem:     make(map[string]idemEntry),
		stop:     make(chan struct{}),
		hist:     newHistogram(),
	}
	ts := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fakeorch: listen: %v", err))
	}
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	s.ts = ts
	return s
}

// URL returns the fake's base URL.
func (s *Server) URL() string { return s.ts.URL }

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	close(s.stop)
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// SessionCount returns how many sessions are alive.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	return len(s.sessions)
}

// ttl is the TTL the fake really applies.
func (s *Server) ttl() time.Duration {
	if s.opts.Fault == TTLLate {
		return s.opts.TTL + 2*time.Second
	}
	return s.opts.TTL
}

// sweep drops expired sessions and frees their slots. Caller holds mu.
func (s *Server) sweep() {
	now := s.opts.Clock.Now()
	for id, sess := range s.sessions {
		if now.Sub(sess.last) >= s.ttl() {
			s.slots[sess.worker] = ""
			delete(s.sessions, id)
		}
	}
}

// writeError writes the contract's JSON error (or plain text under
// PlainErrors).
func (s *Server) writeError(w http.ResponseWriter, status int, code, msg string) {
	if s.opts.Fault == PlainErrors {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, http.StatusText(status))
		return
	}
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// validID applies the contract: 1-128 chars of [A-Za-z0-9._~-].
func validID(id string) bool {
	if len(id) < 1 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._~-", c) >= 0) {
			return false
		}
	}
	return true
}

// ServeHTTP routes one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.observe(time.Since(start)) }()
	path := r.URL.EscapedPath()
	method := func(allow ...string) bool {
		for _, m := range allow {
			if r.Method == m {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+path)
		return false
	}
	switch {
	case path == "/sessions":
		if method(http.MethodPost) {
			s.create(w, r)
		}
	case strings.HasPrefix(path, "/sessions/"):
		id := path[len("/sessions/"):]
		if strings.Contains(id, "/") {
			s.writeError(w, http.StatusNotFound, "not_found", "no such path")
			return
		}
		if !method(http.MethodGet, http.MethodDelete) {
			return
		}
		if !validID(id) {
			s.writeError(w, http.StatusBadRequest, "invalid_session_id", "session ids are 1-128 characters of [A-Za-z0-9._~-]")
			return
		}
		if r.Method == http.MethodGet {
			s.get(w, r, id)
		} else {
			s.delete(w, id)
		}
	case path == "/health":
		if method(http.MethodGet) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "ok")
		}
	case path == "/status":
		if method(http.MethodGet) {
			s.status(w)
		}
	case path == "/workers":
		if method(http.MethodGet) {
			s.workers(w)
		}
	case path == "/metrics":
		if method(http.MethodGet) {
			s.metrics(w)
		}
	default:
		s.writeError(w, http.StatusNotFound, "not_found", "no such path")
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sessionBody(id string, createdAt, data []byte) []byte {
	idj, _ := json.Marshal(id)
	return []byte(`{"id":` + string(idj) + `,"created_at":` + string(createdAt) + `,"data":` + string(data) + `}`)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxBody)+1))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid_json", "cannot read the body")
		return
	}
	if len(body) > s.opts.MaxBody {
		s.writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", s.opts.MaxBody))
		return
	}
	trimmed := strings.TrimSpace(string(body))
	if !json.Valid([]byte(trimmed)) {
		s.writeError(w, http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
		return
	}
	if !strings.HasPrefix(trimmed, "{") {
		s.writeError(w, http.StatusBadRequest, "not_an_object", "the body must be a JSON object")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	if key != "" {
		if e, ok := s.idem[key]; ok {
			if e.body != trimmed {
				s.writeError(w, http.StatusUnprocessableEntity, "idempotency_conflict", "the key was used with another body")
				return
			}
			writeJSON(w, e.status, e.resp)
			return
		}
	}
	slot := -1
	for i, id := range s.slots {
		if id == "" {
			slot = i
			break
		}
	}
	if slot < 0 {
		w.Header().Set("Retry-After", "1")
		s.writeError(w, http.StatusServiceUnavailable, "no_worker", "every worker is busy")
		return
	}
	now := s.opts.Clock.Now()
	sess := &session{
		id:         newID(),
		createdRaw: []byte(strconv.FormatInt(now.Unix(), 10)),
		created:    now,
		data:       []byte(trimmed),
		last:       now,
		worker:     slot,
	}
	s.sessions[sess.id] = sess
	s.slots[slot] = sess.id
	s.shared = sess.data
	s.created++
	resp := sessionBody(sess.id, sess.createdRaw, sess.data)
	if key != "" {
		s.idem[key] = idemEntry{body: trimmed, status: http.StatusCreated, resp: resp}
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	s.sweep()
	sess, ok := s.sessions[id]
	if !ok {
		s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, "session_not_found", "no session "+id)
		return
	}
	if s.opts.Fault == HangingGet {
		s.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
		panic(http.ErrAbortHandler)
	}
	sess.last = s.opts.Clock.Now()
	data := sess.data
	if s.opts.Fault == SharedWorker {
		data = s.shared
	}
	created := sess.createdRaw
	if s.opts.Fault == RetypedCreatedAt {
		created = []byte(`"` + sess.created.UTC().Format(time.RFC3339) + `"`)
	}
	b := sessionBody(sess.id, created, data)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) delete(w http.ResponseWriter, id string) {
	s.mu.Lock()
	s.sweep()
	sess, ok := s.sessions[id]
	if ok && s.opts.Fault != OKAfterDelete {
		delete(s.sessions, id)
		s.slots[sess.worker] = ""
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, "session_not_found", "no session "+id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) counts() (idle, busy int) {
	for _, id := range s.slots {
		if id == "" {
			idle++
		} else {
			busy++
		}
	}
	return
}

func (s *Server) status(w http.ResponseWriter) {
	s.mu.Lock()
	s.sweep()
	idle, busy := s.counts()
	n := len(s.sessions)
	s.mu.Unlock()
	st := map[string]interface{}{
		"available":       idle > 0,
		"workers":         map[string]int{"starting": 0, "idle": idle, "busy": busy, "releasing": 0, "dead": 0},
		"sessions":        n,
		"waiting_creates": 0,
		"capacity":        len(s.slots),
		"degraded":        false,
		"limits":          map[string]float64{"max_body": float64(s.opts.MaxBody), "session_ttl": s.opts.TTL.Seconds(), "create_wait": 0},
	}
	b, _ := json.Marshal(st)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) workers(w http.ResponseWriter) {
	s.mu.Lock()
	s.sweep()
	type worker struct {
		ID        int     `json:"id"`
		Node      string  `json:"node"`
		Pid       int     `json:"pid"`
		Host      string  `json:"host"`
		Port      int     `json:"port"`
		State     string  `json:"state"`
		Session   *string `json:"session"`
		StartedAt int64   `json:"started_at"`
		Restarts  int     `json:"restarts"`
	}
	port := s.ts.Listener.Addr().(*net.TCPAddr).Port
	list := make([]worker, 0, len(s.slots))
	for i, id := range s.slots {
		wk := worker{ID: i, Node: "fake", Host: "127.0.0.1", Port: port, State: "idle"}
		if id != "" {
			id := id
			wk.Session, wk.State = &id, "busy"
		}
		list = append(list, wk)
	}
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]interface{}{"workers": list})
	writeJSON(w, http.StatusOK, b)
}

// histogram is a fixed-bucket request duration histogram.
type histogram struct {
	bounds []float64 // upper bounds in seconds
	counts []int     // per bucket, not cumulative
	sum    float64
	n      int
}

func newHistogram() histogram {
	b := []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5}
	return histogram{bounds: b, counts: make([]int, len(b))}
}

func (s *Server) observe(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := d.Seconds()
	for i, b := range s.hist.bounds {
		if v <= b {
			s.hist.counts[i]++
			break
		}
	}
	s.hist.sum += v
	s.hist.n++
}

func (s *Server) metrics(w http.ResponseWriter) {
	s.mu.Lock()
	s.sweep()
	idle, busy := s.counts()
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP steel_sessions_created_total Sessions created since start.\n# TYPE steel_sessions_created_total counter\nsteel_sessions_created_total %d\n", s.created)
	fmt.Fprintf(&b, "# HELP steel_sessions_active Sessions alive.\n# TYPE steel_sessions_active gauge\nsteel_sessions_active %d\n", len(s.sessions))
	states := map[string]int{"idle": idle, "busy": busy}
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "# HELP steel_workers Workers by state.\n# TYPE steel_workers gauge\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "steel_workers{state=%q} %d\n", k, states[k])
	}
	fmt.Fprintf(&b, "# HELP steel_request_duration_seconds Request durations.\n# TYPE steel_request_duration_seconds histogram\n")
	cum := 0
	for i, bound := range s.hist.bounds {
		cum += s.hist.counts[i]
		fmt.Fprintf(&b, "steel_request_duration_seconds_bucket{le=\"%g\"} %d\n", bound, cum)
	}
	fmt.Fprintf(&b, "steel_request_duration_seconds_bucket{le=\"+Inf\"} %d\n", s.hist.n)
	fmt.Fprintf(&b, "steel_request_duration_seconds_sum %g\nsteel_request_duration_seconds_count %d\n", s.hist.sum, s.hist.n)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, b.String())
}
