// SPDX-License-Identifier: BSD-2-Clause

package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"time"

	"steel-orchestrator/tester/internal/checks"
)

// Run describes a whole run for the machine reports.
type Run struct {
	URL      string
	TTL      time.Duration
	Started  time.Time
	Duration time.Duration
	Results  []checks.Result
}

type jsonCheck struct {
	Slug     string  `json:"slug"`
	Group    string  `json:"group"`
	Title    string  `json:"title"`
	Status   string  `json:"status"`
	Reason   string  `json:"reason,omitempty"`
	Duration float64 `json:"duration_seconds"`
}

type jsonReport struct {
	URL      string      `json:"url"`
	TTL      float64     `json:"ttl_seconds"`
	Started  string      `json:"started_at"`
	Duration float64     `json:"duration_seconds"`
	Passed   int         `json:"passed"`
	Failed   int         `json:"failed"`
	Skipped  int         `json:"skipped"`
	Checks   []jsonCheck `json:"checks"`
}

// WriteJSON writes the run as one indented JSON document.
func WriteJSON(w io.Writer, run Run) error {
	r := jsonReport{
		URL:      run.URL,
		TTL:      run.TTL.Seconds(),
		Started:  run.Started.UTC().Format(time.RFC3339),
		Duration: round3(run.Duration.Seconds()),
		Checks:   []jsonCheck{},
	}
	r.Passed, r.Failed, r.Skipped = checks.Count(run.Results)
	for _, res := range run.Results {
		r.Checks = append(r.Checks, jsonCheck{
			Slug: res.Slug, Group: res.Group, Title: res.Title, Status: string(res.Status),
			Reason: res.Reason, Duration: round3(res.Duration.Seconds()),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func round3(f float64) float64 {
	return float64(int64(f*1000+0.5)) / 1000
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the run as JUnit XML: one testcase per check, named
// "<slug>: <title>" with classname "steel-tester.<group>".
func WriteJUnit(w io.Writer, run Run) error {
	passed, failed, skipped := checks.Count(run.Results)
	suite := junitSuite{
		Name: "steel-tester", Tests: passed + failed + skipped, Failures: failed, Skipped: skipped,
		Time: secs(run.Duration), Timestamp: run.Started.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{{Name: "url", Value: run.URL}, {Name: "ttl_seconds", Value: fmt.Sprint(run.TTL.Seconds())}},
	}
	for _, r := range run.Results {
		c := junitCase{Classname: "steel-tester." + r.Group, Name: r.Slug + ": " + r.Title, Time: secs(r.Duration)}
		switch r.Status {
		case checks.Fail:
			c.Failure = &junitMessage{Message: firstLine(r.Reason), Text: r.Reason}
		case checks.Skip:
			c.Skipped = &junitMessage{Message: r.Reason}
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{Name: "steel-tester", Tests: suite.Tests, Failures: failed, Skipped: skipped,
		Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
