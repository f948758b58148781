package jobs

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

// TestRetryOfAChargeBeingWorkedWaitsForNoCard: a retry requested with the card of a charge that a
// worker is working, while the worker holds that card's lock to count it against the attempt
// caps (ReserveCardAttempt) and is about to defer the charge, is refused at once: it does not
// wait for the card's lock while holding the charge's, which would deadlock with the worker.
func TestRetryOfAChargeBeingWorkedWaitsForNoCard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewDB(t)
	sub := storetest.Subscription(t, pool, storetest.SubscriptionOpts{})
	start, end := sub.Schedule.Period(0)
	c := billing.Charge{ID: billing.NewID(), Kind: billing.ChargePeriod, CustomerID: sub.CustomerID, PaymentMethodID: sub.PaymentMethodID,
		SubscriptionID: &sub.ID, PeriodStart: start, PeriodEnd: end, Amount: sub.Price, Channel: billing.ChannelRecurring,
		Status: billing.ChargePending, CreatedAt: start, UpdatedAt: start}
	_, err := store.InsertCharges(ctx, pool, []billing.Charge{c})
	require.NoError(t, err)
	run := uuid.New()
	_, claimed, err := store.ClaimCharge(ctx, pool, c.ID, run, time.Minute, start)
	require.NoError(t, err)
	require.True(t, claimed)

	// The worker counts the attempt against the caps: the card is locked (ReserveCardAttempt).
	worker, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer worker.Rollback(ctx) //nolint:errcheck
	_, err = worker.Exec(ctx, `SELECT 1 FROM payment_methods WHERE id = $1 FOR UPDATE`, sub.PaymentMethodID)
	require.NoError(t, err)

	// Meanwhile the merchant retries the charge with that card.
	retried := make(chan error, 1)
	go func() {
		tx, err := pool.Begin(ctx)
		if err == nil {
			_, err = RetryCharge(ctx, nil, tx, billing.Stopped(start), c.ID, &sub.PaymentMethodID)
			_ = tx.Rollback(ctx)
		}
		retried <- err
	}()
	waiting := func() bool { // for a lock in this test's database (other tests wait for theirs)
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE NOT l.granted AND a.datname = current_database()`).Scan(&n))
		return n > 0
	}
	var apiErr error
	for i := 0; i < 500 && apiErr == nil && !waiting(); i++ { // until the retry answers, or waits
		select {
		case apiErr = <-retried:
		case <-time.After(20 * time.Millisecond):
		}
	}

	// The caps hold the attempt back: the worker defers the charge, and commits.
	_, err = store.DeferCharge(ctx, worker, c.ID, run, start.Add(time.Hour), "card attempt cap reached")
	require.NoError(t, err, "the worker waits for no one")
	require.NoError(t, worker.Commit(ctx))
	if apiErr == nil {
		apiErr = <-retried
	}
	var ce *billing.ConflictError
	require.ErrorAs(t, apiErr, &ce, "a processing charge cannot be retried")
}
