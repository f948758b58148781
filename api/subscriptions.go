package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
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
	Amount          int64       `json:"amount"`
	Currency        string      `json:"currency"`
	Interval        string      `json:"interval"`
	IntervalCount   int         `json:"interval_count"`
	Status          string      `json:"status"`
	CurrentPeriod   *periodJSON `json:"current_period"`
	NextBillingAt   time.Time   `json:"next_billing_at"`
	CreatedAt       time.Time   `json:"created_at"`
}

type periodJSON struct {
	Index int       `json:"index"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func subscriptionOut(s billing.Subscription) subscriptionJSON {
	out := subscriptionJSON{
		ID: s.ID, CustomerID: s.CustomerID, PaymentMethodID: s.PaymentMethodID, Amount: s.Price.Amount,
		Currency: s.Price.Currency, Interval: string(s.Schedule.Interval), IntervalCount: s.Schedule.Count,
		Status: string(s.Status), NextBillingAt: s.NextBillingAt, CreatedAt: s.CreatedAt,
	}
	if start, end, ok := s.CurrentPeriod(); ok {
		out.CurrentPeriod = &periodJSON{Index: s.NextPeriod - 1, Start: start, End: end}
	}
	return out
}

// createSubscription starts a subscription now. Billing is in advance: the first period is due at
// once, so a scheduler pass is enqueued with the subscription to charge it without waiting.
func (a *API) createSubscription(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		CustomerID      string `json:"customer_id"`
		PaymentMethodID string `json:"payment_method_id"`
		Amount          int64  `json:"amount"`
		Currency        string `json:"currency"`
		Interval        string `json:"interval"`
		IntervalCount   *int   `json:"interval_count"`
	}
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
	now := a.clock.Now()
	sched := billing.Schedule{Anchor: now, Interval: billing.Interval(in.Interval), Count: 1}
	if in.IntervalCount != nil {
		sched.Count = *in.IntervalCount
	}
	price := billing.Money{Amount: in.Amount, Currency: in.Currency}
	if err := firstError(billing.ValidatePrice(price), sched.Validate()); err != nil {
		return 0, nil, err
	}
	if _, err := store.GetCustomer(ctx, tx, customerID); err != nil {
		return 0, nil, asFieldError(err, "customer_id", "no such customer")
	}
	pm, err := store.GetPaymentMethod(ctx, tx, pmID)
	if err != nil {
		return 0, nil, asFieldError(err, "payment_method_id", "no such payment method")
	}
	if pm.CustomerID != customerID {
		return 0, nil, &billing.ValidationError{Field: "payment_method_id", Reason: "belongs to another customer"}
	}
	if !slices.ContainsFunc(gateway.PurposesFor(gateway.ChannelRecurring), func(p gateway.Purpose) bool {
		return slices.Contains(pm.Purposes, string(p))
	}) {
		return 0, nil, &billing.ValidationError{Field: "payment_method_id", Reason: "the token has no SUBSCRIPTION or STANDING_ORDER purpose"}
	}
	s := billing.Subscription{
		ID: billing.NewID(), CustomerID: customerID, PaymentMethodID: pm.ID, Price: price, Schedule: sched,
		Status: billing.SubscriptionActive, NextBillingAt: sched.PeriodStart(0), CreatedAt: now, UpdatedAt: now,
	}
	if err := store.CreateSubscription(ctx, tx, s); err != nil {
		return 0, nil, err
	}
	if _, err := a.jobs.InsertTx(ctx, tx, jobs.BillDueSubscriptionsArgs{}, nil); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, subscriptionOut(s), nil
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := store.GetSubscription(r.Context(), a.db, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, subscriptionOut(s))
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// asFieldError turns a not-found reference in the request body into a validation problem of its
// field: the URL was right, the body was not.
func asFieldError(err error, field, reason string) error {
	if errors.Is(err, billing.ErrNotFound) {
		return &billing.ValidationError{Field: field, Reason: reason}
	}
	return err
}
