package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestRemovalAndAttachAtOnce: a payment method attached to a subscription in one transaction and
// removed in another at the same moment ends either attached and kept (the removal waited and
// saw the subscription) or removed and not attached (the attach waited and saw the removal).
func TestRemovalAndAttachAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	newMethod := func() billing.PaymentMethod {
		pm, _, err := store.SavePaymentMethod(ctx, db, billing.PaymentMethod{
			ID: billing.NewID(), CustomerID: sub.CustomerID, GatewayTokenID: "tok_" + billing.NewID().String(),
			Last4: "0005", ExpMonth: 12, ExpYear: 2099, Purposes: []string{"SUBSCRIPTION"}, CreatedAt: sub.CreatedAt,
		})
		require.NoError(t, err)
		return pm
	}
	attach := func(tx pgx.Tx, id uuid.UUID) error {
		pm, err := store.LockPaymentMethod(ctx, tx, id)
		if err != nil {
			return err
		}
		s, err := store.LockSubscription(ctx, tx, sub.ID)
		if err != nil {
			return err
		}
		if err := s.SetPaymentMethod(pm, sub.CreatedAt); err != nil {
			return err
		}
		return store.UpdateSubscription(ctx, tx, s)
	}
	remove := func(id uuid.UUID) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				_, _, err := store.RemovePaymentMethod(ctx, tx, sub.CustomerID, id, sub.CreatedAt)
				return err
			})
		}()
		return done
	}
	waiting := func(done <-chan error) {
		select {
		case err := <-done:
			t.Fatalf("did not wait for the other transaction: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}

	// The attach holds the method first: the removal waits, then sees the subscription.
	first := newMethod()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, attach(tx, first.ID))
	removal := remove(first.ID)
	waiting(removal)
	require.NoError(t, tx.Commit(ctx))
	var inUse *billing.InUseError
	require.ErrorAs(t, <-removal, &inUse)
	require.Equal(t, sub.ID, inUse.SubscriptionIDs[0])

	// The removal holds it first: the attach waits, then sees it removed.
	second := newMethod()
	tx, err = db.Begin(ctx)
	require.NoError(t, err)
	_, removed, err := store.RemovePaymentMethod(ctx, tx, sub.CustomerID, second.ID, sub.CreatedAt)
	require.NoError(t, err)
	require.True(t, removed)
	attached := make(chan error, 1)
	go func() {
		attached <- pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { return attach(tx, second.ID) })
	}()
	waiting(attached)
	require.NoError(t, tx.Commit(ctx))
	var ve *billing.ValidationError
	require.ErrorAs(t, <-attached, &ve)
	require.Equal(t, "payment_method_id", ve.Field)
	got, err := store.GetSubscription(ctx, db, sub.ID)
	require.NoError(t, err)
	require.Equal(t, first.ID, got.PaymentMethodID)
}
