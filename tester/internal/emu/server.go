// SPDX-License-Identifier: BSD-2-Clause

package emu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds a POST body the emulator will read (bytes).
const maxBody = 16 << 20

// session is the one session the worker holds.
type session struct {
	id        string
	createdAt []byte // JSON bytes, fixed at creation
	data      []byte // JSON bytes of the POST body
}

// Server is the emulated worker. Use NewServer; serve it with Handler.
type Server struct {
	cfg  Config
	exit func(code int) // ends the process (os.Exit in the binary)
	now  func() time.Time

	logmu sync.Mutex
	log   io.Writer

	mu   sync.Mutex
	rng  *mrand.Rand // fault rolls only; ids come from crypto/rand
	sess *session
	hung bool

	stopOnce sync.Once
	stop     chan struct{} // closed by Stop: hung handlers abort
}

// NewServer returns a worker configured by cfg that logs one line per
// request to log and calls exit to crash.
func NewServer(cfg Config, log io.Writer, exit func(int)) *Server {
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return &Server{
		cfg:  cfg,
		exit: exit,
		now:  time.Now,
		log:  log,
		rng:  mrand.New(mrand.NewSource(seed)),
		stop: make(chan struct{}),
	}
}

// Stop releases every hung handler (its connection is dropped unanswered).
func (s *Server) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
}

// Hung reports whether the hang knob has fired.
func (s *Server) Hung() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hung
}

func (s *Server) logf(format string, args ...interface{}) {
	s.logmu.Lock()
	defer s.logmu.Unlock()
	fmt.Fprintf(s.log, "steel-browser-emu: "+format+"\n", args...)
}

// route names the endpoint of a request and the methods it allows. id is
// the session id for /sessions/:id. ep is "" for an unknown path.
func route(path string) (ep string, allow string, id string) {
	switch {
	case path == "/sessions":
		return EPPost, "POST", ""
	case strings.HasPrefix(path, "/sessions/"):
		id = path[len("/sessions/"):]
		if id == "" || strings.Contains(id, "/") {
			return "", "", ""
		}
		return EPGet, "GET, DELETE", id
	case path == "/status":
		return EPStatus, "GET", ""
	case path == "/health":
		return EPHealth, "GET", ""
	}
	return "", "", ""
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	ep, allow, id := route(path)
	if ep == EPGet && r.Method == http.MethodDelete {
		ep = EPDelete
	}
	faultEP := ep
	if faultEP == "" {
		faultEP = EPOther
	}
	var body []byte
	var tooLarge bool
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return
		}
		body, tooLarge = b, len(b) > maxBody
	}
	if s.fault(faultEP, r.Method+" "+r.URL.EscapedPath()) {
		// A garbage reply: a success status with a body no client can use.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, garbageBody)
		s.logf("%s %s 200 garbage", r.Method, r.URL.EscapedPath())
		return
	}

	status, note := 0, ""
	switch {
	case ep == "":
		status = plain(w, http.StatusNotFound, "Not Found")
	case !allowed(allow, r.Method):
		w.Header().Set("Allow", allow)
		status = plain(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	case ep == EPPost:
		status, note = s.create(w, body, tooLarge)
	case ep == EPGet:
		status = s.get(w, id)
		note = id
	case ep == EPDelete:
		status = s.delete(w, id)
		note = id
	case ep == EPStatus:
		status = s.status(w)
	case ep == EPHealth:
		status = plain(w, http.StatusOK, "ok")
	}
	if note != "" {
		s.logf("%s %s %d %s", r.Method, r.URL.EscapedPath(), status, note)
	} else {
		s.logf("%s %s %d", r.Method, r.URL.EscapedPath(), status)
	}
}

// garbageBody is what a garbage reply carries: cut-off JSON.
const garbageBody = `{"id": "\u00`

// fault rolls the crash, hang and garbage knobs for one request. A crash
// calls exit (which does not return in the binary); a hang blocks until
// Stop; it returns true when the request gets a garbage reply.
func (s *Server) fault(ep, what string) bool {
	s.mu.Lock()
	if s.hung {
		s.mu.Unlock()
		s.block()
	}
	crash := s.cfg.CrashProb > 0 && (s.cfg.CrashOn == nil || s.cfg.CrashOn[ep]) && s.rng.Float64() < s.cfg.CrashProb
	hang := !crash && s.cfg.HangProb > 0 && (s.cfg.HangOn == nil || s.cfg.HangOn[ep]) && s.rng.Float64() < s.cfg.HangProb
	if hang {
		s.hung = true
	}
	garbage := !crash && !hang && s.cfg.GarbageProb > 0 && (s.cfg.GarbageOn == nil || s.cfg.GarbageOn[ep]) && s.rng.Float64() < s.cfg.GarbageProb
	s.mu.Unlock()
	if crash {
		s.logf("crashing during %s", what)
		s.exit(1)
		// Only reached when exit returns (in-process tests): drop the
		// connection as a dead process would.
		panic(http.ErrAbortHandler)
	}
	if hang {
		// The wall clock in ms, so a bench can time the hang's kill.
		s.logf("hanging during %s at %d ms", what, time.Now().UnixMilli())
		s.block()
	}
	return garbage
}

