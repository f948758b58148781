package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// CreateSubscription stores a new subscription.
func CreateSubscription(ctx context.Context, db DBTX, s billing.Subscription) error {
	_, err := db.Exec(ctx, `
		INSERT INTO subscriptions (id, customer_id, payment_method_id, amount, currency, billing_interval,
			interval_count, status, anchor_at, next_period, next_billing_at, created_at, updated_at,
			plan_id, quantity, unit_amount, trial_ends_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16)`,
		s.ID, s.CustomerID, s.PaymentMethodID, s.Price.Amount, s.Price.Currency, s.Schedule.Interval,
		s.Schedule.Count, s.Status, s.Schedule.Anchor, s.NextPeriod, s.NextBillingAt, s.CreatedAt,
		s.PlanID, s.Quantity, s.UnitPrice.Amount, s.TrialEnd)
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	return nil
}

// GetSubscription reads a subscription.
func GetSubscription(ctx context.Context, db DBTX, id uuid.UUID) (billing.Subscription, error) {
	s, err := scanSubscription(db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1`, id))
	if err != nil {
		return s, notFound(err, "subscription "+id.String())
	}
	return s, nil
}

// LockDueSubscriptions returns up to limit active subscriptions whose next period starts at or
// before asOf, earliest first, locked for update until tx ends. Rows locked by another transaction
// are skipped, so several schedulers can run at once without waiting or billing twice.
func LockDueSubscriptions(ctx context.Context, tx pgx.Tx, asOf time.Time, limit int) ([]billing.Subscription, error) {
	rows, err := tx.Query(ctx, `
		SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE status = 'active' AND next_billing_at <= $1
		ORDER BY next_billing_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED`, asOf, limit)
	if err != nil {
		return nil, fmt.Errorf("lock due subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Subscription, error) {
		return scanSubscription(row)
	})
	if err != nil {
		return nil, fmt.Errorf("lock due subscriptions: %w", err)
	}
	return subs, nil
}

// AdvanceSubscriptions stores the NextPeriod and NextBillingAt of each subscription, in one
// statement.
func AdvanceSubscriptions(ctx context.Context, db DBTX, subs []billing.Subscription, now time.Time) error {
	ids := make([]uuid.UUID, len(subs))
	periods := make([]int, len(subs))
	dues := make([]time.Time, len(subs))
	for i, s := range subs {
		ids[i], periods[i], dues[i] = s.ID, s.NextPeriod, s.NextBillingAt
	}
	_, err := db.Exec(ctx, `
		UPDATE subscriptions s SET next_period = u.next_period, next_billing_at = u.next_billing_at, updated_at = $4
		FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS u(id, next_period, next_billing_at)
		WHERE s.id = u.id`, ids, periods, dues, now)
	if err != nil {
		return fmt.Errorf("advance subscriptions: %w", err)
	}
	return nil
}

const subscriptionColumns = `id, customer_id, payment_method_id, amount, currency, billing_interval, interval_count,
	status, anchor_at, next_period, next_billing_at, created_at, updated_at, plan_id, quantity,
	coalesce(unit_amount, amount), trial_ends_at`

func scanSubscription(row pgx.Row) (billing.Subscription, error) {
	var s billing.Subscription
	err := row.Scan(&s.ID, &s.CustomerID, &s.PaymentMethodID, &s.Price.Amount, &s.Price.Currency,
		&s.Schedule.Interval, &s.Schedule.Count, &s.Status, &s.Schedule.Anchor, &s.NextPeriod, &s.NextBillingAt,
		&s.CreatedAt, &s.UpdatedAt, &s.PlanID, &s.Quantity, &s.UnitPrice.Amount, &s.TrialEnd)
	s.UnitPrice.Currency = s.Price.Currency
	return s, err
}

// CancelSubscription ends a subscription now: no period is billed after this, and an unfinished
// charge of it is called off (its authorization, if any, cancelled at the gateway). Canceling a
// canceled subscription changes nothing.
func CancelSubscription(ctx context.Context, db DBTX, id uuid.UUID, now time.Time) (billing.Subscription, error) {
	s, err := scanSubscription(db.QueryRow(ctx, `
		UPDATE subscriptions SET status = 'canceled', canceled_at = coalesce(canceled_at, $2),
			updated_at = CASE WHEN status = 'canceled' THEN updated_at ELSE $2 END
		WHERE id = $1 RETURNING `+subscriptionColumns, id, now))
	if err != nil {
		return s, notFound(err, "subscription "+id.String())
	}
	return s, nil
}
