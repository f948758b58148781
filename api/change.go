package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/jobs"
)

// changePrice changes what a subscription bills: {plan_id | amount, currency; quantity;
// effective}. A plan brings its unit price (and must be active and bill on the subscription's
// cycle); an inline amount is a unit price without a plan (currency, when given, must be the
// subscription's); quantity alone keeps the unit price and plan. The quantity is kept unless
// given. With effective "next_period" (the default) the period already billed keeps its charge;
// with "now" the rest of the current period is prorated (see changePriceNow).
func (a *API) changePrice(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		PlanID    *string `json:"plan_id"`
		Amount    *int64  `json:"amount"`
		Currency  *string `json:"currency"`
		Quantity  *int    `json:"quantity"`
		Effective *string `json:"effective"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Effective != nil && *in.Effective != effectiveNow && *in.Effective != effectiveNextPeriod {
		return 0, nil, &billing.ValidationError{Field: "effective", Reason: "must be next_period (the default) or now"}
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
	change := func(s *billing.Subscription) billing.PriceChange {
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
		return c
	}
	if in.Effective != nil && *in.Effective == effectiveNow {
		return a.changePriceNow(ctx, tx, r, change)
	}
	status, sub, err := a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) error {
		return s.ChangePrice(change(s), now)
	})
	if err != nil {
		return 0, nil, err
	}
	return status, changeJSON{subscriptionJSON: sub.(subscriptionJSON)}, nil
}

// When a change of price takes effect.
const (
	effectiveNextPeriod = "next_period"
	effectiveNow        = "now"
)

// changeJSON is the subscription after a change, with what an immediate change prorated.
type changeJSON struct {
	subscriptionJSON
	Proration *prorationJSON `json:"proration"` // null for a change from the next period
}

type prorationJSON struct {
	ChangeID *uuid.UUID  `json:"change_id"` // null when nothing was prorated (no billed period)
	Period   *periodJSON `json:"period"`    // the rest of the period changed
	Lines    []lineJSON  `json:"lines"`     // the credit for the unused time, the debit for it at the new price
	Net      int64       `json:"net"`       // the sum of the lines
	Currency string      `json:"currency"`
	ChargeID *uuid.UUID  `json:"charge_id"` // the charge of a positive net, collected at once
	Credited int64       `json:"credited"`  // a negative net, added to the subscription's credit balance
}

// changePriceNow changes the price at once (billing.Subscription.ChangePriceNow): the unused time
// of the current period is credited at its price and charged at the new one. A positive net is a
// proration charge, stored with its lines and its collection job in the request's transaction,
// and paid like an ad-hoc charge (channel MERCHANT), so the token must have the UNSCHEDULED
// purpose, else a 422; a negative one goes to the subscription's credit balance, which the next
// period charges use; a zero one charges nothing.
func (a *API) changePriceNow(ctx context.Context, tx pgx.Tx, r *http.Request, change func(*billing.Subscription) billing.PriceChange) (int, any, error) {
	var p billing.Proration
	var charge *billing.Charge
	status, sub, err := a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) (err error) {
		var current billing.CurrentCharges
		if s.NextPeriod > 0 {
			if current, err = store.CurrentCharges(ctx, tx, s.ID, s.NextPeriod-1); err != nil {
				return err
			}
		}
		if p, err = s.ChangePriceNow(change(s), current, now); err != nil || p.Net() <= 0 {
			return err
		}
		c := s.NewProrationCharge(p, now)
		pm, err := store.GetPaymentMethod(ctx, tx, c.PaymentMethodID)
		if err != nil {
			return err
		}
		if checkPurpose(pm, gateway.Channel(c.Channel)) != nil {
			return &billing.ValidationError{Field: "effective", Reason: fmt.Sprintf("charging %s now is an unscheduled payment (channel MERCHANT) "+
				"and the subscription's payment method has no UNSCHEDULED purpose: change from the next period, or give the subscription a payment method with it", c.Amount)}
		}
		if err := store.InsertCharge(ctx, tx, c); err != nil {
			return err
		}
		if _, err := a.jobs.InsertTx(ctx, tx, jobs.CollectChargeArgs{ChargeID: c.ID}, nil); err != nil {
			return err
		}
		charge = &c
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	sj := sub.(subscriptionJSON)
	out := changeJSON{subscriptionJSON: sj, Proration: &prorationJSON{
		Lines: linesOut(p.Lines), Net: p.Net(), Currency: sj.Currency, Credited: max(0, -p.Net())}}
	if len(p.Lines) > 0 {
		out.Proration.ChangeID, out.Proration.Period = &p.ChangeID, &periodJSON{Index: p.Period, Start: p.Start, End: p.End}
	}
	if charge != nil {
		out.Proration.ChargeID = &charge.ID
	}
	return status, out, nil
}
