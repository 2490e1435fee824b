// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
)

// jsonEqual reports whether a and b hold the same JSON value. Objects
// compare by members regardless of order, arrays in order, strings by their
// decoded text, and numbers exactly: integers of any size by value (so
// 12345678901234567890 must survive unrounded), other numbers as float64.
// The error is about input that is not JSON.
func jsonEqual(a, b []byte) (bool, error) {
	va, err := decodeExact(a)
	if err != nil {
		return false, err
	}
	vb, err := decodeExact(b)
	if err != nil {
		return false, err
	}
	return valueEqual(va, vb), nil
}

func decodeExact(b []byte) (interface{}, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v interface{}
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if d.More() {
		return nil, fmt.Errorf("not JSON: trailing data")
	}
	return v, nil
}

func valueEqual(a, b interface{}) bool {
	switch x := a.(type) {
	case map[string]interface{}:
		y, ok := b.(map[string]interface{})
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case []interface{}:
		y, ok := b.([]interface{})
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numberEqual(x, y)
	default:
		// string, bool, nil
		return a == b
	}
}

func numberEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ia, oka := new(big.Int).SetString(string(a), 10)
	ib, okb := new(big.Int).SetString(string(b), 10)
	if oka && okb {
		return ia.Cmp(ib) == 0
	}
	fa, erra := strconv.ParseFloat(string(a), 64)
	fb, errb := strconv.ParseFloat(string(b), 64)
	return erra == nil && errb == nil && fa == fb
}

// sameJSON returns nil when got holds the same JSON value as want, else an
// error naming what (e.g. "data") with both values.
func sameJSON(what string, want, got []byte) error {
	eq, err := jsonEqual(want, got)
	if err != nil {
		return fmt.Errorf("%s: %v (got %s)", what, err, short(got))
	}
	if !eq {
		return fmt.Errorf("%s differs: expected %s, got %s", what, short(want), short(got))
	}
	return nil
}
