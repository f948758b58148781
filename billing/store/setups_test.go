package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

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
