// SPDX-License-Identifier: BSD-2-Clause

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Status is the tolerant view of the orchestrator's GET /status. Members an
// orchestrator does not send are nil or empty.
type Status struct {
	Available *bool
	Workers   map[string]float64 // state name -> count
	Sessions  *float64
	Limits    map[string]float64 // max_body, session_ttl, create_wait, ...
	Raw       map[string]json.RawMessage
}

// Worker returns the count of workers in state, and whether it was reported.
func (s *Status) Worker(state string) (float64, bool) {
	if s == nil || s.Workers == nil {
		return 0, false
	}
	v, ok := s.Workers[state]
	return v, ok
}

// Limit returns the named limit, and whether it was reported.
func (s *Status) Limit(name string) (float64, bool) {
	if s == nil || s.Limits == nil {
		return 0, false
	}
	v, ok := s.Limits[name]
	return v, ok
}

// ParseStatus decodes a /status body; members of unexpected types are left
// out rather than treated as errors. Only a body that is not a JSON object
// is an error.
func ParseStatus(body []byte) (*Status, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("GET /status body is not a JSON object: %s", Snippet(body))
	}
	st := &Status{Raw: raw}
	var b bool
	if json.Unmarshal(raw["available"], &b) == nil && raw["available"] != nil {
		st.Available = &b
	}
	var n float64
	if raw["sessions"] != nil && json.Unmarshal(raw["sessions"], &n) == nil {
		st.Sessions = &n
	}
	st.Workers = numberMap(raw["workers"])
	st.Limits = numberMap(raw["limits"])
	return st, nil
}

func numberMap(raw json.RawMessage) map[string]float64 {
	if raw == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		var n float64
		if json.Unmarshal(v, &n) == nil {
			out[k] = n
		}
	}
	return out
}

// GetStatus fetches GET /status. found is false when the orchestrator
// answered 404 (endpoint not implemented); other non-200 answers are errors.
func (c *Client) GetStatus(ctx context.Context) (st *Status, found bool, err error) {
	resp, err := c.Get(ctx, "/status")
	if err != nil {
		return nil, false, err
	}
	if resp.Status == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.Status != http.StatusOK {
		return nil, true, fmt.Errorf("GET /status: expected 200, got %d %s", resp.Status, Snippet(resp.Body))
	}
	st, err = ParseStatus(resp.Body)
	return st, true, err
}

// WorkerInfo is one entry of the orchestrator's GET /workers.
type WorkerInfo struct {
	ID      json.RawMessage `json:"id"`
	Node    string          `json:"node"`
	Pid     int             `json:"pid"`
	Host    string          `json:"host"`
	Port    int             `json:"port"`
	State   string          `json:"state"`
	Session *string         `json:"session"`
}

// SessionID returns the worker's session id or "".
func (w WorkerInfo) SessionID() string {
	if w.Session == nil {
		return ""
	}
	return *w.Session
}

// GetWorkers fetches GET /workers. found is false on a 404.
func (c *Client) GetWorkers(ctx context.Context) (ws []WorkerInfo, found bool, err error) {
	resp, err := c.Get(ctx, "/workers")
	if err != nil {
		return nil, false, err
	}
	if resp.Status == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.Status != http.StatusOK {
		return nil, true, fmt.Errorf("GET /workers: expected 200, got %d %s", resp.Status, Snippet(resp.Body))
	}
	var body struct {
		Workers []json.RawMessage `json:"workers"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || body.Workers == nil {
		return nil, true, fmt.Errorf("GET /workers: expected {\"workers\": [...]}, got %s", Snippet(resp.Body))
	}
	for _, raw := range body.Workers {
		var w WorkerInfo
		// Entries with unexpected member types are kept with what decoded.
		_ = json.Unmarshal(raw, &w)
		ws = append(ws, w)
	}
	return ws, true, nil
}
