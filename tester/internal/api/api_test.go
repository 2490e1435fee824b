// SPDX-License-Identifier: BSD-2-Clause

package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPathsAreSentVerbatim(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.RequestURI)
		mu.Unlock()
		w.WriteHeader(404)
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/prefix/", "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	paths := []string{"/sessions/..%2F..%2Fetc", "/sessions/abc%00def", "/sessions/a%0D%0Ab", "/sessions/" + strings.Repeat("a", 5000)}
	for _, p := range paths {
		if _, err := c.Get(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range paths {
		if got[i] != "/prefix"+p {
			t.Errorf("sent %q, expected %q", got[i], "/prefix"+p)
		}
	}
	if SessionPath("a b/c") != "/sessions/a%20b%2Fc" || SessionPath("Ab-9._~") != "/sessions/Ab-9._~" {
		t.Errorf("SessionPath escapes wrongly: %s %s", SessionPath("a b/c"), SessionPath("Ab-9._~"))
	}
}

func TestTimeoutIsReported(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, _ := New(srv.URL, "", 100*time.Millisecond)
	defer c.Close()
	start := time.Now()
	_, err := c.Get(context.Background(), "/sessions/x")
	var te *TimeoutError
	if !errors.As(err, &te) || !IsTimeout(err) || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Errorf("expected a timeout error, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://", "localhost:8080", "http://x/?a=1", "::"} {
		if _, err := New(u, "", time.Second); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := New("http://x", "", 0); err == nil {
		t.Error("zero timeout accepted")
	}
}

func TestParseSession(t *testing.T) {
	tests := []struct {
		body string
		err  string
	}{
		{`{"id":"a","created_at":1,"data":{"x":1}}`, ""},
		{`{"id":"a","created_at":"2024-01-15T10:30:00Z","data":null}`, ""},
		{`{"id":"","created_at":1,"data":{}}`, "non-empty string"},
		{`{"id":5,"created_at":1,"data":{}}`, "non-empty string"},
		{`{"created_at":1,"data":{}}`, `no "id"`},
		{`{"id":"a","created_at":null,"data":{}}`, `no "created_at"`},
		{`{"id":"a","created_at":1}`, `no "data"`},
		{`[1]`, "not a JSON object"},
	}
	for _, tc := range tests {
		s, err := ParseSession([]byte(tc.body))
		switch {
		case tc.err == "" && (err != nil || s.ID != "a"):
			t.Errorf("%s: %v", tc.body, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: expected error %q, got %v", tc.body, tc.err, err)
		}
	}
}

func resp(status int, ct, body string, hdr ...string) *Response {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &Response{Status: status, Header: h, Body: []byte(body)}
}

func TestCheckErrorShape(t *testing.T) {
	tests := []struct {
		r  *Response
		ok bool
	}{
		{resp(404, "application/json", `{"error":"session_not_found","message":"no such session"}`), true},
		{resp(400, "application/json; charset=utf-8", `{"error":"invalid_json","message":"x","extra":1}`), true},
		{resp(404, "text/plain", `Not Found`), false},
		{resp(404, "application/json", `Not Found`), false},
		{resp(404, "application/json", `{"error":"","message":"x"}`), false},
		{resp(404, "application/json", `{"error":"x"}`), false},
		{resp(404, "application/json", `{"error":1,"message":"x"}`), false},
		{resp(404, "", `{"error":"x","message":"y"}`), false},
	}
	for i, tc := range tests {
		if err := CheckErrorShape(tc.r); (err == nil) != tc.ok {
			t.Errorf("case %d: %v", i, err)
		}
	}
	if ErrorCode([]byte(`{"error":"no_worker","message":"m"}`)) != "no_worker" || ErrorCode([]byte(`x`)) != "" {
		t.Error("ErrorCode")
	}
}

func TestRetryAfterAndStatus(t *testing.T) {
	if d, ok := RetryAfter(resp(503, "", "", "Retry-After", "2")); !ok || d != 2*time.Second {
		t.Errorf("Retry-After 2: %v %v", d, ok)
	}
	if _, ok := RetryAfter(resp(503, "", "")); ok {
		t.Error("no header parsed")
	}
	if _, ok := RetryAfter(resp(503, "", "", "Retry-After", "soon")); ok {
		t.Error("bad header parsed")
	}
	st, err := ParseStatus([]byte(`{"available":true,"workers":{"idle":3,"busy":"x"},"sessions":2,"limits":{"max_body":1024}}`))
	if err != nil || st.Available == nil || !*st.Available || *st.Sessions != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	if v, ok := st.Worker("idle"); !ok || v != 3 {
		t.Error("workers.idle")
	}
	if _, ok := st.Worker("busy"); ok {
		t.Error("a string count was accepted")
	}
	if v, ok := st.Limit("max_body"); !ok || v != 1024 {
		t.Error("limits.max_body")
	}
	old, err := ParseStatus([]byte(`{"available":false}`))
	if err != nil || old.Sessions != nil || old.Workers != nil {
		t.Errorf("early-version status: %+v %v", old, err)
	}
	if _, ok := old.Limit("max_body"); ok {
		t.Error("missing limits reported")
	}
	if _, err := ParseStatus([]byte(`ok`)); err == nil {
		t.Error("non-JSON status accepted")
	}
}
