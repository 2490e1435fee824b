// SPDX-License-Identifier: BSD-2-Clause

package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"steel-orchestrator/tester/internal/checks"
)

var sample = []checks.Result{
	{Slug: "create", Group: "core", Title: "Create session", Status: checks.Pass, Duration: 12 * time.Millisecond},
	{Slug: "get", Group: "core", Title: "Get session", Status: checks.Fail, Reason: "created_at changed: expected 1, got \"x\"", Duration: 1250 * time.Millisecond},
	{Slug: "recovery", Group: "core", Title: "Worker failure recovery", Status: checks.Skip, Reason: "no local worker", Duration: 300 * time.Millisecond},
	{Slug: "delete-twice", Group: "delete", Title: "A second DELETE answers 404", Status: checks.Pass, Duration: 0},
}

func render(color, live bool, rs []checks.Result) string {
	var b bytes.Buffer
	tx := &Text{W: &b, Color: color, Live: live}
	tx.Header()
	for _, r := range rs {
		tx.Start(checks.Check{Slug: r.Slug, Group: r.Group, Title: r.Title})
		tx.Finish(r)
	}
	tx.Footer(rs)
	return b.String()
}

func TestTextLayout(t *testing.T) {
	got := render(false, false, sample)
	want := `━━━━━━━━━━━━━━━━━━━━━━━━━━━━
🧪 ORCHESTRATOR TEST SUITE
━━━━━━━━━━━━━━━━━━━━━━━━━━━━

✓ Create session (0.0s)
✗ Get session (1.2s)
    created_at changed: expected 1, got "x"
○ Worker failure recovery (0.3s)
    skipped: no local worker

── delete ──
✓ A second DELETE answers 404 (0.0s)

━━━━━━━━━━━━━━━━━━━━━━━━━━━━
📊 RESULTS: 2/3 passed
━━━━━━━━━━━━━━━━━━━━━━━━━━━━
2 passed, 1 failed, 1 skipped
`
	if got != want {
		t.Errorf("text report:\n%s\nexpected:\n%s", got, want)
	}
}

func TestTextAllPassedMatchesTheChallenge(t *testing.T) {
	var rs []checks.Result
	for _, title := range []string{"Create session", "Get session", "Delete session", "404 on missing session",
		"Concurrent sessions (10 parallel)", "Session TTL expiration (60s)", "Worker failure recovery"} {
		rs = append(rs, checks.Result{Group: "core", Title: title, Status: checks.Pass})
	}
	got := render(false, false, rs)
	if !strings.Contains(got, "\n✓ Session TTL expiration (60s) (0.0s)\n") ||
		!strings.HasSuffix(got, "📊 RESULTS: 7/7 passed\n━━━━━━━━━━━━━━━━━━━━━━━━━━━━\n7 passed, 0 failed\n") {
		t.Errorf("unexpected report:\n%s", got)
	}
	if strings.Contains(got, "\033") {
		t.Error("escape codes without colour")
	}
}

func TestTextColourAndLive(t *testing.T) {
	got := render(true, true, sample[:2])
	for _, want := range []string{"\033[32m✓\033[0m Create session \033[2m(0.0s)\033[0m", "\033[31m✗\033[0m", "\033[2m… Get session\033[0m\r\033[K"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	run := Run{URL: "http://127.0.0.1:8080", TTL: 3 * time.Second, Started: time.Unix(0, 0), Duration: 2 * time.Second, Results: sample}
	if err := WriteJSON(&b, run); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		URL     string  `json:"url"`
		TTL     float64 `json:"ttl_seconds"`
		Passed  int     `json:"passed"`
		Failed  int     `json:"failed"`
		Skipped int     `json:"skipped"`
		Checks  []struct {
			Slug, Group, Title, Status, Reason string
			Duration                           float64 `json:"duration_seconds"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.URL != run.URL || doc.TTL != 3 || doc.Passed != 2 || doc.Failed != 1 || doc.Skipped != 1 || len(doc.Checks) != 4 {
		t.Errorf("document %+v", doc)
	}
	if c := doc.Checks[1]; c.Slug != "get" || c.Status != "fail" || c.Reason == "" || c.Duration != 1.25 {
		t.Errorf("check %+v", c)
	}
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	run := Run{URL: "http://x", TTL: time.Minute, Started: time.Unix(0, 0), Duration: time.Second, Results: sample}
	if err := WriteJUnit(&b, run); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suite    struct {
			Skipped int `xml:"skipped,attr"`
			Cases   []struct {
				Classname string `xml:"classname,attr"`
				Name      string `xml:"name,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Suite.Skipped != 1 || len(doc.Suite.Cases) != 4 {
		t.Fatalf("document %+v", doc)
	}
	cs := doc.Suite.Cases
	if cs[0].Classname != "steel-tester.core" || cs[0].Name != "create: Create session" || cs[0].Failure != nil || cs[0].Skipped != nil {
		t.Errorf("case 0 %+v", cs[0])
	}
	if cs[1].Failure == nil || !strings.Contains(cs[1].Failure.Message, "created_at") || cs[2].Skipped == nil {
		t.Errorf("cases 1-2 %+v %+v", cs[1], cs[2])
	}
}
