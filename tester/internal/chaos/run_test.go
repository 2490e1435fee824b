// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"steel-orchestrator/tester/internal/fakeorch"
)

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed\n\z`)

// runMain runs the command against url and returns its exit status, stdout
// and the decoded --json file.
func runMain(t *testing.T, ctx context.Context, url string, args ...string) (int, string, map[string]interface{}) {
	t.Helper()
	jf := filepath.Join(t.TempDir(), "out.json")
	var out, errb bytes.Buffer
	code := Main(ctx, append([]string{"--url", url, "--sample", "0.05", "--json", jf}, args...), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	if !summaryLine.MatchString(out.String()) {
		t.Errorf("stdout does not end with the summary line:\n%s", out.String())
	}
	var j map[string]interface{}
	b, err := os.ReadFile(jf)
	if err != nil {
		t.Fatalf("--json file: %v", err)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatalf("--json file is not JSON: %v", err)
	}
	return code, out.String(), j
}

func outcomes(j map[string]interface{}, stage string) map[string]float64 {
	out := map[string]float64{}
	m, _ := j["outcomes"].(map[string]interface{})
	s, _ := m[stage].(map[string]interface{})
	for k, v := range s {
		out[k], _ = v.(float64)
	}
	return out
}

func TestRunHealthy(t *testing.T) {
	f := fakeorch.Start(fakeorch.Options{Workers: 16})
	defer f.Close()
	code, out, j := runMain(t, context.Background(), f.URL(), "--flows", "40", "--parallel", "4",
		"--max-create-ms", "5000", "--max-get-ms", "5000", "--max-delete-ms", "5000",
		"--no-degraded", "--min-create-ok", "100", "--min-flows-ok", "100")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.HasSuffix(out, "7 passed, 0 failed\n") {
		t.Errorf("want 7 checks passed:\n%s", out)
	}
	for _, want := range []string{"OUTCOMES", "LATENCY", "FLOWS 40 of 40 fully ok (100.0%)", "POOL (GET /status every 50 ms", "degraded transitions: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if o := outcomes(j, StageCreate); o["201"] != 40 {
		t.Errorf("create outcomes %v", o)
	}
	if o := outcomes(j, StageDelete); o["204"] != 40 {
		t.Errorf("delete outcomes %v", o)
	}
	if j["flows_ok"].(float64) != 40 || len(j["timeline"].([]interface{})) == 0 || j["failed"].(float64) != 0 {
		t.Errorf("json %v", j)
	}
	if n := f.SessionCount(); n != 0 {
		t.Errorf("%d sessions left behind", n)
	}
}

func TestRunFullPoolCounts503WithoutRetry(t *testing.T) {
	f := fakeorch.Start(fakeorch.Options{Workers: 2})
	defer f.Close()
	code, out, j := runMain(t, context.Background(), f.URL(), "--flows", "60", "--parallel", "8", "--min-create-ok", "100")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	o := outcomes(j, StageCreate)
	if o["503"] == 0 || o["201"]+o["503"] != 60 {
		t.Errorf("create outcomes %v: want 60 creates (503s not retried), some 503", o)
	}
	if !strings.Contains(out, "not ok - creates answered 2xx >= 100%") ||
		!strings.Contains(out, "ok - only allowed server errors (create:503,get:504): seen: create 503 x") {
		t.Errorf("report:\n%s", out)
	}
}

func TestRunWrongData(t *testing.T) {
	f := fakeorch.Start(fakeorch.Options{Workers: 16, Fault: fakeorch.SharedWorker})
	defer f.Close()
	code, out, j := runMain(t, context.Background(), f.URL(), "--burst", "6", "--min-flows-ok", "100")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if o := outcomes(j, StageGet); o["200 wrong-data"] == 0 {
		t.Errorf("get outcomes %v: want wrong-data answers", o)
	}
	if !strings.Contains(out, "not ok - burst: each session on a worker of its own") ||
		!strings.Contains(out, "ok - burst: all 6 creates answered 2xx") {
		t.Errorf("report:\n%s", out)
	}
}

func TestRunBurst(t *testing.T) {
	f := fakeorch.Start(fakeorch.Options{Workers: 9})
	defer f.Close()
	code, out, j := runMain(t, context.Background(), f.URL(), "--burst", "8", "--probe-during", "--probe-ms", "5",
		"--max-probe-p99-ms", "2000")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	b := j["burst"].(map[string]interface{})
	if b["created"].(float64) != 8 || b["listed"].(float64) != 8 || b["distinct_workers"].(float64) != 8 {
		t.Errorf("burst %v", b)
	}
	if !strings.Contains(out, "PROBES (one every 5 ms") || !strings.Contains(out, "8 sessions listed, on 8 distinct workers") {
		t.Errorf("report:\n%s", out)
	}
	if n := f.SessionCount(); n != 0 {
		t.Errorf("%d sessions left behind (the probe's included)", n)
	}
	// The probe's own session is not counted among the creates.
	if o := outcomes(j, StageCreate); o["201"] != 8 || len(o) != 1 {
		t.Errorf("create outcomes %v: want the 8 creates of the burst", o)
	}
}

func TestRunHangingGetIsMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("waits on client deadlines")
	}
	f := fakeorch.Start(fakeorch.Options{Workers: 8, Fault: fakeorch.HangingGet})
	defer f.Close()
	start := time.Now()
	code, out, j := runMain(t, context.Background(), f.URL(), "--flows", "4", "--parallel", "4", "--timeout", "0.3",
		"--max-get-ms", "200")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the run took %v: hangs must end at the client deadline", el)
	}
	if o := outcomes(j, StageGet); o[OutcomeTimeout] != 4 {
		t.Errorf("get outcomes %v", o)
	}
	if o := outcomes(j, StageDelete); o["204"] != 4 {
		t.Errorf("delete outcomes %v: a session whose GET failed is still deleted", o)
	}
	if !strings.Contains(out, "not ok - every get answered within 200 ms") {
		t.Errorf("report:\n%s", out)
	}
}

// degradedOrch answers every create with 503 and reports a degraded pool
// from its third GET /status on.
func degradedOrch() *httptest.Server {
	n := 0
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			n++
			w.Header().Set("Content-Type", "application/json")
			if n >= 3 {
				w.Write([]byte(`{"workers":{"idle":0,"dead":2},"waiting_creates":1,"degraded":true,"nodes":{"vm1":{"state":"degraded","reason":"cannot execute /nope"}}}`))
				return
			}
			w.Write([]byte(`{"workers":{"idle":0},"degraded":false,"nodes":{"vm1":{"state":"ok"}}}`))
		case "/sessions":
			time.Sleep(20 * time.Millisecond)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"no_worker","message":"no worker"}`))
		default:
			http.NotFound(w, r)
		}
	}))
}

