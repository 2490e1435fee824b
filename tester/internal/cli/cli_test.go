// SPDX-License-Identifier: BSD-2-Clause

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"steel-orchestrator/tester/internal/clock"
	"steel-orchestrator/tester/internal/fakeorch"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args  []string
		check func(o Options) bool
		err   string
	}{
		{args: nil, check: func(o Options) bool {
			return o.URL == "http://127.0.0.1:8080" && o.TTL == time.Minute && o.Timeout == 10*time.Second &&
				o.MaxBody == 65536 && o.WorkerDeadline == 10*time.Second && o.HangKillBound == 15*time.Second && o.Local && !o.JSON
		}},
		{args: []string{"--url", "http://h:1", "--ttl", "3", "--timeout", "1.5", "--token", "t"}, check: func(o Options) bool {
			return o.URL == "http://h:1" && o.TTL == 3*time.Second && o.Timeout == 1500*time.Millisecond && o.Token == "t"
		}},
		{args: []string{"-ttl=500ms", "-worker-deadline", "2s", "-hang-kill-bound", "4"}, check: func(o Options) bool {
			return o.TTL == 500*time.Millisecond && o.WorkerDeadline == 2*time.Second && o.HangKillBound == 4*time.Second
		}},
		{args: []string{"--only", "core", "--skip", "ttl, recovery", "--json", "--junit", "x.xml", "--no-color", "--local", "off"}, check: func(o Options) bool {
			return len(o.Only) == 1 && len(o.Skip) == 2 && o.Skip[1] == "recovery" && o.JSON && o.JUnit == "x.xml" && o.NoColor && !o.Local
		}},
		{args: []string{"--ttl", "0"}, err: "between 0"},
		{args: []string{"--ttl", "abc"}, err: "not a number"},
		{args: []string{"--timeout", "-1s"}, err: "between 0"},
		{args: []string{"--only", "bogus"}, err: "unknown check"},
		{args: []string{"--skip", "core,bogus"}, err: "unknown check"},
		{args: []string{"--local", "maybe"}, err: "auto or off"},
		{args: []string{"--max-body", "0"}, err: "positive"},
		{args: []string{"extra"}, err: "unexpected argument"},
		{args: []string{"--nope"}, err: "not defined"},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		o, err := ParseArgs(tc.args, &stderr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.err) {
				t.Errorf("%v: expected error %q, got %v (%s)", tc.args, tc.err, err, stderr.String())
			}
			continue
		}
		if err != nil || !tc.check(o) {
			t.Errorf("%v: got %+v, %v", tc.args, o, err)
		}
	}
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Run(ctx, args, IO{Stdout: &out, Stderr: &errb, Clock: clock.NewManual(time.Unix(1_700_000_000, 0))})
	return code, out.String(), errb.String()
}

func TestUsageExitCodes(t *testing.T) {
	if code, _, _ := run(t, "-h"); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
	if code, _, stderr := run(t, "--only", "nope"); code != 2 || !strings.Contains(stderr, "unknown check") {
		t.Errorf("--only nope: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "--url", "ftp://x"); code != 2 || !strings.Contains(stderr, "scheme") {
		t.Errorf("bad url: exit %d, %s", code, stderr)
	}
}

func TestList(t *testing.T) {
	code, out, _ := run(t, "--list", "--ttl", "3")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"SLUG", "create", "ttl-refresh", "crash-create", "Session TTL expiration (3s)", "observability"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list lacks %q:\n%s", want, out)
		}
	}
}

func TestRunAgainstFakes(t *testing.T) {
	good := fakeorch.Start(fakeorch.Options{TTL: 2 * time.Second, Clock: clock.NewManual(time.Unix(1_700_000_000, 0))})
	defer good.Close()
	bad := fakeorch.Start(fakeorch.Options{Fault: fakeorch.PlainErrors})
	defer bad.Close()

	code, out, _ := run(t, "--url", good.URL(), "--only", "core", "--skip", "ttl", "--local", "off", "--timeout", "5")
	if code != 0 {
		t.Errorf("correct fake: exit %d\n%s", code, out)
	}
	for _, want := range []string{"🧪 ORCHESTRATOR TEST SUITE", "✓ Create session", "○ Worker failure recovery", "📊 RESULTS: 5/5 passed", "5 passed, 0 failed, 1 skipped\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	junit := filepath.Join(t.TempDir(), "report.xml")
	code, out, _ = run(t, "--url", bad.URL(), "--only", "input-json,missing", "--json", "--junit", junit, "--local", "off")
	if code != 1 {
		t.Errorf("broken fake: exit %d, expected 1", code)
	}
	var doc struct {
		Passed, Failed int
		Checks         []struct{ Slug, Status, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if doc.Passed != 1 || doc.Failed != 1 || doc.Checks[1].Slug != "input-json" || !strings.Contains(doc.Checks[1].Reason, "application/json") {
		t.Errorf("JSON report %+v", doc)
	}
	if b, err := os.ReadFile(junit); err != nil || !bytes.Contains(b, []byte("<failure")) {
		t.Errorf("JUnit file: %v\n%s", err, b)
	}
}

func TestTokenIsSentEverywhere(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		w.Write([]byte(`{"error":"session_not_found","message":"no"}`))
	}))
	defer srv.Close()
	if code, out, _ := run(t, "--url", srv.URL, "--only", "missing,delete-missing", "--token", "s3cret", "--local", "off"); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 7 {
		t.Fatalf("%d requests", len(seen))
	}
	for _, h := range seen {
		if h != "Bearer s3cret" {
			t.Errorf("Authorization %q", h)
		}
	}
}
