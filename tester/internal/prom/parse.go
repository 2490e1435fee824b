// SPDX-License-Identifier: BSD-2-Clause

// Package prom parses the Prometheus text exposition format (version 0.0.4)
// strictly enough to tell a well-formed /metrics page from a broken one.
//
// It checks metric and label names, label value escapes, sample values
// (floats, NaN, +Inf, -Inf), optional timestamps, HELP and TYPE lines
// (at most one of each per family, TYPE before the family's samples), and
// for histograms: an "le" label on every _bucket sample, a +Inf bucket per
// series, non-decreasing bucket counts, and _count equal to the +Inf bucket.
package prom

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Sample is one metric line.
type Sample struct {
	Name      string
	Labels    map[string]string
	Value     float64
	Timestamp int64 // milliseconds; 0 when absent
}

// Family is what HELP and TYPE said about one metric family.
type Family struct {
	Name string
	Help string
	Type string // counter, gauge, histogram, summary, untyped
}

// Exposition is a parsed page.
type Exposition struct {
	Families map[string]*Family
	Samples  []Sample
}

// Sum adds the values of every sample whose name contains substr, and
// reports whether any matched.
func (e *Exposition) Sum(substr string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range e.Samples {
		if strings.Contains(s.Name, substr) {
			sum += s.Value
			found = true
		}
	}
	return sum, found
}

var validTypes = map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}

// Parse parses a whole page. The error names the offending line.
func Parse(b []byte) (*Exposition, error) {
	e := &Exposition{Families: make(map[string]*Family)}
	typed := make(map[string]bool)   // family has a TYPE line
	helped := make(map[string]bool)  // family has a HELP line
	sampled := make(map[string]bool) // family has had samples
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			f := strings.Fields(line[1:])
			if len(f) < 2 || (f[0] != "HELP" && f[0] != "TYPE") {
				continue // a plain comment
			}
			name := f[1]
			if !ValidMetricName(name) {
				return nil, fmt.Errorf("line %d: bad metric name %q in %s", ln, name, f[0])
			}
			fam := e.family(name)
			switch f[0] {
			case "HELP":
				if helped[name] {
					return nil, fmt.Errorf("line %d: second HELP for %s", ln, name)
				}
				helped[name] = true
				text := strings.TrimPrefix(strings.TrimLeft(line[1:], " \t"), "HELP")
				text = strings.TrimLeft(text, " \t")
				text = strings.TrimPrefix(text, name)
				fam.Help = strings.TrimLeft(text, " \t")
			case "TYPE":
				if len(f) != 3 || !validTypes[f[2]] {
					return nil, fmt.Errorf("line %d: bad TYPE line %q", ln, line)
				}
				if typed[name] {
					return nil, fmt.Errorf("line %d: second TYPE for %s", ln, name)
				}
				if sampled[name] {
					return nil, fmt.Errorf("line %d: TYPE for %s after its samples", ln, name)
				}
				typed[name] = true
				fam.Type = f[2]
			}
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", ln, err)
		}
		sampled[e.familyOf(s.Name)] = true
		e.Samples = append(e.Samples, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := e.checkHistograms(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Exposition) family(name string) *Family {
	f, ok := e.Families[name]
	if !ok {
		f = &Family{Name: name, Type: "untyped"}
		e.Families[name] = f
	}
	return f
}

// familyOf maps a sample name to its declared family: histogram and summary
// samples carry _bucket, _sum and _count suffixes.
func (e *Exposition) familyOf(name string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base := strings.TrimSuffix(name, suf)
		if base != name {
			if f, ok := e.Families[base]; ok && (f.Type == "histogram" || f.Type == "summary") {
				return base
			}
		}
	}
	return name
}

// ValidMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func ValidMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// ValidLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func ValidLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

func parseSample(line string) (Sample, error) {
	var s Sample
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	s.Name = line[:i]
	if !ValidMetricName(s.Name) {
		return s, fmt.Errorf("bad metric name %q", s.Name)
	}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		labels, n, err := parseLabels(rest)
		if err != nil {
			return s, fmt.Errorf("%s: %v", s.Name, err)
		}
		s.Labels = labels
		rest = rest[n:]
	}
	f := strings.Fields(rest)
	if len(f) < 1 || len(f) > 2 {
		return s, fmt.Errorf("%s: expected a value and an optional timestamp, got %q", s.Name, strings.TrimSpace(rest))
	}
	v, err := ParseValue(f[0])
	if err != nil {
		return s, fmt.Errorf("%s: %v", s.Name, err)
	}
	s.Value = v
	if len(f) == 2 {
		ts, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return s, fmt.Errorf("%s: bad timestamp %q", s.Name, f[1])
		}
		s.Timestamp = ts
	}
	return s, nil
}

