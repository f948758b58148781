package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

type planJSON struct {
	ID            uuid.UUID `json:"id"`
	Name          string    `json:"name"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Interval      string    `json:"interval"`
	IntervalCount int       `json:"interval_count"`
	TrialDays     int       `json:"trial_days"`
	Active        bool      `json:"active"`
	CreatedAt     time.Time `json:"created_at"`
}

func planOut(p billing.Plan) planJSON {
	return planJSON{ID: p.ID, Name: p.Name, Amount: p.Price.Amount, Currency: p.Price.Currency,
		Interval: string(p.Interval), IntervalCount: p.Count, TrialDays: p.TrialDays, Active: p.Active, CreatedAt: p.CreatedAt}
}

// createPlan adds a plan to the catalog. Its price and cycle never change afterwards: a
// subscription copies them when it is made.
func (a *API) createPlan(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		Name          string `json:"name"`
		Amount        int64  `json:"amount"`
		Currency      string `json:"currency"`
		Interval      string `json:"interval"`
		IntervalCount *int   `json:"interval_count"`
		TrialDays     int    `json:"trial_days"`
		Active        *bool  `json:"active"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	p := billing.Plan{ID: billing.NewID(), Name: in.Name, Price: billing.Money{Amount: in.Amount, Currency: in.Currency},
		Interval: billing.Interval(in.Interval), Count: 1, TrialDays: in.TrialDays, Active: true, CreatedAt: a.clock.Now()}
	if in.IntervalCount != nil {
		p.Count = *in.IntervalCount
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	if err := p.Validate(); err != nil {
		return 0, nil, err
	}
	if err := store.CreatePlan(ctx, tx, p); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, planOut(p), nil
}

// listPlans lists plans, newest first; ?active=true or false filters, ?starting_after= takes the
// last id of the previous page.
func (a *API) listPlans(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var f store.PlanFilter
	q := r.URL.Query()
	if s := q.Get("active"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			a.fail(w, r, &billing.ValidationError{Field: "active", Reason: "must be true or false"})
			return
		}
		f.Active = &b
	}
	if f.StartingAfter, err = startingAfter(r); err != nil {
		a.fail(w, r, err)
		return
	}
	plans, err := store.ListPlans(r.Context(), a.db, f, n+1)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]planJSON, len(plans))
	for i, p := range plans {
		out[i] = planOut(p)
	}
	writeJSON(w, http.StatusOK, page(out, n))
}
