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

// TestDueByTheCustomersClock: what is due is due by the customer's time: its test clock's, behind
// the instance's time or ahead of it, else the instance's.
func TestDueByTheCustomersClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	day := 24 * time.Hour
	now := time.Date(2026, time.February, 1, 0, 0, 0, 0, time.UTC)
	clock := func(at time.Time) *uuid.UUID {
		c, err := billing.NewFrozenClock("c", &at, now)
		require.NoError(t, err)
		require.NoError(t, store.CreateTestClock(ctx, db, c))
		return &c.ID
	}
	behind, ahead := clock(time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)), clock(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))
	sub := func(start time.Time, clockID *uuid.UUID) billing.Subscription {
		return storetest.Subscription(t, db, storetest.SubscriptionOpts{Start: start, TestClockID: clockID})
	}
	behindDue, behindLater := sub(time.Date(2024, time.December, 31, 0, 0, 0, 0, time.UTC), behind), sub(time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC), behind)
	aheadDue, aheadSoon := sub(time.Date(2029, time.December, 31, 0, 0, 0, 0, time.UTC), ahead), sub(time.Date(2030, time.January, 5, 0, 0, 0, 0, time.UTC), ahead)
	sub(time.Date(2030, time.June, 1, 0, 0, 0, 0, time.UTC), ahead)
	plainDue := sub(now.Add(-day), nil)
	sub(now.Add(30*day), nil)

	var due []uuid.UUID
	require.NoError(t, pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		subs, err := store.LockDueSubscriptions(ctx, tx, now, 100)
		for _, s := range subs {
			due = append(due, s.ID)
		}
		return err
	}))
	require.ElementsMatch(t, []uuid.UUID{behindDue.ID, aheadDue.ID, plainDue.ID}, due)

	tokens, err := store.PaymentMethodsDueBy(ctx, db, now, 7*day, 100)
	require.NoError(t, err)
	var checked []uuid.UUID
	for _, d := range tokens {
		checked = append(checked, d.PaymentMethod.ID)
	}
	require.ElementsMatch(t, []uuid.UUID{behindDue.PaymentMethodID, aheadDue.PaymentMethodID, aheadSoon.PaymentMethodID, plainDue.PaymentMethodID}, checked)

	instance := billing.NewManualClock(now)
	c, err := store.CustomerClock(ctx, db, behindLater.CustomerID, instance)
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC), c.Now())
	c, err = store.CustomerClock(ctx, db, plainDue.CustomerID, instance)
	require.NoError(t, err)
	require.Same(t, instance, c)
	at, err := store.ClockTimes(ctx, db, []uuid.UUID{aheadDue.CustomerID, plainDue.CustomerID}, now)
	require.NoError(t, err)
	require.Equal(t, time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC), at(aheadDue.CustomerID))
	require.Equal(t, now, at(plainDue.CustomerID))
}
