package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// listEvents lists the event log, newest first; ?type=, ?object_id= and ?customer_id= filter,
// ?starting_after= takes the last id of the previous page.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	events, n, err := func() ([]billing.Event, int, error) {
		n, err := limit(r)
		if err != nil {
			return nil, 0, err
		}
		f := store.EventFilter{Type: billing.EventType(r.URL.Query().Get("type"))}
		if f.Type != "" && !slices.Contains(billing.EventTypes, f.Type) {
			return nil, 0, &billing.ValidationError{Field: "type", Reason: "is not an event type"}
		}
		if f.ObjectID, err = queryID(r, "object_id"); err != nil {
			return nil, 0, err
		}
		if f.CustomerID, err = queryID(r, "customer_id"); err != nil {
			return nil, 0, err
		}
		if f.StartingAfter, err = startingAfter(r); err != nil {
			return nil, 0, err
		}
		events, err := store.ListEvents(r.Context(), a.db, f, n+1)
		return events, n, err
	}()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page(events, n))
}

// asIs is a render for getOne of a value that is its own JSON, as an event is
// (billing.Event.MarshalJSON).
func asIs[T any](_ context.Context, v T) (T, error) { return v, nil }

// queryID reads an optional id from the query parameter field.
func queryID(r *http.Request, field string) (*uuid.UUID, error) {
	s := r.URL.Query().Get(field)
	if s == "" {
		return nil, nil
	}
	id, err := parseID(field, s)
	return &id, err
}
