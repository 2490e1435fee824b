// SPDX-License-Identifier: BSD-2-Clause

// Package api is the tester's HTTP client for an orchestrator that speaks the
// challenge's session API.
//
// Every request carries a deadline (the client's default timeout unless the
// caller asks for another one), request paths are sent exactly as given so
// that checks can put encoded or malformed ids on the wire, and redirects are
// never followed: a check sees what the orchestrator answered.
package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds how much of a response body is kept (bytes).
const maxBody = 8 << 20

// Client talks to one orchestrator. It is safe for concurrent use.
type Client struct {
	base    *url.URL      // scheme and host; path prefix without trailing slash
	token   string        // bearer token sent on every request, "" for none
	timeout time.Duration // default deadline of one request
	hc      *http.Client
}

// New returns a client for the orchestrator at base (http or https URL).
// token, when not empty, is sent as "Authorization: Bearer <token>".
// timeout is the deadline of a request that does not ask for another one;
// it must be positive.
func New(base, token string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("bad url %q: %v", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("bad url %q: scheme must be http or https", base)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad url %q: no host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bad url %q: no query or fragment allowed", base)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("timeout must be positive, got %v", timeout)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	hc := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &Client{base: u, token: token, timeout: timeout, hc: hc}, nil
}

// Base returns the orchestrator URL the client was made for.
func (c *Client) Base() *url.URL {
	u := *c.base
	return &u
}

// Timeout returns the default deadline of one request.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Close drops idle connections.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
}

// Request is one call to the orchestrator.
type Request struct {
	Method  string
	Path    string            // request path as sent on the wire, e.g. "/sessions/abc"
	Body    []byte            // nil for no body
	Header  map[string]string // extra headers
	Timeout time.Duration     // 0: the client's default
}

// Response is what came back. Body holds at most 8 MiB.
type Response struct {
	Status  int
	Header  http.Header
	Body    []byte
	Elapsed time.Duration // from sending the request to the end of the body
}

// TimeoutError is returned when a request got no complete answer within
// its deadline.
type TimeoutError struct {
	Method, Path string
	After        time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s %s: no answer within %v", e.Method, shorten(e.Path), e.After)
}

// IsTimeout reports whether err is (or wraps) a *TimeoutError.
func IsTimeout(err error) bool {
	var te *TimeoutError
	return errors.As(err, &te)
}

// Do sends req and reads the whole answer. The error is a *TimeoutError when
// the deadline passed, another error for transport failures; an HTTP error
// status is not an error.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, c.base.Scheme+"://"+c.base.Host+"/", body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", req.Method, shorten(req.Path), err)
	}
	// The opaque form puts the path on the request line byte for byte.
	hr.URL.Opaque = c.base.Path + req.Path
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.hc.Do(hr)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded || isNetTimeout(err) {
			return nil, &TimeoutError{Method: req.Method, Path: req.Path, After: timeout}
		}
		return nil, fmt.Errorf("%s %s: %v", req.Method, shorten(req.Path), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded || isNetTimeout(err) {
			return nil, &TimeoutError{Method: req.Method, Path: req.Path, After: timeout}
		}
		return nil, fmt.Errorf("%s %s: reading body: %v", req.Method, shorten(req.Path), err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, Elapsed: time.Since(start)}, nil
}

// Get sends GET path with the default deadline.
func (c *Client) Get(ctx context.Context, path string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodGet, Path: path})
}

// Delete sends DELETE path with the default deadline.
func (c *Client) Delete(ctx context.Context, path string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodDelete, Path: path})
}

// Post sends POST path with a JSON body and the default deadline.
func (c *Client) Post(ctx context.Context, path string, body []byte) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodPost, Path: path, Body: body})
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// shorten keeps long paths readable in messages.
func shorten(p string) string {
	if len(p) > 80 {
		return fmt.Sprintf("%s...(%d bytes)", p[:60], len(p))
	}
	return p
}
