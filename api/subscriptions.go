package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/jobs"
)

type subscriptionJSON struct {
	ID              uuid.UUID   `json:"id"`
	CustomerID      uuid.UUID   `json:"customer_id"`
	PaymentMethodID uuid.UUID   `json:"payment_method_id"`
	PlanID          *uuid.UUID  `json:"plan_id"`
	UnitAmount      int64       `json:"unit_amount"`
	Quantity        int         `json:"quantity"`
	Amount          int64       `json:"amount"`
	Currency        string      `json:"currency"`
	Interval        string      `json:"interval"`
	IntervalCount   int         `json:"interval_count"`
	TimeZone        string      `json:"time_zone"`
	Status          string      `json:"status"`
	TrialEnd        *time.Time  `json:"trial_end"`
	CancelAt        *time.Time  `json:"cancel_at"`
	CanceledAt      *time.Time  `json:"canceled_at"`
	PauseUntil      *time.Time  `json:"pause_until"`
	CurrentPeriod   *periodJSON `json:"current_period"`
	NextBillingAt   time.Time   `json:"next_billing_at"`
	// UpcomingAmounts are the amounts set for periods not yet billed (variable amounts).
	UpcomingAmounts []periodAmountJSON `json:"upcoming_amounts"`
	// CreditBalance is what immediate changes to a lower price left to the customer's good, in
	// minor units of the currency: the next period charges use it; it is never paid out.
	CreditBalance int64     `json:"credit_balance"`
	CreatedAt     time.Time `json:"created_at"`
}

type periodJSON struct {
	Index int       `json:"index"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func subscriptionOut(s billing.Subscription) subscriptionJSON {
	out := subscriptionJSON{
		ID: s.ID, CustomerID: s.CustomerID, PaymentMethodID: s.PaymentMethodID, PlanID: s.PlanID,
		UnitAmount: s.UnitPrice.Amount, Quantity: s.Quantity, Amount: s.Price.Amount,
		Currency: s.Price.Currency, Interval: string(s.Schedule.Interval), IntervalCount: s.Schedule.Count,
		TimeZone: s.Schedule.Zone().String(),
		Status:   string(s.Status), TrialEnd: s.TrialEnd, CancelAt: s.CancelAt, CanceledAt: s.CanceledAt, PauseUntil: s.PauseUntil, NextBillingAt: s.NextBillingAt, CreatedAt: s.CreatedAt,
		UpcomingAmounts: []periodAmountJSON{}, CreditBalance: s.Credit.Amount,
	}
	if start, end, ok := s.CurrentPeriod(); ok {
		out.CurrentPeriod = &periodJSON{Index: s.NextPeriod - 1, Start: start, End: end}
	}
	return out
}

// subscriptionIn is the body of a new subscription: a plan, or an inline price and cycle.
type subscriptionIn struct {
	CustomerID      string  `json:"customer_id"`
	PaymentMethodID string  `json:"payment_method_id"`
	PlanID          *string `json:"plan_id"`
	Amount          *int64  `json:"amount"`
	Currency        *string `json:"currency"`
	Interval        *string `json:"interval"`
	IntervalCount   *int    `json:"interval_count"`
	Quantity        *int    `json:"quantity"`
	TrialDays       *int    `json:"trial_days"`
	TimeZone        *string `json:"time_zone"`
}

// terms reads the price, cycle and trial: from the plan when plan_id is given (an inactive plan
// takes no new subscriptions, and the price fields must then be left out), else from the body.
func (in subscriptionIn) terms(ctx context.Context, tx pgx.Tx) (billing.SubscriptionTerms, error) {
	t := billing.SubscriptionTerms{Quantity: 1, Count: 1}
	if in.Quantity != nil {
		t.Quantity = *in.Quantity
	}
	if in.PlanID != nil {
		for field, given := range map[string]bool{"amount": in.Amount != nil, "currency": in.Currency != nil,
			"interval": in.Interval != nil, "interval_count": in.IntervalCount != nil} {
			if given {
				return t, &billing.ValidationError{Field: field, Reason: "must not be given with plan_id: the plan sets it"}
			}
		}
		id, err := parseID("plan_id", *in.PlanID)
		if err != nil {
			return t, err
		}
		p, err := store.GetPlan(ctx, tx, id)
		if err != nil {
			return t, asFieldError(err, "plan_id", "no such plan")
		}
		if !p.Active {
			return t, &billing.ValidationError{Field: "plan_id", Reason: "the plan is not active"}
		}
		t.PlanID, t.UnitPrice, t.Interval, t.Count, t.TrialDays = &p.ID, p.Price, p.Interval, p.Count, p.TrialDays
	} else {
		if in.Amount == nil {
			return t, &billing.ValidationError{Field: "amount", Reason: "is required without plan_id"}
		}
		t.UnitPrice.Amount = *in.Amount
		if in.Currency != nil {
			t.UnitPrice.Currency = *in.Currency
		}
		if in.Interval != nil {
			t.Interval = billing.Interval(*in.Interval)
		}
		if in.IntervalCount != nil {
			t.Count = *in.IntervalCount
		}
	}
	if in.TrialDays != nil {
		t.TrialDays = *in.TrialDays
	}
	if in.TimeZone != nil {
		loc, err := billing.LoadZone(*in.TimeZone)
		if err != nil {
			return t, err
		}
		t.Location = loc
	}
	return t, nil
}

// createSubscription starts a subscription, from a plan or an inline price, for a quantity.
// Billing is in advance: without a trial the first period is due at once, so a scheduler pass is
// enqueued with the subscription to charge it without waiting.
func (a *API) createSubscription(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in subscriptionIn
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	customerID, err := parseID("customer_id", in.CustomerID)
	if err != nil {
		return 0, nil, err
	}
	pmID, err := parseID("payment_method_id", in.PaymentMethodID)
	if err != nil {
		return 0, nil, err
	}
	terms, err := in.terms(ctx, tx)
	if err != nil {
		return 0, nil, err
	}
	terms.CustomerID, terms.PaymentMethodID = customerID, pmID
	clock, err := a.clockOf(ctx, tx, customerID)
	if err != nil {
		return 0, nil, err
	}
	s, err := billing.NewSubscription(terms, clock.Now())
	if err != nil {
		return 0, nil, err
	}
	if _, err := store.GetCustomer(ctx, tx, customerID); err != nil {
		return 0, nil, asFieldError(err, "customer_id", "no such customer")
	}
	pm, err := store.LockPaymentMethod(ctx, tx, pmID)
	if err != nil {
		return 0, nil, asFieldError(err, "payment_method_id", "no such payment method")
	}
	if pm.CustomerID != customerID {
		return 0, nil, &billing.ValidationError{Field: "payment_method_id", Reason: "belongs to another customer"}
	}
	if err := checkPurpose(pm, gateway.ChannelRecurring); err != nil {
		return 0, nil, err
	}
	if err := store.CreateSubscription(ctx, tx, s); err != nil {
		return 0, nil, err
	}
	if err := store.AppendEvent(ctx, tx, billing.SubscriptionEvent(billing.EventSubscriptionCreated, s, s.CreatedAt)); err != nil {
		return 0, nil, err
	}
	if _, err := a.jobs.InsertTx(ctx, tx, jobs.BillDueSubscriptionsArgs{}, nil); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, subscriptionOut(s), nil
}

// asFieldError turns a not-found reference in the request body into a validation problem of its
// field: the URL was right, the body was not.
func asFieldError(err error, field, reason string) error {
	if errors.Is(err, billing.ErrNotFound) {
		return &billing.ValidationError{Field: field, Reason: reason}
	}
	return err
}
