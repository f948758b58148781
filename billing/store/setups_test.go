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

// TestReopenFailedCharges: only the failed charge of the subscription's latest billed period is
// made pending again, with the new payment method, once; its next attempt is number two.
func TestReopenFailedCharges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	old, latest := periodCharge(sub, 0), periodCharge(sub, 1)
	_, err := store.InsertCharges(ctx, db, []billing.Charge{old, latest})
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE charges SET status = 'failed', failure_code = 'AUTHORIZATION_DECLINED' WHERE subscription_id = $1`, sub.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO charge_attempts (id, charge_id, number, order_number, status, created_at, updated_at)
		VALUES ($1, $2, 1, 'o-1', 'failed', now(), now())`, billing.NewID(), latest.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE subscriptions SET next_period = 2, status = 'past_due' WHERE id = $1`, sub.ID)
	require.NoError(t, err)
	newPM, _, err := store.SavePaymentMethod(ctx, db, billing.PaymentMethod{ID: billing.NewID(), CustomerID: sub.CustomerID,
		GatewayTokenID: "tok_new_" + sub.ID.String(), Last4: "0005", ExpMonth: 12, ExpYear: 2099, Purposes: []string{"SUBSCRIPTION"}, CreatedAt: sub.CreatedAt})
	require.NoError(t, err)

	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	ids, err := store.ReopenFailedCharges(ctx, tx, sub.ID, newPM.ID, sub.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{latest.ID}, ids)
	ids, err = store.ReopenFailedCharges(ctx, tx, sub.ID, newPM.ID, sub.CreatedAt)
	require.NoError(t, err)
	require.Empty(t, ids, "pending now: nothing to reopen")
	require.NoError(t, tx.Commit(ctx))

	c, err := store.GetCharge(ctx, db, latest.ID)
	require.NoError(t, err)
	require.Equal(t, billing.ChargePending, c.Status)
	require.Equal(t, newPM.ID, c.PaymentMethodID)
	require.Nil(t, c.Failure)
	c, err = store.GetCharge(ctx, db, old.ID)
	require.NoError(t, err)
	require.Equal(t, billing.ChargeFailed, c.Status, "an earlier period is not retried")

	claimed, ok, err := store.ClaimCharge(ctx, db, latest.ID, billing.NewID(), time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	a, err := store.OpenAttempt(ctx, db, claimed.ID, sub.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, 2, a.Number)
	require.Equal(t, billing.AttemptProcessing, a.Status)
	again, err := store.OpenAttempt(ctx, db, claimed.ID, sub.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, a.ID, again.ID, "the open attempt is resumed")
}

// TestSetupIsFinishedOnce: a setup ends once; its payment finds it, an unknown payment nothing.
func TestSetupIsFinishedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	s, err := billing.NewPaymentMethodSetup(sub.CustomerID, []string{"SUBSCRIPTION"}, "https://shop.example/", nil, "EUR", sub.CreatedAt)
	require.NoError(t, err)
	s.GatewayPaymentID, s.CheckoutURL = "pay_setup_1", "https://egw.example/checkout"
	require.NoError(t, store.InsertSetup(ctx, db, s))

	owner, err := store.FindPaymentOwner(ctx, db, "pay_setup_1")
	require.NoError(t, err)
	require.Equal(t, store.PaymentOwner{SetupID: &s.ID}, owner)
	owner, err = store.FindPaymentOwner(ctx, db, "pay_unknown")
	require.NoError(t, err)
	require.Equal(t, store.PaymentOwner{}, owner)

	s.Status, s.PaymentMethodID = billing.SetupSucceeded, &sub.PaymentMethodID
	require.NoError(t, store.FinishSetup(ctx, db, s))
	s.Status, s.PaymentMethodID, s.Failure = billing.SetupFailed, nil, &billing.Failure{Code: "x"}
	require.ErrorIs(t, store.FinishSetup(ctx, db, s), billing.ErrConflict)
	got, err := store.GetSetup(ctx, db, s.ID)
	require.NoError(t, err)
	require.Equal(t, billing.SetupSucceeded, got.Status)
	require.Equal(t, sub.PaymentMethodID, *got.PaymentMethodID)
	require.Nil(t, got.Failure)
}

// TestFailedRetryDoesNotCountAsAnotherPeriod: a past-due subscription whose failed charge is
// retried and fails again stays past due; the retry succeeding makes it active.
func TestFailedRetryDoesNotCountAsAnotherPeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	c := periodCharge(sub, 0)
	_, err := store.InsertCharges(ctx, db, []billing.Charge{c})
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE subscriptions SET next_period = 1, status = 'past_due' WHERE id = $1`, sub.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE charges SET status = 'failed' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO charge_attempts (id, charge_id, number, order_number, status, created_at, updated_at)
		VALUES ($1, $2, 1, 'o-1', 'failed', now(), now())`, billing.NewID(), c.ID)
	require.NoError(t, err)

	retry := func(status billing.AttemptStatus) billing.SubscriptionStatus {
		t.Helper()
		tx, err := db.Begin(ctx)
		require.NoError(t, err)
		ids, err := store.ReopenFailedCharges(ctx, tx, sub.ID, sub.PaymentMethodID, sub.CreatedAt)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{c.ID}, ids)
		require.NoError(t, tx.Commit(ctx))
		run := billing.NewID()
		_, ok, err := store.ClaimCharge(ctx, db, c.ID, run, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		a, err := store.OpenAttempt(ctx, db, c.ID, sub.CreatedAt)
		require.NoError(t, err)
		var f *billing.Failure
		if status == billing.AttemptFailed {
			f = &billing.Failure{Code: "AUTHORIZATION_DECLINED"}
		}
		require.NoError(t, store.FinishAttempt(ctx, db, run, a.ID, status, f, sub.CreatedAt))
		got, err := store.GetSubscription(ctx, db, sub.ID)
		require.NoError(t, err)
		return got.Status
	}
	require.Equal(t, billing.SubscriptionPastDue, retry(billing.AttemptFailed), "not unpaid: the same period")
	require.Equal(t, billing.SubscriptionActive, retry(billing.AttemptSucceeded))
}
