// SPDX-License-Identifier: BSD-2-Clause

package prom

import (
	"math"
	"strings"
	"testing"
)

const good = `# HELP steel_sessions_created_total Sessions created since start.
# TYPE steel_sessions_created_total counter
steel_sessions_created_total 42
# a plain comment
# HELP steel_workers Workers by "state".
# TYPE steel_workers gauge
steel_workers{state="idle",node="a"} 3
steel_workers{state="busy",node="a",} 2 1700000000000
# TYPE steel_request_duration_seconds histogram
steel_request_duration_seconds_bucket{route="create",le="0.1"} 1
steel_request_duration_seconds_bucket{route="create",le="1"} 4
steel_request_duration_seconds_bucket{route="create",le="+Inf"} 5
steel_request_duration_seconds_sum{route="create"} 2.5
steel_request_duration_seconds_count{route="create"} 5
steel_odd{path="a\\b \"q\" \n"} NaN
steel_inf -Inf
steel:ratio 1.5e-3

`

func TestParseGood(t *testing.T) {
	e, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Samples) != 11 {
		t.Errorf("%d samples, expected 11", len(e.Samples))
	}
	if f := e.Families["steel_workers"]; f == nil || f.Type != "gauge" || f.Help != `Workers by "state".` {
		t.Errorf("family steel_workers: %+v", f)
	}
	if n, ok := e.Sum("sessions_created"); !ok || n != 42 {
		t.Errorf("Sum(sessions_created) = %v %v", n, ok)
	}
	if n, _ := e.Sum("steel_workers"); n != 5 {
		t.Errorf("Sum(steel_workers) = %v", n)
	}
	busy := e.Samples[2]
	if busy.Labels["state"] != "busy" || busy.Timestamp != 1700000000000 {
		t.Errorf("busy sample %+v", busy)
	}
	odd := e.Samples[8]
	if odd.Labels["path"] != "a\\b \"q\" \n" || !math.IsNaN(odd.Value) {
		t.Errorf("escaped sample %+v", odd)
	}
	if !math.IsInf(e.Samples[9].Value, -1) || e.Samples[10].Value != 0.0015 {
		t.Errorf("values %v %v", e.Samples[9].Value, e.Samples[10].Value)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"bad metric name", "1abc 3\n", "bad metric name"},
		{"dash in name", "steel-x 3\n", "bad metric name"},
		{"no value", "steel_x\n", "expected a value"},
		{"bad value", "steel_x abc\n", "bad value"},
		{"hex value", "steel_x 0x10\n", "bad value"},
		{"extra field", "steel_x 1 2 3\n", "expected a value"},
		{"bad timestamp", "steel_x 1 1.5\n", "bad timestamp"},
		{"bad label name", "steel_x{1a=\"b\"} 1\n", "bad label name"},
		{"unquoted label", "steel_x{a=b} 1\n", "expected =\"value\""},
		{"unterminated value", "steel_x{a=\"b} 1\n", "unterminated"},
		{"bad escape", "steel_x{a=\"\\t\"} 1\n", "bad escape"},
		{"missing comma", "steel_x{a=\"1\" b=\"2\"} 1\n", "expected , or }"},
		{"duplicate label", "steel_x{a=\"1\",a=\"2\"} 1\n", "twice"},
		{"bad type", "# TYPE steel_x countr\n", "bad TYPE"},
		{"second type", "# TYPE steel_x gauge\n# TYPE steel_x gauge\n", "second TYPE"},
		{"second help", "# HELP steel_x a\n# HELP steel_x b\n", "second HELP"},
		{"type after samples", "steel_x 1\n# TYPE steel_x gauge\n", "after its samples"},
		{"bucket without le", "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n", "without le"},
		{"no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "no +Inf"},
		{"decreasing buckets", "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 3\n", "below"},
		{"count differs", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 4\n", "differs"},
		{"no sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\n", "no _sum"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: expected an error containing %q, got %v", tc.name, tc.err, err)
		}
	}
}

func TestNames(t *testing.T) {
	for name, ok := range map[string]bool{"a": true, "_a:b_9": true, ":x": true, "9a": false, "a-b": false, "": false, "é": false} {
		if ValidMetricName(name) != ok {
			t.Errorf("ValidMetricName(%q) = %v", name, !ok)
		}
	}
	for name, ok := range map[string]bool{"le": true, "_x9": true, "a:b": false, "9": false, "": false} {
		if ValidLabelName(name) != ok {
			t.Errorf("ValidLabelName(%q) = %v", name, !ok)
		}
	}
}
