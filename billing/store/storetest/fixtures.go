package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// SubscriptionOpts shapes a subscription made by Subscription; zero fields get defaults.
type SubscriptionOpts struct {
	Price    billing.Money    // default 1000 EUR minor units
	Schedule billing.Schedule // default monthly from Start
	Start    time.Time        // default 2026-01-31 10:00 UTC
	TokenID  string           // default a unique made-up token id
	// TestClockID puts the customer on that test clock; default none.
	TestClockID *uuid.UUID
}

// Subscription stores a customer, a payment method and an active subscription due at its start.
func Subscription(t testing.TB, db store.DBTX, o SubscriptionOpts) billing.Subscription {
	t.Helper()
	ctx := context.Background()
	if o.Start.IsZero() {
		o.Start = time.Date(2026, time.January, 31, 10, 0, 0, 0, time.UTC)
	}
	if o.Price == (billing.Money{}) {
		o.Price = billing.Money{Amount: 1000, Currency: "EUR"}
	}
	if o.Schedule == (billing.Schedule{}) {
		o.Schedule = billing.Schedule{Anchor: o.Start, Interval: billing.Month, Count: 1}
	}
	id := billing.NewID()
	if o.TokenID == "" {
		o.TokenID = "tok_" + id.String()
	}
	cust := billing.Customer{ID: id, ExternalID: "ext_" + id.String(), Email: "c@example.com", Name: "C", CreatedAt: o.Start, TestClockID: o.TestClockID}
	if err := store.CreateCustomer(ctx, db, cust); err != nil {
		t.Fatal(err)
	}
	pm, _, err := store.SavePaymentMethod(ctx, db, billing.PaymentMethod{
		ID: billing.NewID(), CustomerID: cust.ID, GatewayTokenID: o.TokenID, Last4: "0005", ExpMonth: 12,
		ExpYear: 2099, Purposes: []string{"SUBSCRIPTION"}, CreatedAt: o.Start,
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := billing.Subscription{
		ID: billing.NewID(), CustomerID: cust.ID, PaymentMethodID: pm.ID, UnitPrice: o.Price, Quantity: 1, Price: o.Price, Schedule: o.Schedule,
		Status: billing.SubscriptionActive, NextBillingAt: o.Schedule.PeriodStart(0), CreatedAt: o.Start, UpdatedAt: o.Start,
	}
	if err := store.CreateSubscription(ctx, db, sub); err != nil {
		t.Fatal(err)
	}
	return sub
}
