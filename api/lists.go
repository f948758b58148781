package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// Every list answers {"data": [...], "has_more": bool}, newest first, and takes ?limit= (1 to
// 100, default 20) and ?starting_after= (the last id of the previous page); filters are query
// parameters named like the fields they match. A bad one is a 422 naming it.

// listParams reads ?limit= and ?starting_after=.
func listParams(r *http.Request) (n int, after *uuid.UUID, err error) {
	if n, err = limit(r); err != nil {
		return 0, nil, err
	}
	after, err = startingAfter(r)
	return n, after, err
}

// queryID reads an optional id filter.
func queryID(r *http.Request, name string) (*uuid.UUID, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	id, err := parseID(name, s)
	return &id, err
}

// queryEnum reads an optional filter that is one of values; empty when not given.
func queryEnum[T ~string](r *http.Request, name string, values []T) (T, error) {
	s := T(r.URL.Query().Get(name))
	if s == "" || slices.Contains(values, s) {
		return s, nil
	}
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return "", &billing.ValidationError{Field: name, Reason: "must be one of " + strings.Join(names, ", ")}
}

// listOf answers a page of up to ?limit= items that load reads after ?starting_after=, each
// rendered by render (the row read to tell whether there are more is not).
func listOf[T, J any](a *API, w http.ResponseWriter, r *http.Request, load func(after *uuid.UUID, limit int) ([]T, error),
	render func(context.Context, T) (J, error)) {
	out, err := func() (list[J], error) {
		n, after, err := listParams(r)
		if err != nil {
			return list[J]{}, err
		}
		rows, err := load(after, n+1)
		if err != nil {
			return list[J]{}, err
		}
		p := page(rows, n)
		out := list[J]{Data: make([]J, len(p.Data)), HasMore: p.HasMore}
		for i, v := range p.Data {
			if out.Data[i], err = render(r.Context(), v); err != nil {
				return list[J]{}, err
			}
		}
		return out, nil
	}()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// listCustomers lists customers, newest first; ?external_id= finds the one with that id.
func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) {
	var f store.CustomerFilter
	if s := r.URL.Query().Get("external_id"); s != "" {
		f.ExternalID = &s
	}
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.Customer, error) {
		f.StartingAfter = after
		return store.ListCustomers(r.Context(), a.db, f, n)
	}, as(customerOut))
}

// listPaymentMethods lists a customer's payment methods, newest first.
func (a *API) listPaymentMethods(w http.ResponseWriter, r *http.Request) {
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.PaymentMethod, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		if _, err := store.GetCustomer(r.Context(), a.db, id); err != nil {
			return nil, err
		}
		return store.ListPaymentMethods(r.Context(), a.db, id, after, n)
	}, as(paymentMethodOut))
}

// listSubscriptions lists subscriptions, newest first; ?status=, ?customer_id= and ?plan_id=
// filter.
func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	var f store.SubscriptionFilter
	var err error
	if f.Status, err = queryEnum(r, "status", billing.SubscriptionStatuses); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.CustomerID, err = queryID(r, "customer_id"); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.PlanID, err = queryID(r, "plan_id"); err != nil {
		a.fail(w, r, err)
		return
	}
	// The page's upcoming amounts are read in one query, not one per subscription.
	var amounts map[uuid.UUID][]billing.PeriodAmount
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.Subscription, error) {
		f.StartingAfter = after
		subs, err := store.ListSubscriptions(r.Context(), a.db, f, n)
		if err == nil {
			amounts, err = store.UpcomingPeriodAmountsOf(r.Context(), a.db, subs)
		}
		return subs, err
	}, func(_ context.Context, s billing.Subscription) (subscriptionJSON, error) {
		return withAmounts(s, amounts[s.ID]), nil
	})
}
