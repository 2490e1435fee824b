// SPDX-License-Identifier: BSD-2-Clause

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Session is a decoded session body. CreatedAt and Data keep the raw bytes
// the orchestrator sent, so checks can compare them byte for byte.
type Session struct {
	ID        string
	CreatedAt json.RawMessage
	Data      json.RawMessage
}

// ParseSession decodes a session body: a JSON object with a non-empty string
// "id", a non-null "created_at" and a "data" member.
func ParseSession(body []byte) (*Session, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v (body %s)", err, Snippet(body))
	}
	var s Session
	raw, ok := m["id"]
	if !ok {
		return nil, fmt.Errorf("no \"id\" in %s", Snippet(body))
	}
	if err := json.Unmarshal(raw, &s.ID); err != nil || s.ID == "" {
		return nil, fmt.Errorf("\"id\" is not a non-empty string: %s", Snippet(raw))
	}
	raw, ok = m["created_at"]
	if !ok || string(raw) == "null" {
		return nil, fmt.Errorf("no \"created_at\" in %s", Snippet(body))
	}
	s.CreatedAt = raw
	raw, ok = m["data"]
	if !ok {
		return nil, fmt.Errorf("no \"data\" in %s", Snippet(body))
	}
	s.Data = raw
	return &s, nil
}

// SessionPath returns "/sessions/<id>" with id escaped as a path segment.
func SessionPath(id string) string {
	return "/sessions/" + escapeSegment(id)
}

func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// CreateSession posts data to /sessions with the given extra headers. The
// session is decoded only for a 200 or 201 answer; then a body that is not
// a session is an error.
func (c *Client) CreateSession(ctx context.Context, data []byte, hdr map[string]string) (*Response, *Session, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/sessions", Body: data, Header: hdr})
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK && resp.Status != http.StatusCreated {
		return resp, nil, nil
	}
	s, err := ParseSession(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("POST /sessions answered %d with a bad session: %v", resp.Status, err)
	}
	return resp, s, nil
}

// GetSession sends GET /sessions/<id>; the session is decoded only for 200.
func (c *Client) GetSession(ctx context.Context, id string) (*Response, *Session, error) {
	resp, err := c.Get(ctx, SessionPath(id))
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		return resp, nil, nil
	}
	s, err := ParseSession(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("GET %s answered 200 with a bad session: %v", SessionPath(id), err)
	}
	return resp, s, nil
}

// CheckErrorShape returns nil when resp is a well-formed orchestrator
// error: Content-Type application/json and a body
// {"error": "<code>", "message": "<text>"} with non-empty strings.
func CheckErrorShape(resp *Response) error {
	ct := resp.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("expected Content-Type application/json on a %d error, got %q (body %s)", resp.Status, ct, Snippet(resp.Body))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		return fmt.Errorf("expected a JSON object error body, got %s", Snippet(resp.Body))
	}
	for _, k := range []string{"error", "message"} {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil || s == "" {
			return fmt.Errorf("expected a non-empty string %q in the error body, got %s", k, Snippet(resp.Body))
		}
	}
	return nil
}

// ErrorCode returns the "error" member of a JSON error body, or "".
func ErrorCode(body []byte) string {
	var m struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Error
}

// RetryAfter parses a Retry-After header given in seconds.
func RetryAfter(resp *Response) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		if t, err := http.ParseTime(v); err == nil {
			return time.Until(t), true
		}
		return 0, false
	}
	return time.Duration(n * float64(time.Second)), true
}

// Snippet returns b quoted and cut to a readable length for messages.
func Snippet(b []byte) string {
	const max = 120
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty)"
	}
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}
