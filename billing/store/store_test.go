package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

func periodCharge(sub billing.Subscription, n int) billing.Charge {
	start, end := sub.Schedule.Period(n)
	return billing.Charge{
		ID: billing.NewID(), CustomerID: sub.CustomerID, PaymentMethodID: sub.PaymentMethodID, SubscriptionID: sub.ID,
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