// block never answers: it waits for Stop and then drops the connection.
func (s *Server) block() {
	<-s.stop
	panic(http.ErrAbortHandler)
}

func allowed(allow, method string) bool {
	for _, m := range strings.Split(allow, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

func plain(w http.ResponseWriter, status int, text string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, text)
	return status
}

func (s *Server) create(w http.ResponseWriter, body []byte, tooLarge bool) (int, string) {
	if tooLarge {
		return plain(w, http.StatusRequestEntityTooLarge, "Payload Too Large"), ""
	}
	data := bytes.TrimSpace(body)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if !json.Valid(data) {
		return plain(w, http.StatusBadRequest, "invalid JSON"), ""
	}
	if s.cfg.PostDelay > 0 {
		select {
		case <-time.After(s.cfg.PostDelay):
		case <-s.stop:
			panic(http.ErrAbortHandler)
		}
	}
	sess := &session{id: newUUID(), createdAt: s.createdAt(), data: append([]byte(nil), data...)}
	s.mu.Lock()
	s.sess = sess
	s.mu.Unlock()
	writeSession(w, s.cfg.PostStatus, sess)
	return s.cfg.PostStatus, sess.id
}

func (s *Server) get(w http.ResponseWriter, id string) int {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess == nil || sess.id != id {
		return plain(w, http.StatusNotFound, "Not Found")
	}
	writeSession(w, http.StatusOK, sess)
	return http.StatusOK
}

func (s *Server) delete(w http.ResponseWriter, id string) int {
	s.mu.Lock()
	found := s.sess != nil && s.sess.id == id
	if found {
		s.sess = nil
	}
	s.mu.Unlock()
	if !found {
		return plain(w, http.StatusNotFound, "Not Found")
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

func (s *Server) status(w http.ResponseWriter) int {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	var b []byte
	if sess == nil {
		b = []byte(`{"available":true,"session_id":null}`)
	} else {
		id, _ := json.Marshal(sess.id)
		b = []byte(`{"available":false,"session_id":` + string(id) + `}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return http.StatusOK
}

// writeSession writes {"id","created_at","data"} with created_at and data
// copied byte for byte.
func writeSession(w http.ResponseWriter, status int, sess *session) {
	id, _ := json.Marshal(sess.id)
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	b.Write(id)
	b.WriteString(`,"created_at":`)
	b.Write(sess.createdAt)
	b.WriteString(`,"data":`)
	b.Write(sess.data)
	b.WriteString("}")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) createdAt() []byte {
	t := s.now()
	switch s.cfg.CreatedAt {
	case CreatedEpochMs:
		return []byte(strconv.FormatInt(t.UnixMilli(), 10))
	case CreatedISO:
		return []byte(`"` + t.UTC().Format(time.RFC3339) + `"`)
	}
	return []byte(strconv.FormatInt(t.Unix(), 10))
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; this keeps ids unique anyway.
		mrand.Read(b[:])
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Run serves the worker until ctx ends (SIGTERM in the binary), then shuts
// down within two seconds. It returns the process exit status: 0 after a
// clean shutdown, 1 when the address cannot be bound.
func Run(ctx context.Context, cfg Config, log io.Writer, exit func(int)) int {
	s := NewServer(cfg, log, exit)
	if cfg.StartDelay > 0 {
		select {
		case <-time.After(cfg.StartDelay):
		case <-ctx.Done():
			return 0
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		s.logf("cannot listen on %s: %v", cfg.Addr(), err)
		return 1
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln until ctx ends, then shuts down within two
// seconds and returns 0.
func (s *Server) Serve(ctx context.Context, ln net.Listener) int {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	s.logf("listening on %s", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			s.logf("serve: %v", err)
			return 1
		}
		return 0
	}
	s.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	s.logf("stopped")
	return 0
}
