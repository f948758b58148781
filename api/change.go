package api

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// changePrice changes what a subscription bills from its next period on:
// {plan_id | amount, currency; quantity}. A plan brings its unit price (and must be active and
// bill on the subscription's cycle); an inline amount is a unit price without a plan (currency,
// when given, must be the subscription's); quantity alone keeps the unit price and plan. The
// quantity is kept unless given. The period already billed keeps its charge.
func (a *API) changePrice(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		PlanID   *string `json:"plan_id"`
		Amount   *int64  `json:"amount"`
		Currency *string `json:"currency"`
		Quantity *int    `json:"quantity"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	var plan *billing.Plan
	switch {
	case in.PlanID != nil && (in.Amount != nil || in.Currency != nil):
		field := "amount"
		if in.Amount == nil {
			field = "currency"
		}
		return 0, nil, &billing.ValidationError{Field: field, Reason: "must not be given with plan_id: the plan sets it"}
	case in.PlanID != nil:
		id, err := parseID("plan_id", *in.PlanID)
		if err != nil {
			return 0, nil, err
		}
		p, err := store.GetPlan(ctx, tx, id)
		if err != nil {
			return 0, nil, asFieldError(err, "plan_id", "no such plan")
		}
		if !p.Active {
			return 0, nil, &billing.ValidationError{Field: "plan_id", Reason: "the plan is not active"}
		}
		plan = &p
	case in.Amount == nil && in.Currency != nil:
		return 0, nil, &billing.ValidationError{Field: "amount", Reason: "is required with currency"}
	case in.Amount == nil && in.Quantity == nil:
		return 0, nil, &billing.ValidationError{Field: "plan_id", Reason: "one of plan_id, amount or quantity is required"}
	}
	return a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) error {
		c := billing.PriceChange{PlanID: s.PlanID, UnitPrice: s.UnitPrice, Quantity: s.Quantity}
		if plan != nil {
			c.PlanID, c.UnitPrice, c.Interval, c.Count = &plan.ID, plan.Price, plan.Interval, plan.Count
		}
		if in.Amount != nil {
			c.PlanID, c.UnitPrice = nil, billing.Money{Amount: *in.Amount, Currency: s.Price.Currency}
			if in.Currency != nil {
				c.UnitPrice.Currency = *in.Currency
			}
		}
		if in.Quantity != nil {
			c.Quantity = *in.Quantity
		}
		return s.ChangePrice(c, now)
	})
}
