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

// TestOwedSQLIsTheRule: over charges in every state that matters, what the store reads as owed
// (OwedCharges) and what the at-risk report sums are exactly what billing.Charge.Outstanding
// says of all the subscription's charges; the oldest period first, the latest's failure shown.
func TestOwedSQLIsTheRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	at := time.Date(2026, time.February, 1, 10, 0, 0, 0, time.UTC)
	states := []struct {
		status         billing.ChargeStatus
		failed, voided bool
	}{
		{billing.ChargeFailed, true, false},
		{billing.ChargeRetrying, true, false},
		{billing.ChargeProcessing, true, false}, // tried again after a decline
		{billing.ChargeProcessing, false, false},
		{billing.ChargeReconciling, true, false},
		{billing.ChargePending, false, false},
		{billing.ChargeSucceeded, true, false},
		{billing.ChargeCanceled, true, true}, // forgiven
		{billing.ChargeFailed, true, true},   // voided before voids forgave
		{billing.ChargeNeedsReview, true, false},
		{billing.ChargeRetrying, false, true},
		{billing.ChargeFailed, true, false},
	}
	charges := make([]billing.Charge, len(states))
	for i := range states {
		charges[i] = periodCharge(sub, i)
	}
	_, err := store.InsertCharges(ctx, db, charges)
	require.NoError(t, err)
	for i, st := range states {
		var failedAt, voidedAt *time.Time
		if st.failed {
			failedAt = &at
		}
		if st.voided {
			voidedAt = &at
		}
		_, err := db.Exec(ctx, `UPDATE charges SET status = $2, first_failed_at = $3, void_requested_at = $4,
			next_retry_at = CASE WHEN $2 = 'retrying' THEN now() END,
			failure_code = CASE WHEN $3::timestamptz IS NOT NULL THEN 'CODE_' || $5::int END WHERE id = $1`,
			charges[i].ID, st.status, failedAt, voidedAt, i)
		require.NoError(t, err)
	}

	all, err := store.ListCharges(ctx, db, store.ChargeFilter{SubscriptionID: &sub.ID}, 100)
	require.NoError(t, err)
	require.Len(t, all, len(states))
	var want []uuid.UUID
	for _, c := range sub.Owed(all) {
		want = append(want, c.ID)
	}
	require.ElementsMatch(t, []uuid.UUID{charges[0].ID, charges[1].ID, charges[2].ID, charges[4].ID, charges[11].ID}, want)

	owed, err := store.OwedCharges(ctx, db, sub)
	require.NoError(t, err)
	var got []uuid.UUID
	for _, c := range owed {
		got = append(got, c.ID)
	}
	require.Equal(t, []uuid.UUID{charges[0].ID, charges[1].ID, charges[2].ID, charges[4].ID, charges[11].ID}, got, "oldest period first")

	risks := collect(t, store.EachAtRisk, db, store.AtRiskFilter{})
	require.Len(t, risks, 1)
	require.True(t, risks[0].PastDue, "owing, though the subscription's status says active")
	require.Equal(t, store.Total{Count: len(want), Amount: int64(len(want)) * sub.Price.Amount}, risks[0].Owed)
	require.Equal(t, "CODE_11", risks[0].LastFailure.Code, "the latest charge owed")

	// A canceled subscription owes nothing, and is not at risk.
	_, err = db.Exec(ctx, `UPDATE subscriptions SET status = 'canceled' WHERE id = $1`, sub.ID)
	require.NoError(t, err)
	sub.Status = billing.SubscriptionCanceled
	owed, err = store.OwedCharges(ctx, db, sub)
	require.NoError(t, err)
	require.Empty(t, owed)
	require.Empty(t, collect(t, store.EachAtRisk, db, store.AtRiskFilter{}))
}
