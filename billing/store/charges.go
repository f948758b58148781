package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// InsertCharges stores new charges in one statement and returns the ids of those stored. A charge
// for a (subscription, period) that already has one is skipped: that is how the schema makes a
// double charge for one period impossible, whoever inserts it.
func InsertCharges(ctx context.Context, db DBTX, charges []billing.Charge) ([]uuid.UUID, error) {
	n := len(charges)
	var (
		ids, customers, methods = make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
		subs, runs              = make([]*uuid.UUID, n), make([]*uuid.UUID, n)
		indexes                 = make([]int, n)
		starts, ends            = make([]time.Time, n), make([]time.Time, n)
		amounts                 = make([]int64, n)
		currencies, channels    = make([]string, n), make([]string, n)
	)
	for i, c := range charges {
		ids[i], customers[i], methods[i], subs[i], runs[i] = c.ID, c.CustomerID, c.PaymentMethodID, c.SubscriptionID, c.BillingRunID
		indexes[i], starts[i], ends[i] = c.PeriodIndex, c.PeriodStart, c.PeriodEnd
		amounts[i], currencies[i], channels[i] = c.Amount.Amount, c.Amount.Currency, c.Channel
	}
	var now time.Time
	if n > 0 {
		now = charges[0].CreatedAt
	}
	rows, err := db.Query(ctx, `
		INSERT INTO charges (id, customer_id, payment_method_id, subscription_id, billing_run_id, period_index,
			period_start, period_end, amount, currency, channel, status, created_at, updated_at)
		SELECT u.*, 'pending', $12::timestamptz, $12::timestamptz
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::timestamptz[],
			$8::timestamptz[], $9::bigint[], $10::text[], $11::text[]) AS u
		ON CONFLICT ON CONSTRAINT charges_one_per_period DO NOTHING
		RETURNING id`,
		ids, customers, methods, subs, runs, indexes, starts, ends, amounts, currencies, channels, now)
	if err != nil {
		return nil, fmt.Errorf("insert charges: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("insert charges: %w", err)
	}
	return inserted, nil
}

// InsertAdHocCharge stores a new ad-hoc charge: one of no subscription and no period.
func InsertAdHocCharge(ctx context.Context, db DBTX, c billing.Charge) error {
	if !c.AdHoc() {
		return fmt.Errorf("insert ad-hoc charge: charge %s has a subscription", c.ID)
	}
	_, err := db.Exec(ctx, `
		INSERT INTO charges (id, customer_id, payment_method_id, amount, currency, channel, description, status,
			created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8, $9, $9)`,
		c.ID, c.CustomerID, c.PaymentMethodID, c.Amount.Amount, c.Amount.Currency, c.Channel, c.Description, c.Status,
		c.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert ad-hoc charge: %w", err)
	}
	return nil
}

// GetCharge reads a charge.
func GetCharge(ctx context.Context, db DBTX, id uuid.UUID) (billing.Charge, error) {
	c, err := scanCharge(db.QueryRow(ctx, `SELECT `+chargeColumns+` FROM charges WHERE id = $1`, id))
	if err != nil {
		return c, notFound(err, "charge "+id.String())
	}
	return c, nil
}

// ChargeFilter selects charges to list. Every filter that is set must match.
type ChargeFilter struct {
	SubscriptionID *uuid.UUID
	BillingRunID   *uuid.UUID
	CustomerID     *uuid.UUID
	Status         billing.ChargeStatus // empty: every status
	// ByPeriod orders the charges newest period first (a subscription's or a billing run's, which
	// all have one) instead of newest first.
	ByPeriod      bool
	StartingAfter *uuid.UUID // only charges after this one in the order
}

// ListCharges returns up to limit charges in the filter's order.
func ListCharges(ctx context.Context, db DBTX, f ChargeFilter, limit int) ([]billing.Charge, error) {
	order := "created_at"
	if f.ByPeriod {
		order = "period_start"
	}
	return listRows(ctx, db, "list charges", scanCharge, `
		SELECT `+chargeColumns+` FROM charges
		WHERE ($1::uuid IS NULL OR subscription_id = $1) AND ($2::uuid IS NULL OR billing_run_id = $2)
			AND ($3::uuid IS NULL OR customer_id = $3) AND ($4 = '' OR status = $4)
			AND ($5::uuid IS NULL OR (`+order+`, id) < (SELECT `+order+`, id FROM charges WHERE id = $5))
		ORDER BY `+order+` DESC, id DESC LIMIT $6`,
		f.SubscriptionID, f.BillingRunID, f.CustomerID, string(f.Status), f.StartingAfter, limit)
}

// chargeColumns are what scanCharge reads. An ad-hoc charge's period is NULL: it reads as zero.
const chargeColumns = `id, customer_id, payment_method_id, subscription_id, billing_run_id, coalesce(period_index, 0),
	coalesce(period_start, 'epoch'), coalesce(period_end, 'epoch'), amount, currency, channel, coalesce(description, ''),
	status, failure_code, failure_reason, created_at, updated_at`

func scanCharge(row pgx.Row) (billing.Charge, error) {
	var c billing.Charge
	var code, reason *string
	err := row.Scan(&c.ID, &c.CustomerID, &c.PaymentMethodID, &c.SubscriptionID, &c.BillingRunID, &c.PeriodIndex,
		&c.PeriodStart, &c.PeriodEnd, &c.Amount.Amount, &c.Amount.Currency, &c.Channel, &c.Description, &c.Status,
		&code, &reason, &c.CreatedAt, &c.UpdatedAt)
	if c.AdHoc() {
		c.PeriodStart, c.PeriodEnd = time.Time{}, time.Time{}
	}
	c.Failure = failure(code, reason)
	return c, err
}

func failure(code, reason *string) *billing.Failure {
	if code == nil {
		return nil
	}
	f := &billing.Failure{Code: *code}
	if reason != nil {
		f.Reason = *reason
	}
	return f
}

// VoidCharge asks for an unfinished charge to be called off: its worker cancels the payment at
// the gateway instead of capturing it, and the charge ends canceled. A charge already captured
// cannot be voided (*billing.ConflictError); voiding a charge that failed or was canceled changes
// nothing.
func VoidCharge(ctx context.Context, db DBTX, id uuid.UUID, now time.Time) (billing.Charge, error) {
	c, err := scanCharge(db.QueryRow(ctx, `
		UPDATE charges SET void_requested_at = CASE WHEN status = 'succeeded' THEN NULL ELSE coalesce(void_requested_at, $2) END
		WHERE id = $1 RETURNING `+chargeColumns, id, now))
	if err != nil {
		return c, notFound(err, "charge "+id.String())
	}
	if c.Status == billing.ChargeSucceeded {
		return c, &billing.ConflictError{Reason: "the charge was captured: refund it instead"}
	}
	return c, nil
}
