// SPDX-License-Identifier: BSD-2-Clause

package chaos

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseArgsDefaults(t *testing.T) {
	var errb bytes.Buffer
	o, err := ParseArgs(nil, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if o.Flows != 100 || o.Parallel != 10 || o.Timeout != 30*time.Second || o.Sample != 500*time.Millisecond {
		t.Errorf("defaults %+v", o)
	}
	if len(o.Limits.Allowed) != 2 || o.Limits.MinCreateOK != -1 || o.Limits.MinFlowsOK != -1 || o.Limits.NoDegraded {
		t.Errorf("default limits %+v", o.Limits)
	}
	for _, s := range Stages {
		if o.Limits.MaxMs[s] != 0 {
			t.Errorf("deadline of %s on by default", s)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(Options) bool
		wantErr string
	}{
		{"all assertion flags",
			[]string{"--flows", "200", "--parallel", "10", "--max-create-ms", "17000", "--max-get-ms", "7000",
				"--max-delete-ms", "7000", "--allow-5xx", "create:503", "--no-degraded", "--min-create-ok", "90%",
				"--min-flows-ok", "85.5", "--timeout", "20", "--json", "out.json"},
			func(o Options) bool {
				return o.Flows == 200 && o.Limits.MaxMs[StageCreate] == 17*time.Second &&
					o.Limits.MaxMs[StageGet] == 7*time.Second && o.Limits.MaxMs[StageDelete] == 7*time.Second &&
					len(o.Limits.Allowed) == 1 && o.Limits.NoDegraded && o.Limits.MinCreateOK == 90 &&
					o.Limits.MinFlowsOK == 85.5 && o.Timeout == 20*time.Second && o.JSONFile == "out.json"
			}, ""},
		{"burst and probes", []string{"--burst", "50", "--probe-during", "--probe-ms", "20", "--max-probe-p99-ms", "250", "--timeout", "1500ms"},
			func(o Options) bool {
				return o.Burst == 50 && o.ProbeDuring && o.ProbeEvery == 20*time.Millisecond &&
					o.Limits.MaxProbeP99 == 250*time.Millisecond && o.Timeout == 1500*time.Millisecond
			}, ""},
		{"allow nothing", []string{"--allow-5xx", "none"}, func(o Options) bool { return o.Limits.Allowed == nil }, ""},
		{"bad allow list", []string{"--allow-5xx", "create"}, nil, "--allow-5xx"},
		{"probe bound without probes", []string{"--max-probe-p99-ms", "100"}, nil, "needs --probe-during"},
		{"zero flows", []string{"--flows", "0"}, nil, "--flows"},
		{"zero parallel", []string{"--parallel", "0"}, nil, "--parallel"},
		{"negative deadline", []string{"--max-get-ms", "-1"}, nil, "milliseconds"},
		{"percentage above 100", []string{"--min-flows-ok", "101"}, nil, "percentage"},
		{"bad timeout", []string{"--timeout", "soon"}, nil, "seconds"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errb bytes.Buffer
			o, err := ParseArgs(tc.args, &errb)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error")
				}
				if !strings.Contains(errb.String(), tc.wantErr) {
					t.Errorf("stderr %q lacks %q", errb.String(), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (%s)", err, errb.String())
			}
			if !tc.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var errb bytes.Buffer
	_, err := ParseArgs([]string{"-h"}, &errb)
	if !IsHelp(err) || !strings.Contains(errb.String(), "usage: steel-chaos") {
		t.Errorf("err %v, usage %q", err, errb.String())
	}
}
