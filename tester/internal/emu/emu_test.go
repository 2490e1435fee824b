// SPDX-License-Identifier: BSD-2-Clause

package emu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// started is an emulator served in-process on a free loopback port.
type started struct {
	srv    *Server
	url    string
	exited chan int // codes passed to the crash hook
	cancel context.CancelFunc
	done   chan int
}

func startInProcess(t *testing.T, env map[string]string) *started {
	t.Helper()
	env["PORT"] = "1" // replaced by the listener below
	cfg, err := ParseConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &started{exited: make(chan int, 16), done: make(chan int, 1)}
	st.srv = NewServer(cfg, io.Discard, func(code int) { st.exited <- code })
	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	st.url = "http://" + ln.Addr().String()
	go func() { st.done <- st.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-st.done:
		case <-time.After(5 * time.Second):
			t.Error("emulator did not stop")
		}
	})
	return st
}

var client = &http.Client{Timeout: 2 * time.Second}

func do(t *testing.T, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type sessionBody struct {
	ID        string          `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

func decode(t *testing.T, b []byte) sessionBody {
	t.Helper()
	var s sessionBody
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("bad session body %q: %v", b, err)
	}
	return s
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSingleSessionLifecycle(t *testing.T) {
	e := startInProcess(t, map[string]string{})
	code, _, b := do(t, "GET", e.url+"/status", "")
	if code != 200 || string(b) != `{"available":true,"session_id":null}` {
		t.Fatalf("idle status: %d %s", code, b)
	}
	body := `{"user": "test", "big": 12345678901234567890}`
	code, hdr, b := do(t, "POST", e.url+"/sessions", body)
	if code != 201 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("POST: %d %v %s", code, hdr, b)
	}
	s := decode(t, b)
	if !uuidV4.MatchString(s.ID) {
		t.Errorf("id %q is not a UUIDv4", s.ID)
	}
	if string(s.Data) != body {
		t.Errorf("data not echoed verbatim: %s", s.Data)
	}
	code, _, g := do(t, "GET", e.url+"/sessions/"+s.ID, "")
	if code != 200 || !bytes.Equal(g, b) {
		t.Errorf("GET: %d %s, expected the POST body %s", code, g, b)
	}
	_, _, st := do(t, "GET", e.url+"/status", "")
	if string(st) != `{"available":false,"session_id":"`+s.ID+`"}` {
		t.Errorf("busy status: %s", st)
	}
	if code, _, _ := do(t, "DELETE", e.url+"/sessions/"+s.ID, ""); code != 204 {
		t.Errorf("DELETE: %d", code)
	}
	if code, _, b := do(t, "DELETE", e.url+"/sessions/"+s.ID, ""); code != 404 || string(b) != "Not Found" {
		t.Errorf("second DELETE: %d %s", code, b)
	}
	if code, _, _ := do(t, "GET", e.url+"/sessions/"+s.ID, ""); code != 404 {
		t.Errorf("GET after DELETE: %d", code)
	}
}

func TestSecondPostReplacesTheFirst(t *testing.T) {
	e := startInProcess(t, map[string]string{})
	_, _, b1 := do(t, "POST", e.url+"/sessions", `{"n":1}`)
	_, _, b2 := do(t, "POST", e.url+"/sessions", `{"n":2}`)
	s1, s2 := decode(t, b1), decode(t, b2)
	if s1.ID == s2.ID {
		t.Fatal("two creates gave one id")
	}
	if code, _, _ := do(t, "GET", e.url+"/sessions/"+s1.ID, ""); code != 404 {
		t.Errorf("old session: expected 404, got %d", code)
	}
	if code, _, b := do(t, "GET", e.url+"/sessions/"+s2.ID, ""); code != 200 || string(decode(t, b).Data) != `{"n":2}` {
		t.Errorf("new session: %d %s", code, b)
	}
}

func TestCreatedAtFormatsAndPostStatus(t *testing.T) {
	tests := []struct {
		format, status string
		want           *regexp.Regexp
		code           int
	}{
		{"", "", regexp.MustCompile(`^1[0-9]{9}$`), 201},
		{"epoch", "200", regexp.MustCompile(`^1[0-9]{9}$`), 200},
		{"epoch_ms", "", regexp.MustCompile(`^1[0-9]{12}$`), 201},
		{"iso", "", regexp.MustCompile(`^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"$`), 201},
	}
	for _, tc := range tests {
		t.Run(tc.format+"/"+tc.status, func(t *testing.T) {
			e := startInProcess(t, map[string]string{"STEEL_EMU_CREATED_AT": tc.format, "STEEL_EMU_POST_STATUS": tc.status})
			code, _, b := do(t, "POST", e.url+"/sessions", `{}`)
			s := decode(t, b)
			if code != tc.code || !tc.want.Match(s.CreatedAt) {
				t.Errorf("got %d created_at %s", code, s.CreatedAt)
			}
			time.Sleep(10 * time.Millisecond)
			_, _, g := do(t, "GET", e.url+"/sessions/"+s.ID, "")
			if !bytes.Equal(decode(t, g).CreatedAt, s.CreatedAt) {
				t.Errorf("created_at changed: %s then %s", s.CreatedAt, decode(t, g).CreatedAt)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) {
	e := startInProcess(t, map[string]string{})
	tests := []struct {
		method, path, body string
		code               int
		allow              string
		text               string
	}{
		{"GET", "/health", "", 200, "", "ok"},
		{"POST", "/health", "", 405, "GET", ""},
		{"PUT", "/sessions", "{}", 405, "POST", ""},
		{"GET", "/sessions", "", 405, "POST", ""},
		{"PATCH", "/sessions/x", "", 405, "GET, DELETE", ""},
		{"POST", "/status", "", 405, "GET", ""},
		{"GET", "/nope", "", 404, "", "Not Found"},
		{"GET", "/sessions/", "", 404, "", ""},
		{"GET", "/sessions/a/b", "", 404, "", ""},
		{"GET", "/sessions/unknown", "", 404, "", "Not Found"},
		{"POST", "/sessions", `{"a":`, 400, "", ""},
		{"POST", "/sessions", `not json`, 400, "", ""},
	}
	for _, tc := range tests {
		code, hdr, b := do(t, tc.method, e.url+tc.path, tc.body)
		if code != tc.code {
			t.Errorf("%s %s: expected %d, got %d %s", tc.method, tc.path, tc.code, code, b)
		}
		if tc.allow != "" && hdr.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, expected %q", tc.method, tc.path, hdr.Get("Allow"), tc.allow)
		}
		if tc.text != "" && string(b) != tc.text {
			t.Errorf("%s %s: body %q, expected %q", tc.method, tc.path, b, tc.text)
		}
	}
	// An empty body creates a session with {} as data.
	code, _, b := do(t, "POST", e.url+"/sessions", "")
	if code != 201 || string(decode(t, b).Data) != "{}" {
		t.Errorf("empty POST: %d %s", code, b)
	}
}

func TestCrashKnobInProcess(t *testing.T) {
	e := startInProcess(t, map[string]string{"STEEL_EMU_CRASH_PROB": "1", "STEEL_EMU_CRASH_ON": "post"})
	if code, _, _ := do(t, "GET", e.url+"/health", ""); code != 200 {
		t.Fatalf("health: %d", code)
	}
	_, err := client.Post(e.url+"/sessions", "application/json", strings.NewReader(`{}`))
	if err == nil {
		t.Fatal("POST got an answer from a crashing worker")
	}
	select {
	case code := <-e.exited:
		if code != 1 {
			t.Errorf("exit code %d, expected 1", code)
		}
	default:
		t.Error("crash hook not called")
	}
}

func TestGarbageKnobInProcess(t *testing.T) {
	e := startInProcess(t, map[string]string{"STEEL_EMU_GARBAGE_PROB": "1", "STEEL_EMU_GARBAGE_ON": "post"})
	for i := 0; i < 3; i++ {
		code, _, b := do(t, "POST", e.url+"/sessions", `{}`)
		if code != 200 || json.Valid(b) {
			t.Fatalf("POST: %d %q, expected 200 with invalid JSON", code, b)
		}
	}
	// Other endpoints answer as usual: the process is healthy.
	if code, _, b := do(t, "GET", e.url+"/status", ""); code != 200 || !json.Valid(b) {
		t.Fatalf("GET /status: %d %q", code, b)
	}
}

func TestHangKnobInProcess(t *testing.T) {
	e := startInProcess(t, map[string]string{"STEEL_EMU_HANG_PROB": "1", "STEEL_EMU_HANG_ON": "get"})
	_, _, b := do(t, "POST", e.url+"/sessions", `{}`)
	id := decode(t, b).ID
	short := &http.Client{Timeout: 300 * time.Millisecond}
	var wg sync.WaitGroup
	for _, p := range []string{"/sessions/" + id, "/health", "/status"} {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			if resp, err := short.Get(e.url + p); err == nil {
				resp.Body.Close()
				t.Errorf("GET %s answered %d after the hang", p, resp.StatusCode)
			}
		}(p)
		wg.Wait() // the first request must hang the process before the others
	}
	if !e.srv.Hung() {
		t.Error("Hung() is false")
	}
	// Connections are still accepted.
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(e.url, "http://"), time.Second)
	if err != nil {
		t.Errorf("listener stopped accepting: %v", err)
	} else {
		c.Close()
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		env map[string]string
		err string
	}{
		{map[string]string{}, "PORT is not set"},
		{map[string]string{"PORT": "abc"}, "not a port"},
		{map[string]string{"PORT": "70000"}, "not a port"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_POST_STATUS": "202"}, "200 or 201"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_CREATED_AT": "rfc"}, "epoch"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_CRASH_PROB": "1.5"}, "probability"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_HANG_ON": "get,bogus"}, "unknown endpoint"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_START_DELAY_MS": "-1"}, "milliseconds"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_BIND": "not-an-ip"}, "IP address"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_SEED": "x"}, "integer"},
		{map[string]string{"PORT": "3001", "STEEL_EMU_CRASH_ON": "Post, GET", "STEEL_EMU_SEED": "7"}, ""},
	}
	for _, tc := range tests {
		cfg, err := ParseConfig(func(k string) string { return tc.env[k] })
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: unexpected error %v", tc.env, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: expected error containing %q, got %v", tc.env, tc.err, err)
		case tc.err == "" && (!cfg.CrashOn["post"] || !cfg.CrashOn["get"] || cfg.Seed != 7 || cfg.Addr() != "127.0.0.1:3001"):
			t.Errorf("%v: parsed %+v", tc.env, cfg)
		}
	}
}