func TestRunDegraded(t *testing.T) {
	ts := degradedOrch()
	defer ts.Close()
	code, out, j := runMain(t, context.Background(), ts.URL, "--flows", "20", "--parallel", "1", "--sample", "0.02", "--no-degraded")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "not ok - GET /status never showed the pool degraded") ||
		!strings.Contains(out, "ok -> degraded (vm1: cannot execute /nope)") ||
		!strings.Contains(out, "note: 20 create 503 answers had no Retry-After") {
		t.Errorf("report:\n%s", out)
	}
	if tr := j["degraded_transitions"].([]interface{}); len(tr) != 1 {
		t.Errorf("transitions %v", tr)
	}
}

func TestRunInterrupted(t *testing.T) {
	f := fakeorch.Start(fakeorch.Options{Workers: 16, Fault: fakeorch.HangingGet})
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	code, out, j := runMain(t, ctx, f.URL(), "--flows", "100", "--parallel", "4", "--timeout", "10")
	if code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, out)
	}
	if !strings.Contains(out, "INTERRUPTED after 4 of 100 flows") || j["interrupted"] != true {
		t.Errorf("report:\n%s", out)
	}
	if n := f.SessionCount(); n != 0 {
		t.Errorf("%d sessions left behind after the interrupt", n)
	}
}
