package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestConcurrentRefundsNeverExceedTheCharge: two refunds of one charge, made at once in two
// transactions, are counted one after the other under the charge's row lock: the second sees
// what the first holds and is refused. A failed refund gives its amount back.
func TestConcurrentRefundsNeverExceedTheCharge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	c := periodCharge(sub, 0)
	_, err := store.InsertCharges(ctx, db, []billing.Charge{c})
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE charges SET status = 'succeeded' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO charge_attempts (id, charge_id, number, order_number, gateway_payment_id, status, created_at, updated_at)
		VALUES ($1, $2, 1, $3, 'pay_1', 'succeeded', now(), now())`, billing.NewID(), c.ID, "order-1")
	require.NoError(t, err)
	most := sub.Price.Amount - 1

	tx1, err := db.Begin(ctx)
	require.NoError(t, err)
	defer tx1.Rollback(ctx) //nolint:errcheck
	first, err := store.CreateRefund(ctx, tx1, c.ID, &most, sub.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, "pay_1", first.GatewayPaymentID)

	second := make(chan error, 1)
	go func() {
		tx2, err := db.Begin(ctx)
		if err == nil {
			_, err = store.CreateRefund(ctx, tx2, c.ID, &most, sub.CreatedAt)
			_ = tx2.Rollback(ctx)
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("the second refund did not wait for the first: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx1.Commit(ctx))
	var ve *billing.ValidationError
	require.ErrorAs(t, <-second, &ve)
	require.Equal(t, "amount", ve.Field)

	// The schema refuses a hold beyond the charge's amount, whoever writes it.
	_, err = db.Exec(ctx, `UPDATE charges SET refunds_held = amount + 1 WHERE id = $1`, c.ID)
	require.ErrorContains(t, err, "charges_refunds_within_amount")

	// A refund that failed at the gateway is no longer held: its amount can be refunded again.
	started, ok, err := store.StartRefund(ctx, db, first.ID, sub.CreatedAt)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, billing.RefundSending, started.Status)
	finished, ok, err := store.FinishRefund(ctx, db, first.ID, billing.RefundFailed, "", &billing.Failure{Code: "x"}, sub.CreatedAt)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, billing.RefundFailed, finished.Status)
	require.Equal(t, "x", finished.Failure.Code)
	tx3, err := db.Begin(ctx)
	require.NoError(t, err)
	defer tx3.Rollback(ctx) //nolint:errcheck
	all, err := store.CreateRefund(ctx, tx3, c.ID, nil, sub.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, sub.Price, all.Amount)
}

// TestRevenueCountsSucceededRefunds: the revenue report's refunded column sums the refunds that
// succeeded, on the day they did; a refund still being sent is not counted.
func TestRevenueCountsSucceededRefunds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	c := periodCharge(sub, 0)
	_, err := store.InsertCharges(ctx, db, []billing.Charge{c})
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE charges SET status = 'succeeded' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO charge_attempts (id, charge_id, number, order_number, gateway_payment_id, status, created_at, updated_at)
		VALUES ($1, $2, 1, $3, 'pay_1', 'succeeded', now(), now())`, billing.NewID(), c.ID, "order-1")
	require.NoError(t, err)

	day := time.Date(2031, time.May, 4, 0, 0, 0, 0, time.UTC)
	one, two := int64(100), int64(200)
	for _, amount := range []*int64{&one, &two} {
		tx, err := db.Begin(ctx)
		require.NoError(t, err)
		r, err := store.CreateRefund(ctx, tx, c.ID, amount, day)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		_, _, err = store.StartRefund(ctx, db, r.ID, day.Add(time.Hour))
		require.NoError(t, err)
		if *amount == one {
			_, _, err = store.FinishRefund(ctx, db, r.ID, billing.RefundSucceeded, "rf_1", nil, day.Add(time.Hour))
			require.NoError(t, err)
		}
	}
	var rows []store.RevenueRow
	err = store.EachRevenue(ctx, db, store.RevenueFilter{Interval: store.RevenueByDay, From: day, To: day.AddDate(0, 0, 1)},
		func(r store.RevenueRow) error { rows = append(rows, r); return nil })
	require.NoError(t, err)
	require.Equal(t, []store.RevenueRow{{PeriodStart: day, Currency: sub.Price.Currency,
		Refunded: store.Total{Count: 1, Amount: 100}}}, rows)
}

// TestRefundOfAChargePaidByCredit: a period charge paid in full by the subscription's credit
// (succeeded at once, amount 0, no gateway payment) has nothing to refund: a conflict, not an
// error that the API answers with a 500.
func TestRefundOfAChargePaidByCredit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	sub.Credit = billing.Money{Amount: sub.Price.Amount, Currency: sub.Price.Currency}
	c := periodCharge(sub, 0)
	sub.ApplyCredit(&c)
	require.Equal(t, billing.ChargeSucceeded, c.Status)
	_, err := store.InsertCharges(ctx, db, []billing.Charge{c})
	require.NoError(t, err)

	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = store.CreateRefund(ctx, tx, c.ID, nil, sub.CreatedAt)
	var ce *billing.ConflictError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Reason, "credit")
}
