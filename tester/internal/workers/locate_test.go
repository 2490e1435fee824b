// SPDX-License-Identifier: BSD-2-Clause

package workers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"steel-orchestrator/tester/internal/emu"
	"steel-orchestrator/tester/internal/procs"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		body string
		want Status
		ok   bool
	}{
		{`{"available":true,"session_id":null}`, Status{Available: true}, true},
		{`{"available":false,"session_id":"abc"}`, Status{SessionID: "abc"}, true},
		{`{"available":true}`, Status{Available: true}, true},
		{`{"available":"yes","session_id":null}`, Status{}, false},
		{`{"available":true,"session_id":5}`, Status{}, false},
		{`{"available":true,"workers":{"idle":3}}`, Status{}, false},
		{`ok`, Status{}, false},
	}
	for _, tc := range tests {
		got, err := ParseStatus([]byte(tc.body))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v, %v", tc.body, got, err)
		}
	}
}

// startWorker serves an in-process emulated worker on loopback and holds
// one session in it.
func startWorker(t *testing.T) (port int, id string) {
	t.Helper()
	cfg, err := emu.ParseConfig(func(k string) string {
		if k == "PORT" {
			return "1"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { emu.NewServer(cfg, io.Discard, func(int) {}).Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	port = ln.Addr().(*net.TCPAddr).Port
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Post("http://"+ln.Addr().String()+"/sessions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return port, s.ID
}

func TestFindLocalWorker(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	port, id := startWorker(t)
	l := New(procs.Default)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, hints := range [][]Hint{nil, {{Host: "127.0.0.1", Port: port}}} {
		w, err := l.Find(ctx, id, hints)
		if err != nil {
			t.Fatalf("hints %v: %v", hints, err)
		}
		if w.Port != port || w.Pid != os.Getpid() || w.Status.SessionID != id {
			t.Errorf("hints %v: found %+v, expected port %d pid %d", hints, w, port, os.Getpid())
		}
	}
	_, err := l.Find(ctx, "no-such-session", []Hint{{Host: "127.0.0.1", Port: port}})
	if !errors.Is(err, ErrNotLocal) {
		t.Errorf("unknown session: expected ErrNotLocal, got %v", err)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"127.0.0.1": true, "localhost": true, "::1": true, "[::1]": true, "0.0.0.0": true, "": true,
		"10.0.0.5": false, "example.org": false,
	} {
		if IsLoopbackHost(h) != want {
			t.Errorf("IsLoopbackHost(%q) = %v", h, !want)
		}
	}
	for h, want := range map[string]string{"::1": "::1", "[::1]": "::1", "127.0.0.1": "127.0.0.1", "": "127.0.0.1", "localhost": "127.0.0.1", "::": "127.0.0.1"} {
		if got := ProbeHost(h); got != want {
			t.Errorf("ProbeHost(%q) = %q, expected %q", h, got, want)
		}
	}
}
