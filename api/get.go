package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing/store"
)

// getOne answers a GET of one record by its {id}: load reads it, render makes its JSON (and may
// read more, such as a charge's attempts).
func getOne[T, J any](a *API, load func(context.Context, store.DBTX, uuid.UUID) (T, error), render func(context.Context, T) (J, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := func() (out J, err error) {
			id, err := pathID(r)
			if err != nil {
				return out, err
			}
			v, err := load(r.Context(), a.db, id)
			if err != nil {
				return out, err
			}
			return render(r.Context(), v)
		}()
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// as makes a render for getOne out of a conversion that reads nothing more.
func as[T, J any](convert func(T) J) func(context.Context, T) (J, error) {
	return func(_ context.Context, v T) (J, error) { return convert(v), nil }
}
