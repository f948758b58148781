package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/jobs"
)

type setupJSON struct {
	ID              uuid.UUID        `json:"id"`
	CustomerID      uuid.UUID        `json:"customer_id"`
	Status          string           `json:"status"`
	Purposes        []string         `json:"purposes"`
	ReturnURL       string           `json:"return_url"`
	SubscriptionIDs []uuid.UUID      `json:"subscription_ids"`
	Amount          int64            `json:"amount"`
	Currency        string           `json:"currency"`
	CheckoutURL     string           `json:"checkout_url"`
	PaymentMethodID *uuid.UUID       `json:"payment_method_id"`
	Failure         *billing.Failure `json:"failure"`
	ExpiresAt       time.Time        `json:"expires_at"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

func setupOut(s billing.PaymentMethodSetup) setupJSON {
	return setupJSON{
		ID: s.ID, CustomerID: s.CustomerID, Status: string(s.Status), Purposes: s.Purposes, ReturnURL: s.ReturnURL,
		SubscriptionIDs: s.SubscriptionIDs, Amount: s.Amount.Amount, Currency: s.Amount.Currency, CheckoutURL: s.CheckoutURL,
		PaymentMethodID: s.PaymentMethodID, Failure: s.Failure, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt,
		UpdatedAt: s.UpdatedAt,
	}
}

// createSetup starts a payment-method setup: a customer-initiated payment of 0 (an account
// verification, which EGW accepts in every currency) that stores the card as a token with the
// purposes, whose hosted checkout page the answer's checkout_url is. The customer comes back
// through Recur's return URL; the outcome is read from the gateway (see jobs.SyncSetup).
//
// The gateway call is made inside the request's transaction: when it fails nothing is stored,
// and a payment that the gateway may have created meanwhile stays INITIALIZED, unseen by the
// customer, and moves no money.
func (a *API) createSetup(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	customerID, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Purposes        []string `json:"purposes"`
		ReturnURL       string   `json:"return_url"`
		SubscriptionIDs []string `json:"subscription_ids"`
		Currency        string   `json:"currency"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	purposes, err := setupPurposes(in.Purposes, len(in.SubscriptionIDs) > 0)
	if err != nil {
		return 0, nil, err
	}
	if _, err := store.GetCustomer(ctx, tx, customerID); err != nil {
		return 0, nil, err
	}
	subs := make([]uuid.UUID, len(in.SubscriptionIDs))
	for i, id := range in.SubscriptionIDs {
		sub, err := setupSubscription(ctx, tx, customerID, id, purposes)
		if err != nil {
			return 0, nil, err
		}
		subs[i] = sub.ID
		if in.Currency == "" && i == 0 {
			in.Currency = sub.Price.Currency
		}
	}
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	s, err := billing.NewPaymentMethodSetup(customerID, in.Purposes, in.ReturnURL, subs, in.Currency, a.clock.Now())
	if err != nil {
		return 0, nil, err
	}
	p, err := a.gw.CreateCITPayment(ctx, gateway.CITPaymentRequest{
		Amount: s.Amount, OrderNumber: s.OrderNumber, MerchantReference: "recur payment method setup " + s.ID.String(),
		SetupPurposes: purposes, ReturnURL: a.publicURL + "/v1/payment_method_setups/" + s.ID.String() + "/return",
	})
	if err != nil {
		return 0, nil, err
	}
	s.GatewayPaymentID, s.CheckoutURL = p.ID, p.CheckoutURL
	if err := store.InsertSetup(ctx, tx, s); err != nil {
		return 0, nil, err
	}
	if _, err := a.jobs.InsertTx(ctx, tx, jobs.SyncSetupArgs{SetupID: s.ID, Source: jobs.SyncByPoll}, nil); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, setupOut(s), nil
}

