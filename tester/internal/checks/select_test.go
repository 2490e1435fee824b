// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func slugs(cs []Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Slug)
	}
	return out
}

func TestRegistry(t *testing.T) {
	all := All(3 * time.Second)
	seen := make(map[string]bool)
	groups := make(map[string]bool)
	for _, g := range Groups() {
		groups[g] = true
	}
	last := -1
	order := make(map[string]int)
	for i, g := range Groups() {
		order[g] = i
	}
	for _, c := range all {
		if seen[c.Slug] {
			t.Errorf("slug %s twice", c.Slug)
		}
		seen[c.Slug] = true
		if !groups[c.Group] {
			t.Errorf("%s: unknown group %s", c.Slug, c.Group)
		}
		if order[c.Group] < last {
			t.Errorf("%s: group %s out of run order", c.Slug, c.Group)
		}
		last = order[c.Group]
		if c.Title == "" || c.run == nil {
			t.Errorf("%s: no title or function", c.Slug)
		}
	}
	core, _ := Select(all, []string{"core"}, nil)
	want := []string{"create", "get", "delete", "missing", "concurrent", "ttl", "recovery"}
	if !reflect.DeepEqual(slugs(core), want) {
		t.Errorf("core = %v", slugs(core))
	}
	if core[5].Title != "Session TTL expiration (3s)" {
		t.Errorf("TTL title %q", core[5].Title)
	}
	if All(1500 * time.Millisecond)[5].Title != "Session TTL expiration (1.5s)" {
		t.Errorf("fractional TTL title %q", All(1500 * time.Millisecond)[5].Title)
	}
}

func TestSelect(t *testing.T) {
	all := All(time.Minute)
	tests := []struct {
		only, skip string
		want       []string
		err        string
	}{
		{only: "create,get", want: []string{"create", "get"}},
		{only: "get,create", want: []string{"create", "get"}},
		{only: "ttl", want: []string{"ttl", "ttl-refresh", "ttl-reuse"}},
		{only: "ttl", skip: "ttl-reuse", want: []string{"ttl", "ttl-refresh"}},
		{only: "delete", want: []string{"delete", "delete-twice", "delete-missing"}},
		{only: "core", skip: "ttl,recovery", want: []string{"create", "get", "delete", "missing", "concurrent"}},
		{only: "hang, crash", want: []string{"hang", "crash-create"}},
		{only: "observability", want: []string{"status-shape", "status-counts", "workers-list", "metrics"}},
		{only: "nope", err: `unknown check or group "nope"`},
		{skip: "core,ttl,delete,data,input,idempotency,observability,load,leaks,hang,crash", want: nil},
	}
	for _, tc := range tests {
		got, err := Select(all, SplitList(tc.only), SplitList(tc.skip))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("only=%q skip=%q: expected error %q, got %v", tc.only, tc.skip, tc.err, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(slugs(got), tc.want) {
			t.Errorf("only=%q skip=%q: got %v %v, expected %v", tc.only, tc.skip, slugs(got), err, tc.want)
		}
	}
	everything, _ := Select(all, nil, nil)
	if len(everything) != len(all) {
		t.Errorf("no flags selected %d of %d", len(everything), len(all))
	}
}

func TestJSONEqual(t *testing.T) {
	tests := []struct {
		a, b string
		eq   bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567890}`, true},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567000}`, false},
		{`{"n":12345678901234567890}`, `{"n":1.2345678901234567e19}`, true},
		{`1.0`, `1`, true},
		{`1.5e3`, `1500`, true},
		{`"\u00e9\ud83d\ude80"`, `"é🚀"`, true},
		{`"a\u0001"`, `"a"`, false},
		{`null`, `{}`, false},
		{`{"a":null}`, `{}`, false},
		{`[]`, `{}`, false},
		{`true`, `true`, true},
	}
	for _, tc := range tests {
		eq, err := jsonEqual([]byte(tc.a), []byte(tc.b))
		if err != nil || eq != tc.eq {
			t.Errorf("%s vs %s: got %v %v", tc.a, tc.b, eq, err)
		}
	}
	if _, err := jsonEqual([]byte(`{"a":`), []byte(`{}`)); err == nil {
		t.Error("broken JSON compared without error")
	}
	if _, err := jsonEqual([]byte(`{} {}`), []byte(`{}`)); err == nil {
		t.Error("trailing data compared without error")
	}
}

func TestPaddedBodyAndTimeline(t *testing.T) {
	for _, n := range []int{16, 1000, 65280, 65537} {
		if b := paddedBody(n); len(b) != n {
			t.Errorf("paddedBody(%d) has %d bytes", n, len(b))
		}
	}
	for ttl, want := range map[time.Duration]time.Duration{
		60 * time.Second: 59 * time.Second, 3 * time.Second: 2 * time.Second,
		2 * time.Second: time.Second, time.Second: 500 * time.Millisecond,
	} {
		if got := notBefore(ttl); got != want {
			t.Errorf("notBefore(%v) = %v, expected %v", ttl, got, want)
		}
	}
	for _, c := range dataCases {
		if eq, err := jsonEqual([]byte(c.body), []byte(c.body)); !eq || err != nil {
			t.Errorf("data case %s is not valid JSON: %v", c.name, err)
		}
	}
}
