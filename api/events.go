package api

import (
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// events reads a page of the event log, newest first; ?type=, ?object_id= and ?customer_id=
// filter, ?starting_after= takes the last id of the previous page.
func (a *API) events(r *http.Request, n int) ([]billing.Event, error) {
	var err error
	f := store.EventFilter{Type: billing.EventType(r.URL.Query().Get("type"))}
	if f.Type != "" && !slices.Contains(billing.EventTypes, f.Type) {
		return nil, &billing.ValidationError{Field: "type", Reason: "is not an event type"}
	}
	if f.ObjectID, err = queryID(r, "object_id"); err != nil {
		return nil, err
	}
	if f.CustomerID, err = queryID(r, "customer_id"); err != nil {
		return nil, err
	}
	if f.StartingAfter, err = startingAfter(r); err != nil {
		return nil, err
	}
	return store.ListEvents(r.Context(), a.db, f, n)
}

// listPage answers a list: it reads ?limit=, has fetch read one row more than that (to tell
// whether there are more) and renders each row.
func listPage[T, J any](a *API, fetch func(r *http.Request, n int) ([]T, error), render func(T) J) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := limit(r)
		var rows []T
		if err == nil {
			rows, err = fetch(r, n+1)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := make([]J, len(rows))
		for i, v := range rows {
			out[i] = render(v)
		}
		writeJSON(w, http.StatusOK, page(out, n))
	}
}

// same is a render (for listPage, or getOne through as) of a value that is its own JSON, as an
// event is (billing.Event.MarshalJSON).
func same[T any](v T) T { return v }

// queryID reads an optional id from the query parameter field.
func queryID(r *http.Request, field string) (*uuid.UUID, error) {
	s := r.URL.Query().Get(field)
	if s == "" {
		return nil, nil
	}
	id, err := parseID(field, s)
	return &id, err
}
