package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// listEvents lists the event log, newest first; ?type=, ?object_id= and ?customer_id= filter.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	var f store.EventFilter
	var err error
	if f.Type, err = queryEnum(r, "type", billing.EventTypes); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.ObjectID, err = queryID(r, "object_id"); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.CustomerID, err = queryID(r, "customer_id"); err != nil {
		a.fail(w, r, err)
		return
	}
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.Event, error) {
		f.StartingAfter = after
		return store.ListEvents(r.Context(), a.db, f, n)
	}, as(same[billing.Event]))
}

// same is a conversion (for as) of a value that is its own JSON, as an event is
// (billing.Event.MarshalJSON).
func same[T any](v T) T { return v }