// setupPurposes checks the purposes of a setup: one or more of the gateway's, without repeats, one
// of them for merchant-initiated charges (Recur stores no other token), and, when subscriptions
// are to be switched, one for recurring charges.
func setupPurposes(names []string, forSubscriptions bool) ([]gateway.Purpose, error) {
	known := []gateway.Purpose{gateway.PurposeCIT, gateway.PurposeUnscheduled, gateway.PurposeSubscription, gateway.PurposeStandingOrder}
	purposes := make([]gateway.Purpose, len(names))
	for i, n := range names {
		purposes[i] = gateway.Purpose(n)
		if !slices.Contains(known, purposes[i]) || slices.Contains(purposes[:i], purposes[i]) {
			return nil, &billing.ValidationError{Field: "purposes", Reason: "must list distinct purposes of CIT, UNSCHEDULED, SUBSCRIPTION and STANDING_ORDER"}
		}
	}
	has := func(anyOf []gateway.Purpose) bool {
		return slices.ContainsFunc(anyOf, func(p gateway.Purpose) bool { return slices.Contains(purposes, p) })
	}
	switch {
	case len(purposes) == 0:
		return nil, &billing.ValidationError{Field: "purposes", Reason: "is required: a non-empty array"}
	case !has(gateway.MITPurposes):
		return nil, &billing.ValidationError{Field: "purposes", Reason: "must include SUBSCRIPTION, STANDING_ORDER or UNSCHEDULED"}
	case forSubscriptions && !has(gateway.PurposesFor(gateway.ChannelRecurring)):
		return nil, &billing.ValidationError{Field: "purposes", Reason: "must include SUBSCRIPTION or STANDING_ORDER to switch subscriptions"}
	}
	return purposes, nil
}

// setupSubscription checks one of a setup's subscription_ids: a subscription of the customer that
// is not canceled and that a token with the purposes can bill (STANDING_ORDER when amounts are set
// for its upcoming periods).
func setupSubscription(ctx context.Context, tx pgx.Tx, customerID uuid.UUID, s string, purposes []gateway.Purpose) (billing.Subscription, error) {
	id, err := parseID("subscription_ids", s)
	if err != nil {
		return billing.Subscription{}, err
	}
	sub, err := store.GetSubscription(ctx, tx, id)
	switch {
	case err != nil:
		return sub, asFieldError(err, "subscription_ids", "no such subscription: "+s)
	case sub.CustomerID != customerID:
		return sub, &billing.ValidationError{Field: "subscription_ids", Reason: "subscription " + s + " belongs to another customer"}
	case sub.Status == billing.SubscriptionCanceled:
		return sub, &billing.ValidationError{Field: "subscription_ids", Reason: "subscription " + s + " is canceled"}
	}
	amounts, err := store.UpcomingPeriodAmounts(ctx, tx, sub)
	if err == nil && len(amounts) > 0 && !slices.Contains(purposes, gateway.PurposeStandingOrder) {
		err = &billing.ValidationError{Field: "purposes", Reason: "must include STANDING_ORDER: subscription " + s + " has amounts set for upcoming periods"}
	}
	return sub, err
}

// setupReturn is where the gateway's hosted checkout sends the customer back (no API key: the
// customer's browser comes here). It reads the outcome from the gateway, so that the merchant's
// page finds the setup ended when it can be, and sends the customer on to the merchant's
// return_url with setup_id and setup_status added to its query. It trusts nothing the request
// says but the setup's id; a failed read leaves the setup to the poll and the callback.
func (a *API) setupReturn(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := jobs.SyncSetup(r.Context(), a.jobDeps(), a.jobs, id)
	if err != nil {
		if s.ID == uuid.Nil {
			a.fail(w, r, err)
			return
		}
		a.log.WarnContext(r.Context(), "setup not synced on return", slog.String("setup_id", id.String()), slog.Any("error", err))
	}
	back, err := url.Parse(s.ReturnURL)
	if err != nil {
		a.fail(w, r, err) // validated when stored
		return
	}
	q := back.Query()
	q.Set("setup_id", s.ID.String())
	q.Set("setup_status", string(s.Status))
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

// jobDeps are what the jobs' functions that the API calls work with.
func (a *API) jobDeps() jobs.Deps {
	return jobs.Deps{Pool: a.db, Gateway: a.gw, Clock: a.clock, Logger: a.log}
}
