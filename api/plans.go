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

// listPlans lists plans, newest first; ?active=true or false filters.
func (a *API) listPlans(w http.ResponseWriter, r *http.Request) {
	var f store.PlanFilter
	if s := r.URL.Query().Get("active"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			a.fail(w, r, &billing.ValidationError{Field: "active", Reason: "must be true or false"})
			return
		}
		f.Active = &b
	}
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.Plan, error) {
		f.StartingAfter = after
		return store.ListPlans(r.Context(), a.db, f, n)
	}, as(planOut))
}