// parseLabels parses `{a="x",b="y"}` at the start of s and returns the
// labels and the number of bytes consumed.
func parseLabels(s string) (map[string]string, int, error) {
	labels := make(map[string]string)
	i := 1
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unterminated label set")
		}
		if s[i] == '}' {
			return labels, i + 1, nil
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != '}' && s[j] != ',' {
			j++
		}
		name := s[i:j]
		if !ValidLabelName(name) {
			return nil, 0, fmt.Errorf("bad label name %q", name)
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j+1 >= len(s) || s[j] != '=' || s[j+1] != '"' {
			return nil, 0, fmt.Errorf("label %s: expected =\"value\"", name)
		}
		j += 2
		var val strings.Builder
		closed := false
		for j < len(s) {
			c := s[j]
			if c == '\\' {
				if j+1 >= len(s) {
					break
				}
				switch s[j+1] {
				case '\\':
					val.WriteByte('\\')
				case '"':
					val.WriteByte('"')
				case 'n':
					val.WriteByte('\n')
				default:
					return nil, 0, fmt.Errorf("label %s: bad escape \\%c", name, s[j+1])
				}
				j += 2
				continue
			}
			if c == '"' {
				closed = true
				j++
				break
			}
			val.WriteByte(c)
			j++
		}
		if !closed {
			return nil, 0, fmt.Errorf("label %s: unterminated value", name)
		}
		if _, dup := labels[name]; dup {
			return nil, 0, fmt.Errorf("label %s twice", name)
		}
		labels[name] = val.String()
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == ',' {
			j++
		} else if j >= len(s) || s[j] != '}' {
			return nil, 0, fmt.Errorf("expected , or } after label %s", name)
		}
		i = j
	}
}

// ParseValue parses a sample value: a Go float, NaN, +Inf or -Inf.
func ParseValue(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return v, nil
}

// seriesKey identifies a series by its labels other than le.
func seriesKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "le" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, labels[k])
	}
	return b.String()
}

type bucket struct {
	le    float64
	count float64
}

func (e *Exposition) checkHistograms() error {
	for name, fam := range e.Families {
		if fam.Type != "histogram" {
			continue
		}
		buckets := make(map[string][]bucket)
		counts := make(map[string]float64)
		sums := make(map[string]bool)
		for _, s := range e.Samples {
			switch s.Name {
			case name + "_bucket":
				le, ok := s.Labels["le"]
				if !ok {
					return fmt.Errorf("histogram %s: bucket without le label", name)
				}
				v, err := ParseValue(le)
				if err != nil {
					return fmt.Errorf("histogram %s: bad le %q", name, le)
				}
				k := seriesKey(s.Labels)
				buckets[k] = append(buckets[k], bucket{v, s.Value})
			case name + "_count":
				counts[seriesKey(s.Labels)] = s.Value
			case name + "_sum":
				sums[seriesKey(s.Labels)] = true
			}
		}
		for k, bs := range buckets {
			sort.SliceStable(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
			for i := 1; i < len(bs); i++ {
				if bs[i].count < bs[i-1].count {
					return fmt.Errorf("histogram %s{%s}: bucket le=%g count %g below le=%g count %g", name, k, bs[i].le, bs[i].count, bs[i-1].le, bs[i-1].count)
				}
			}
			last := bs[len(bs)-1]
			if !math.IsInf(last.le, 1) {
				return fmt.Errorf("histogram %s{%s}: no +Inf bucket", name, k)
			}
			c, ok := counts[k]
			if !ok {
				return fmt.Errorf("histogram %s{%s}: no _count", name, k)
			}
			if c != last.count {
				return fmt.Errorf("histogram %s{%s}: _count %g differs from +Inf bucket %g", name, k, c, last.count)
			}
			if !sums[k] {
				return fmt.Errorf("histogram %s{%s}: no _sum", name, k)
			}
		}
	}
	return nil
}
