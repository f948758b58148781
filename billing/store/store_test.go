package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

func periodCharge(sub billing.Subscription, n int) billing.Charge {
	start, end := sub.Schedule.Period(n)
	return billing.Charge{
		ID: billing.NewID(), CustomerID: sub.CustomerID, PaymentMethodID: sub.PaymentMethodID, SubscriptionID: &sub.ID,
		PeriodIndex: n, PeriodStart: start, PeriodEnd: end, Amount: sub.Price, Channel: "RECURRING",
		Status: billing.ChargePending, CreatedAt: start, UpdatedAt: start,
	}
}

func TestInsertChargesOnePerPeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})

	first, err := store.InsertCharges(ctx, db, []billing.Charge{periodCharge(sub, 0), periodCharge(sub, 1)})
	require.NoError(t, err)
	require.Len(t, first, 2)

	// The same periods again, under new charge ids, as a duplicate scheduler run would make them.
	again, err := store.InsertCharges(ctx, db, []billing.Charge{periodCharge(sub, 1), periodCharge(sub, 0), periodCharge(sub, 2)})
	require.NoError(t, err)
	require.Len(t, again, 1, "only period 2 is new")

	charges, err := store.ListCharges(ctx, db, store.ChargeFilter{SubscriptionID: &sub.ID}, 10)
	require.NoError(t, err)
	require.Len(t, charges, 3)
	require.Equal(t, 2, charges[0].PeriodIndex, "newest period first")
	require.Equal(t, sub.Price, charges[0].Amount)
}

func TestCustomerExternalIDConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	c := billing.Customer{ID: billing.NewID(), ExternalID: "acct_1", Email: "a@example.com", Name: "A"}
	require.NoError(t, store.CreateCustomer(ctx, db, c))
	c2 := c
	c2.ID = billing.NewID()
	err := store.CreateCustomer(ctx, db, c2)
	require.ErrorIs(t, err, billing.ErrConflict)
	require.Contains(t, err.Error(), c.ID.String())

	_, err = store.GetCustomer(ctx, db, c2.ID)
	require.ErrorIs(t, err, billing.ErrNotFound)
}

// TestAdHocCharge: a charge of no subscription is stored without a period, is never called off
// for want of a subscription, and finishes without touching any subscription.
func TestAdHocCharge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	pm, err := store.GetPaymentMethod(ctx, db, sub.PaymentMethodID)
	require.NoError(t, err)

	c, err := billing.NewAdHocCharge(pm, billing.Money{Amount: 4200, Currency: "EUR"}, "setup fee", sub.CreatedAt)
	require.NoError(t, err)
	require.NoError(t, store.InsertCharge(ctx, db, c))
	got, err := store.GetCharge(ctx, db, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.ID, got.ID)
	require.Nil(t, got.SubscriptionID)
	require.True(t, got.PeriodStart.IsZero())
	require.Equal(t, "setup fee", got.Description)
	require.Equal(t, billing.ChannelMerchant, got.Channel)

	called, err := store.CallOff(ctx, db, c.ID)
	require.NoError(t, err)
	require.Nil(t, called)

	run := billing.NewID()
	_, claimed, err := store.ClaimCharge(ctx, db, c.ID, run, time.Minute, sub.CreatedAt)
	require.NoError(t, err)
	require.True(t, claimed)
	a, err := store.OpenAttempt(ctx, db, c.ID, sub.CreatedAt)
	require.NoError(t, err)
	failed, err := store.FinishAttempt(ctx, db, run, a.ID, store.AttemptEnd{Attempt: billing.AttemptFailed,
		Charge: billing.ChargeFailed, Failure: &billing.Failure{Code: "x"}}, sub.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, billing.ChargeFailed, failed.Status)
	require.NotNil(t, failed.FirstFailedAt)
	require.True(t, sub.CreatedAt.Equal(*failed.FirstFailedAt))
	require.False(t, sub.SettleCharge(failed, nil, "", sub.CreatedAt), "an ad-hoc charge moves no subscription")

	// The schema holds the shape: a charge without a subscription is on channel MERCHANT.
	_, err = db.Exec(ctx, `UPDATE charges SET channel = 'RECURRING' WHERE id = $1`, c.ID)
	require.ErrorContains(t, err, "charges_subscription_or_adhoc")
}

// TestProrationCharges: a proration charge stands beside its period's charge, a change is
// charged once, and lines that do not sum to the charge's amount are never stored.
func TestProrationCharges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	period := sub.BillNextPeriod(billing.NewID(), sub.NextBillingAt)
	period.BillingRunID = nil
	_, err := store.InsertCharges(ctx, db, []billing.Charge{period})
	require.NoError(t, err)
	mid := period.PeriodStart.Add(7 * 24 * time.Hour)
	p, err := sub.ChangePriceNow(billing.PriceChange{UnitPrice: billing.Money{Amount: 3000, Currency: "EUR"}, Quantity: 1},
		billing.CurrentCharges{Billed: true, Collected: true}, mid)
	require.NoError(t, err)
	c := sub.NewProrationCharge(p, mid)
	require.NoError(t, store.InsertCharge(ctx, db, c))
	got, err := store.GetCharge(ctx, db, c.ID)
	require.NoError(t, err)
	require.Equal(t, billing.ChargeProration, got.Kind)
	require.Equal(t, c.ChangeID, got.ChangeID)
	lines, err := store.ListLines(ctx, db, c.ID)
	require.NoError(t, err)
	require.Len(t, lines[c.ID], 2)
	got.Lines = lines[c.ID]
	require.NoError(t, billing.CheckLines(got))

	again := sub.NewProrationCharge(p, mid)
	require.ErrorIs(t, store.InsertCharge(ctx, db, again), billing.ErrConflict, "one charge per change")
	cc, err := store.CurrentCharges(ctx, db, sub.ID, period.PeriodIndex)
	require.NoError(t, err)
	require.Equal(t, billing.CurrentCharges{Billed: true}, cc, "pending charges are not collected")

	bad := sub.NewProrationCharge(p, mid)
	change := billing.NewID()
	bad.ChangeID = &change
	bad.Amount.Amount++
	require.Error(t, store.InsertCharge(ctx, db, bad), "lines that do not sum to the amount")
	_, err = store.GetCharge(ctx, db, bad.ID)
	require.ErrorIs(t, err, billing.ErrNotFound)
}

// TestDueForReconciliationTakesUpACrashedRunsCharge: a charge that a run claimed and never
// released (its process crashed) is due for the janitor once its lease has expired for stale,
// like one released; one whose lease is held, or expired only lately, is not.
func TestDueForReconciliationTakesUpACrashedRunsCharge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	crashed, working := periodCharge(sub, 0), periodCharge(sub, 1)
	_, err := store.InsertCharges(ctx, db, []billing.Charge{crashed, working})
	require.NoError(t, err)
	for _, c := range []billing.Charge{crashed, working} {
		_, claimed, err := store.ClaimCharge(ctx, db, c.ID, uuid.New(), time.Minute, c.CreatedAt)
		require.NoError(t, err)
		require.True(t, claimed)
	}
	_, err = db.Exec(ctx, `UPDATE charges SET lease_until = now() - interval '10 minutes' WHERE id = $1`, crashed.ID)
	require.NoError(t, err)

	due, err := store.DueForReconciliation(ctx, db, 5*time.Minute, time.Now(), 10)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{crashed.ID}, due)
	due, err = store.DueForReconciliation(ctx, db, time.Hour, time.Now(), 10)
	require.NoError(t, err)
	require.Empty(t, due, "its lease expired less than stale ago")
}
