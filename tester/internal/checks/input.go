// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"steel-orchestrator/tester/internal/api"
)

func inputChecks() []Check {
	return []Check{
		{Slug: "input-json", Group: GroupInput, Title: "Invalid JSON answers 400 with a JSON error", run: checkInputJSON},
		{Slug: "input-size", Group: GroupInput, Title: "A body over the limit answers 413 with a JSON error", run: checkInputSize},
		{Slug: "input-type", Group: GroupInput, Title: "A body that is not an object answers 400 with a JSON error", run: checkInputType},
		{Slug: "input-method", Group: GroupInput, Title: "A wrong method answers 405 with Allow and a JSON error", run: checkInputMethod},
		{Slug: "input-long-id", Group: GroupInput, Title: "A 5000-character id answers 400, 404 or 414 with a JSON error", run: checkInputLongID},
		{Slug: "input-path", Group: GroupInput, Title: "Encoded ../, NUL and CRLF in ids answer 400 or 404 with a JSON error", run: checkInputPath},
		{Slug: "input-unknown", Group: GroupInput, Title: "An unknown path answers 404 with a JSON error", run: checkInputUnknown},
	}
}

// badRequest is one malformed request and the answers it may get.
type badRequest struct {
	name   string
	req    api.Request
	want   []int
	header string // a header the answer must carry, "" for none
}

// expectRejected sends each request and requires one of its statuses, the
// JSON error shape and the named header. A 2xx that created a session is
// cleaned up.
func expectRejected(ctx context.Context, e *Env, cases []badRequest) error {
	for _, c := range cases {
		resp, err := e.API.Do(ctx, c.req)
		if err != nil {
			return fmt.Errorf("%s: %v", c.name, err)
		}
		if resp.Status/100 == 2 && c.req.Method == http.MethodPost {
			if s, err := api.ParseSession(resp.Body); err == nil {
				e.track(s.ID)
			}
		}
		if err := expectStatus(c.name, resp, c.want...); err != nil {
			return err
		}
		if err := api.CheckErrorShape(resp); err != nil {
			return fmt.Errorf("%s: %v", c.name, err)
		}
		if c.header != "" && resp.Header.Get(c.header) == "" {
			return fmt.Errorf("%s: expected a %s header on the %d answer, got none", c.name, c.header, resp.Status)
		}
	}
	return nil
}

func post(name, body string) badRequest {
	return badRequest{name: name, req: api.Request{Method: http.MethodPost, Path: "/sessions", Body: []byte(body)}, want: []int{http.StatusBadRequest}}
}

// checkInputJSON: malformed JSON bodies answer 400.
func checkInputJSON(ctx context.Context, e *Env) error {
	return expectRejected(ctx, e, []badRequest{
		post("POST /sessions with a truncated object", `{"user": `),
		post("POST /sessions with a trailing comma", `{"user":"x",}`),
		post("POST /sessions with single quotes", `{'user':'x'}`),
		post("POST /sessions with two objects", `{"a":1}{"b":2}`),
	})
}

// checkInputSize: a body one byte over the limit answers 413.
func checkInputSize(ctx context.Context, e *Env) error {
	limit := e.maxBody(ctx)
	return expectRejected(ctx, e, []badRequest{{
		name: fmt.Sprintf("POST /sessions with %d bytes (limit %d)", limit+1, limit),
		req:  api.Request{Method: http.MethodPost, Path: "/sessions", Body: paddedBody(limit + 1)},
		want: []int{http.StatusRequestEntityTooLarge},
	}})
}

// checkInputType: JSON that is not an object answers 400.
func checkInputType(ctx context.Context, e *Env) error {
	var cases []badRequest
	for _, b := range []string{`[1,2]`, `"str"`, `42`, `null`, `true`} {
		cases = append(cases, post("POST /sessions with body "+b, b))
	}
	return expectRejected(ctx, e, cases)
}

// checkInputMethod: PUT /sessions answers 405 with an Allow header.
func checkInputMethod(ctx context.Context, e *Env) error {
	return expectRejected(ctx, e, []badRequest{
		{name: "PUT /sessions", req: api.Request{Method: http.MethodPut, Path: "/sessions", Body: []byte(`{}`)},
			want: []int{http.StatusMethodNotAllowed}, header: "Allow"},
		{name: "PATCH /sessions/x", req: api.Request{Method: http.MethodPatch, Path: "/sessions/x", Body: []byte(`{}`)},
			want: []int{http.StatusMethodNotAllowed}, header: "Allow"},
	})
}

// checkInputLongID: an id of 5000 characters answers 400 or 404, or 414
// when the path is over the front end's URI limit.
func checkInputLongID(ctx context.Context, e *Env) error {
	path := "/sessions/" + strings.Repeat("a", 5000)
	return expectRejected(ctx, e, []badRequest{
		{name: "GET /sessions/<5000 chars>", req: api.Request{Method: http.MethodGet, Path: path}, want: []int{400, 404, 414}},
		{name: "DELETE /sessions/<5000 chars>", req: api.Request{Method: http.MethodDelete, Path: path}, want: []int{400, 404, 414}},
	})
}

// checkInputPath: percent-encoded traversal, NUL and CRLF in an id answer
// 400 or 404.
func checkInputPath(ctx context.Context, e *Env) error {
	var cases []badRequest
	for _, p := range []string{
		"/sessions/..%2F..%2Fetc",
		"/sessions/..%2Fstatus",
		"/sessions/%2e%2e",
		"/sessions/abc%00def",
		"/sessions/abc%0D%0ASet-Cookie:%20x=1",
		"/sessions/a%20b",
	} {
		cases = append(cases, badRequest{name: "GET " + p, req: api.Request{Method: http.MethodGet, Path: p}, want: []int{400, 404}})
	}
	return expectRejected(ctx, e, cases)
}

// checkInputUnknown: a path outside the API answers 404.
func checkInputUnknown(ctx context.Context, e *Env) error {
	return expectRejected(ctx, e, []badRequest{
		{name: "GET /steel-tester-no-such-path", req: api.Request{Method: http.MethodGet, Path: "/steel-tester-no-such-path"}, want: []int{404}},
		{name: "GET /sessions/a/b", req: api.Request{Method: http.MethodGet, Path: "/sessions/a/b"}, want: []int{404, 400}},
	})
}
