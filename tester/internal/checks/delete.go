// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"context"
	"net/http"

	"steel-orchestrator/tester/internal/api"
)

func deleteChecks() []Check {
	return []Check{
		{Slug: "delete-twice", Group: GroupDelete, Title: "A second DELETE answers 404", run: checkDeleteTwice},
		{Slug: "delete-missing", Group: GroupDelete, Title: "GET and DELETE of never-seen ids answer 404", run: checkDeleteMissing},
	}
}

// checkDeleteTwice: DELETE gives 204, the same DELETE again gives 404.
func checkDeleteTwice(ctx context.Context, e *Env) error {
	s, _, err := e.create(ctx, uniqueData("delete-twice", 0))
	if err != nil {
		return err
	}
	path := api.SessionPath(s.ID)
	for i, want := range []int{http.StatusNoContent, http.StatusNotFound} {
		resp, err := e.API.Delete(ctx, path)
		if err != nil {
			return err
		}
		what := "first DELETE " + path
		if i == 1 {
			what = "second DELETE " + path
		}
		if err := expectStatus(what, resp, want); err != nil {
			return err
		}
	}
	return nil
}

// checkDeleteMissing: ids nobody created answer 404 to GET and DELETE,
// including ids shaped like the worker's UUIDs.
func checkDeleteMissing(ctx context.Context, e *Env) error {
	ids := []string{randomID(), "00000000-0000-4000-8000-000000000000", "x"}
	for _, id := range ids {
		path := api.SessionPath(id)
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			resp, err := e.API.Do(ctx, api.Request{Method: m, Path: path})
			if err != nil {
				return err
			}
			if err := expectStatus(m+" "+path, resp, http.StatusNotFound); err != nil {
				return err
			}
		}
	}
	return nil
}
