package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestReserveCardAttemptConcurrently: 15 attempts on one card reserved at once, each in its own
// transaction, let exactly 10 through (the 24-hour cap); the others are told when the window
// allows them.
func TestReserveCardAttemptConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	pm, err := store.GetPaymentMethod(ctx, db, sub.PaymentMethodID)
	require.NoError(t, err)
	now := sub.CreatedAt
	var attempts []billing.Attempt
	for range 15 {
		c, err := billing.NewAdHocCharge(pm, billing.Money{Amount: 100, Currency: "EUR"}, "", now)
		require.NoError(t, err)
		require.NoError(t, store.InsertCharge(ctx, db, c))
		a, err := store.OpenAttempt(ctx, db, c.ID, now)
		require.NoError(t, err)
		attempts = append(attempts, a)
	}
	var (
		mu      sync.Mutex
		allowed int
		waits   []time.Time
		wg      sync.WaitGroup
	)
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := store.InTx(ctx, db, func(tx pgx.Tx) error {
				at, held, err := store.ReserveCardAttempt(ctx, tx, a.ID, pm.ID, billing.NewID(), billing.CardAttemptCaps, now)
				mu.Lock()
				defer mu.Unlock()
				if held == nil {
					allowed++
				} else {
					waits = append(waits, at)
				}
				return err
			})
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, 10, allowed)
	require.Len(t, waits, 5)
	for _, at := range waits {
		require.True(t, now.Add(24*time.Hour).Equal(at), "%s", at)
	}
	var sent int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM charge_attempts WHERE payment_method_id = $1 AND sent_at IS NOT NULL`, pm.ID).Scan(&sent))
	require.Equal(t, 10, sent)
}
