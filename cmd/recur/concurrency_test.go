package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// Jobs with the kinds of Recur's jobs but without their uniqueness, so that a test can enqueue
// duplicates as a buggy or racing producer would.
type (
	dupCollect struct {
		ChargeID uuid.UUID `json:"charge_id"`
	}
	dupBill struct{}
)

func (dupCollect) Kind() string { return jobs.CollectChargeArgs{}.Kind() }
func (dupBill) Kind() string    { return jobs.BillDueSubscriptionsArgs{}.Kind() }

// TestConcurrentEnqueuesAcrossTwoProcesses enqueues the same subscription period 50 times as
// scheduler passes and its charge 50 times as collect jobs, all at once, and lets two worker
// processes race through them: one charge, one gateway payment, captured once.
func TestConcurrentEnqueuesAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newProcEnv(t, egwsim.Options{})
	sub := e.subscribe(egwsim.TokenActive)
	// The charge of period 0 exists (as a scheduler run would have made it), but the subscription
	// is still due: every scheduler pass will try to bill the same period again.
	c := sub.BillNextPeriod(billing.NewID(), sub.CreatedAt)
	c.BillingRunID = nil
	created, err := store.InsertCharges(ctx, e.pool, []billing.Charge{c})
	require.NoError(t, err)
	require.Len(t, created, 1)

	inserter, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{})
	require.NoError(t, err)
	var params []river.InsertManyParams
	for range 50 {
		params = append(params, river.InsertManyParams{Args: dupCollect{ChargeID: c.ID}}, river.InsertManyParams{Args: dupBill{}})
	}
	_, err = inserter.InsertMany(ctx, params)
	require.NoError(t, err)

	a, b := e.start(), e.start()
	id, status := e.settled(sub)
	require.Equal(t, c.ID, id)
	require.Equal(t, billing.ChargeSucceeded, status)
	// Let the duplicates drain before counting.
	require.Eventually(t, func() bool {
		var left int
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')
			AND kind IN ('collect_charge', 'bill_due_subscriptions')`).Scan(&left))
		return left == 0
	}, 60*time.Second, 100*time.Millisecond)
	a.stop(t)
	b.stop(t)

	var charges int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE subscription_id = $1`, sub.ID).Scan(&charges))
	require.Equal(t, 1, charges)
	payments := e.payments(c.ID)
	require.Len(t, payments, 1, "one gateway payment")
	requireCapturedOnce(t, payments, sub.Price)
}
