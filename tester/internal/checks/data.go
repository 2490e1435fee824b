// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"steel-orchestrator/tester/internal/api"
)

func dataChecks() []Check {
	return []Check{
		{Slug: "data-json", Group: GroupData, Title: "data round-trips arbitrary JSON", run: checkDataJSON},
		{Slug: "data-size", Group: GroupData, Title: "A body near the size limit is accepted, one over it is not", run: checkDataSize},
		{Slug: "data-created-at", Group: GroupData, Title: "created_at is byte-identical in POST and GET", run: checkDataCreatedAt},
	}
}

// dataCase is one body for checkDataJSON. literals must appear verbatim in
// the raw POST and GET answers (numbers that a float64 would round).
type dataCase struct {
	name     string
	body     string
	literals []string
}

func deepNesting(depth int) string {
	return strings.Repeat(`{"a":[`, depth) + `"bottom"` + strings.Repeat(`]}`, depth)
}

var dataCases = []dataCase{
	{name: "nested", body: `{"user":{"name":"alice","roles":["admin","dev"],"prefs":{"theme":{"dark":true}}},"list":[1,[2,[3,{"x":[]}]],{}]}`},
	{name: "unicode", body: `{"name":"Zoë Ωmega 名前 🚀","surrogates":"\ud83d\ude80","ctrl":"tab\there\u0001\u001f nl\n cr\r","quote":"\"quoted\" \\ back\/slash","html":"<a href='x'>&amp;</a>"}`},
	{name: "numbers", body: `{"big":12345678901234567890,"negbig":-98765432109876543210,"pi":3.141592653589793,"exp":6.02e23,"tiny":-1.5e-10,"zero":0,"neg":-7}`,
		literals: []string{"12345678901234567890", "-98765432109876543210"}},
	{name: "literals", body: `{"t":true,"f":false,"n":null,"obj":{},"arr":[],"str":""}`},
	{name: "deep", body: deepNesting(32)},
	{name: "spaced", body: "{\n  \"a\" : [ 1 , 2 ] ,\n  \"b\" : { }\n}"},
}

// checkDataJSON: each body comes back equal in the POST answer and in GET,
// with big integers unrounded.
func checkDataJSON(ctx context.Context, e *Env) error {
	for _, c := range dataCases {
		s, resp, err := e.create(ctx, []byte(c.body))
		if err != nil {
			return fmt.Errorf("%s: %v", c.name, err)
		}
		if err := sameJSON(c.name+": data of POST", []byte(c.body), s.Data); err != nil {
			return err
		}
		gresp, g, err := e.API.GetSession(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("%s: %v", c.name, err)
		}
		if err := expectStatus(c.name+": GET "+api.SessionPath(s.ID), gresp, http.StatusOK); err != nil {
			return err
		}
		if err := sameJSON(c.name+": data of GET", []byte(c.body), g.Data); err != nil {
			return err
		}
		for _, lit := range c.literals {
			if !bytes.Contains(resp.Body, []byte(lit)) {
				return fmt.Errorf("%s: %s not preserved in the POST answer %s", c.name, lit, short(resp.Body))
			}
			if !bytes.Contains(gresp.Body, []byte(lit)) {
				return fmt.Errorf("%s: %s not preserved in the GET answer %s", c.name, lit, short(gresp.Body))
			}
		}
	}
	return nil
}

// paddedBody returns a JSON object of exactly n bytes (n >= 16).
func paddedBody(n int) []byte {
	const head, tail = `{"pad":"`, `"}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// checkDataSize: a body of limit-256 bytes creates a session with that data;
// limit+1 bytes answers 413.
func checkDataSize(ctx context.Context, e *Env) error {
	limit := e.maxBody(ctx)
	if limit < 512 {
		return skipf("body limit %d is too small to test", limit)
	}
	body := paddedBody(limit - 256)
	s, _, err := e.create(ctx, body)
	if err != nil {
		return fmt.Errorf("body of %d bytes (limit %d): %v", len(body), limit, err)
	}
	if err := sameJSON(fmt.Sprintf("data of a %d-byte body", len(body)), body, s.Data); err != nil {
		return err
	}
	over := paddedBody(limit + 1)
	resp, err := e.API.Post(ctx, "/sessions", over)
	if err != nil {
		return err
	}
	if resp.Status == http.StatusOK || resp.Status == http.StatusCreated {
		if sess, err := api.ParseSession(resp.Body); err == nil {
			e.track(sess.ID)
		}
	}
	return expectStatus(fmt.Sprintf("POST /sessions with %d bytes (limit %d)", len(over), limit), resp, http.StatusRequestEntityTooLarge)
}

// checkDataCreatedAt: created_at is present and not re-encoded between the
// POST answer and a GET.
func checkDataCreatedAt(ctx context.Context, e *Env) error {
	data := uniqueData("data-created-at", 0)
	s, _, err := e.create(ctx, data)
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		resp, g, err := e.API.GetSession(ctx, s.ID)
		if err != nil {
			return err
		}
		if err := expectStatus("GET "+api.SessionPath(s.ID), resp, http.StatusOK); err != nil {
			return err
		}
		if !bytes.Equal(g.CreatedAt, s.CreatedAt) {
			return fmt.Errorf("created_at re-encoded: POST said %s, GET %d said %s", short(s.CreatedAt), i+1, short(g.CreatedAt))
		}
	}
	return nil
}
