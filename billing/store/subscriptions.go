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
			plan_id, quantity, unit_amount, trial_ends_at, time_zone)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17)`,
		s.ID, s.CustomerID, s.PaymentMethodID, s.Price.Amount, s.Price.Currency, s.Schedule.Interval,
		s.Schedule.Count, s.Status, s.Schedule.Anchor, s.NextPeriod, s.NextBillingAt, s.CreatedAt,
		s.PlanID, s.Quantity, s.UnitPrice.Amount, s.TrialEnd, s.Schedule.Zone().String())
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

// LockSubscription reads a subscription and locks it for update until tx ends.
func LockSubscription(ctx context.Context, tx pgx.Tx, id uuid.UUID) (billing.Subscription, error) {
	s, err := scanSubscription(tx.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return s, notFound(err, "subscription "+id.String())
	}
	return s, nil
}

// LockDueSubscriptions returns up to limit subscriptions in a billable state (trialing, active,
// past_due) whose next period starts at or before asOf (or their customer's test clock's time),
// earliest first, locked for update until tx ends. Rows locked by another transaction are skipped, so several schedulers can run at once
// without waiting or billing twice. The states are spelled as in the subscriptions_due index's
// predicate, so that the planner can use it.
func LockDueSubscriptions(ctx context.Context, tx pgx.Tx, asOf time.Time, limit int) ([]billing.Subscription, error) {
	return lockSubscriptions(ctx, tx, `
		SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE status IN ('trialing', 'active', 'past_due') AND next_billing_at <= `+dueBound("$1")+`
			AND next_billing_at <= coalesce(`+clockTime("subscriptions.customer_id")+`, $1)
		ORDER BY next_billing_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED`, asOf, limit)
}

// LockPausesEnded returns up to limit paused subscriptions whose pause ends at or before asOf,
// (or their customer's test clock's time), locked for update until tx ends (rows locked elsewhere
// are skipped).
func LockPausesEnded(ctx context.Context, tx pgx.Tx, asOf time.Time, limit int) ([]billing.Subscription, error) {
	return lockSubscriptions(ctx, tx, `
		SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE status = 'paused' AND pause_until <= `+dueBound("$1")+`
			AND pause_until <= coalesce(`+clockTime("subscriptions.customer_id")+`, $1)
		ORDER BY pause_until
		LIMIT $2
		FOR UPDATE SKIP LOCKED`, asOf, limit)
}

func lockSubscriptions(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]billing.Subscription, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("lock subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Subscription, error) {
		return scanSubscription(row)
	})
	if err != nil {
		return nil, fmt.Errorf("lock subscriptions: %w", err)
	}
	return subs, nil
}

// AdvanceSubscriptions stores what a scheduler pass changed in each subscription (its next
// period and billing time, its state, a pending cancel that took effect, the price of the period
// it billed and the credit that period used), in one statement.
func AdvanceSubscriptions(ctx context.Context, db DBTX, subs []billing.Subscription, now time.Time) error {
	n := len(subs)
	ids, periods, dues := make([]uuid.UUID, n), make([]int, n), make([]time.Time, n)
	statuses, cancelAts, canceledAts := make([]billing.SubscriptionStatus, n), make([]*time.Time, n), make([]*time.Time, n)
	periodPrices, credits := make([]int64, n), make([]int64, n)
	for i, s := range subs {
		ids[i], periods[i], dues[i] = s.ID, s.NextPeriod, s.NextBillingAt
		statuses[i], cancelAts[i], canceledAts[i] = s.Status, s.CancelAt, s.CanceledAt
		periodPrices[i], credits[i] = s.PeriodPrice.Amount, s.Credit.Amount
	}
	_, err := db.Exec(ctx, `
		UPDATE subscriptions s SET next_period = u.next_period, next_billing_at = u.next_billing_at, status = u.status,
			cancel_at = u.cancel_at, canceled_at = u.canceled_at, pause_until = NULL, updated_at = $7,
			period_price = nullif(u.period_price, 0), credit_balance = u.credit_balance
		FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::timestamptz[],
			$8::bigint[], $9::bigint[])
			AS u(id, next_period, next_billing_at, status, cancel_at, canceled_at, period_price, credit_balance)
		WHERE s.id = u.id`, ids, periods, dues, statuses, cancelAts, canceledAts, now, periodPrices, credits)
	if err != nil {
		return fmt.Errorf("advance subscriptions: %w", err)
	}
	return nil
}

// UpdateSubscription stores a subscription changed by a lifecycle operation or a price change.
func UpdateSubscription(ctx context.Context, db DBTX, s billing.Subscription) error {
	_, err := db.Exec(ctx, `
		UPDATE subscriptions SET payment_method_id = $2, status = $3, cancel_at = $4, canceled_at = $5,
			pause_until = $6, next_period = $7, next_billing_at = $8, updated_at = $9,
			plan_id = $10, unit_amount = $11, quantity = $12, amount = $13, period_price = nullif($14, 0), credit_balance = $15
		WHERE id = $1`,
		s.ID, s.PaymentMethodID, s.Status, s.CancelAt, s.CanceledAt, s.PauseUntil, s.NextPeriod, s.NextBillingAt, s.UpdatedAt,
		s.PlanID, s.UnitPrice.Amount, s.Quantity, s.Price.Amount, s.PeriodPrice.Amount, s.Credit.Amount)
	if err != nil {
		return fmt.Errorf("update subscription: %w", err)
	}
	return nil
}

const subscriptionColumns = `id, customer_id, payment_method_id, amount, currency, billing_interval, interval_count,
	status, anchor_at, next_period, next_billing_at, created_at, updated_at, plan_id, quantity,
	coalesce(unit_amount, amount), trial_ends_at, cancel_at, canceled_at, pause_until, time_zone,
	coalesce(period_price, 0), credit_balance`

func scanSubscription(row pgx.Row) (billing.Subscription, error) {
	var s billing.Subscription
	var zone string
	err := row.Scan(&s.ID, &s.CustomerID, &s.PaymentMethodID, &s.Price.Amount, &s.Price.Currency,
		&s.Schedule.Interval, &s.Schedule.Count, &s.Status, &s.Schedule.Anchor, &s.NextPeriod, &s.NextBillingAt,
		&s.CreatedAt, &s.UpdatedAt, &s.PlanID, &s.Quantity, &s.UnitPrice.Amount, &s.TrialEnd,
		&s.CancelAt, &s.CanceledAt, &s.PauseUntil, &zone, &s.PeriodPrice.Amount, &s.Credit.Amount)
	if err != nil {
		return s, err
	}
	s.UnitPrice.Currency, s.PeriodPrice.Currency, s.Credit.Currency = s.Price.Currency, s.Price.Currency, s.Price.Currency
	// A zone that this binary's tz database does not know (one stored by a newer build) must not
	// be billed on a guessed calendar: reading the subscription fails instead.
	if s.Schedule.Location, err = billing.LoadZone(zone); err != nil {
		return s, fmt.Errorf("subscription %s: unknown time zone %q", s.ID, zone)
	}
	return s, nil
}
