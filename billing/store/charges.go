package store

import (
	"errors"

	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/recur-billing/recur/billing"
)

// InsertCharges stores new period charges, and their lines, and returns the ids of those stored.
// A charge for a (subscription, period) that already has one is skipped: that is how the schema
// makes a double charge for one period impossible, whoever inserts it.
func InsertCharges(ctx context.Context, db DBTX, charges []billing.Charge) ([]uuid.UUID, error) {
	n := len(charges)
	var (
		ids, customers, methods = make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
		subs, runs              = make([]*uuid.UUID, n), make([]*uuid.UUID, n)
		indexes                 = make([]int, n)
		starts, ends            = make([]time.Time, n), make([]time.Time, n)
		amounts                 = make([]int64, n)
		currencies, channels    = make([]string, n), make([]string, n)
		statuses                = make([]billing.ChargeStatus, n)
	)
	for i, c := range charges {
		ids[i], customers[i], methods[i], subs[i], runs[i] = c.ID, c.CustomerID, c.PaymentMethodID, c.SubscriptionID, c.BillingRunID
		indexes[i], starts[i], ends[i] = c.PeriodIndex, c.PeriodStart, c.PeriodEnd
		amounts[i], currencies[i], channels[i], statuses[i] = c.Amount.Amount, c.Amount.Currency, c.Channel, c.Status
	}
	var now time.Time
	if n > 0 {
		now = charges[0].CreatedAt
	}
	rows, err := db.Query(ctx, `
		INSERT INTO charges (id, customer_id, payment_method_id, subscription_id, billing_run_id, period_index,
			period_start, period_end, amount, currency, channel, status, kind, created_at, updated_at)
		SELECT u.*, 'period', $13::timestamptz, $13::timestamptz
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::timestamptz[],
			$8::timestamptz[], $9::bigint[], $10::text[], $11::text[], $12::text[]) AS u
		ON CONFLICT (subscription_id, period_start) WHERE kind = 'period' DO NOTHING
		RETURNING id`,
		ids, customers, methods, subs, runs, indexes, starts, ends, amounts, currencies, channels, statuses, now)
	if err != nil {
		return nil, fmt.Errorf("insert charges: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("insert charges: %w", err)
	}
	stored := make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		stored[id] = true
	}
	var lined []billing.Charge
	for _, c := range charges {
		if stored[c.ID] && len(c.Lines) > 0 {
			lined = append(lined, c)
		}
	}
	return inserted, insertLines(ctx, db, lined...)
}

// InsertCharge stores one new ad-hoc or proration charge with its lines, which must sum to its
// amount (billing.CheckLines). A second proration charge for one change is a
// *billing.ConflictError.
func InsertCharge(ctx context.Context, db DBTX, c billing.Charge) error {
	if c.Kind == billing.ChargePeriod || c.AdHoc() != (c.Kind == billing.ChargeAdHoc) {
		return fmt.Errorf("insert charge: charge %s is a %s charge, of subscription %v", c.ID, c.Kind, c.SubscriptionID)
	}
	if err := billing.CheckLines(c); err != nil {
		return fmt.Errorf("insert charge: %w", err)
	}
	var start, end *time.Time
	var index *int
	if !c.AdHoc() {
		start, end, index = &c.PeriodStart, &c.PeriodEnd, &c.PeriodIndex
	}
	_, err := db.Exec(ctx, `
		INSERT INTO charges (id, kind, change_id, customer_id, payment_method_id, subscription_id, period_index,
			period_start, period_end, amount, currency, channel, description, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, nullif($13, ''), $14, $15, $15)`,
		c.ID, c.Kind, c.ChangeID, c.CustomerID, c.PaymentMethodID, c.SubscriptionID, index, start, end,
		c.Amount.Amount, c.Amount.Currency, c.Channel, c.Description, c.Status, c.CreatedAt)
	if isUniqueViolation(err, "charges_one_per_change") {
		return &billing.ConflictError{Reason: "change " + c.ChangeID.String() + " was already charged"}
	}
	if err != nil {
		return fmt.Errorf("insert charge: %w", err)
	}
	return insertLines(ctx, db, c)
}

// insertLines stores the lines of charges, after checking that each charge's lines sum to its
// amount (billing.CheckLines).
func insertLines(ctx context.Context, db DBTX, charges ...billing.Charge) error {
	var (
		ids                      []uuid.UUID
		positions                []int
		kinds                    []billing.LineKind
		descriptions, currencies []string
		amounts                  []int64
		starts, ends             []time.Time
	)
	for _, c := range charges {
		if err := billing.CheckLines(c); err != nil {
			return fmt.Errorf("insert charge lines: %w", err)
		}
		for i, l := range c.Lines {
			ids, positions, kinds = append(ids, c.ID), append(positions, i), append(kinds, l.Kind)
			descriptions, amounts, currencies = append(descriptions, l.Description), append(amounts, l.Amount.Amount), append(currencies, l.Amount.Currency)
			starts, ends = append(starts, l.Start), append(ends, l.End)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `
		INSERT INTO charge_lines (charge_id, position, kind, description, amount, currency, period_start, period_end)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::text[],
			$7::timestamptz[], $8::timestamptz[])`,
		ids, positions, kinds, descriptions, amounts, currencies, starts, ends)
	if err != nil {
		return fmt.Errorf("insert charge lines: %w", err)
	}
	return nil
}

// ListLines returns the lines of the given charges, by charge, in order.
func ListLines(ctx context.Context, db DBTX, chargeIDs ...uuid.UUID) (map[uuid.UUID][]billing.ChargeLine, error) {
	rows, err := db.Query(ctx, `
		SELECT charge_id, kind, description, amount, currency, period_start, period_end
		FROM charge_lines WHERE charge_id = ANY($1) ORDER BY charge_id, position`, chargeIDs)
	if err != nil {
		return nil, fmt.Errorf("list charge lines: %w", err)
	}
	byCharge := make(map[uuid.UUID][]billing.ChargeLine, len(chargeIDs))
	var id uuid.UUID
	var l billing.ChargeLine
	_, err = pgx.ForEachRow(rows, []any{&id, &l.Kind, &l.Description, &l.Amount.Amount, &l.Amount.Currency, &l.Start, &l.End}, func() error {
		byCharge[id] = append(byCharge[id], l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list charge lines: %w", err)
	}
	return byCharge, nil
}

// CurrentCharges tells whether the subscription's period index has its period charge, and
// whether every charge of that period succeeded with nothing refunded.
func CurrentCharges(ctx context.Context, db DBTX, subscriptionID uuid.UUID, index int) (billing.CurrentCharges, error) {
	var cc billing.CurrentCharges
	err := db.QueryRow(ctx, `
		SELECT coalesce(bool_or(kind = 'period'), false), coalesce(bool_and(status = 'succeeded' AND refunds_held = 0), false)
		FROM charges WHERE subscription_id = $1 AND period_index = $2`, subscriptionID, index).Scan(&cc.Billed, &cc.Collected)
	if err != nil {
		return cc, fmt.Errorf("current charges: %w", err)
	}
	return cc, nil
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
const chargeColumns = `id, kind, change_id, customer_id, payment_method_id, subscription_id, billing_run_id, coalesce(period_index, 0),
	coalesce(period_start, 'epoch'), coalesce(period_end, 'epoch'), amount, currency, channel, coalesce(description, ''),
	status, failure_code, failure_reason, next_retry_at, coalesce(retry_reason, ''), first_failed_at, void_requested_at,
	created_at, updated_at`

func scanCharge(row pgx.Row) (billing.Charge, error) {
	var c billing.Charge
	var code, reason *string
	err := row.Scan(&c.ID, &c.Kind, &c.ChangeID, &c.CustomerID, &c.PaymentMethodID, &c.SubscriptionID, &c.BillingRunID, &c.PeriodIndex,
		&c.PeriodStart, &c.PeriodEnd, &c.Amount.Amount, &c.Amount.Currency, &c.Channel, &c.Description, &c.Status,
		&code, &reason, &c.NextRetryAt, &c.RetryReason, &c.FirstFailedAt, &c.VoidedAt, &c.CreatedAt, &c.UpdatedAt)
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

// VoidCharge asks for an unfinished charge (pending, processing or reconciling) to be called off,
// for reason: its worker cancels the payment at the gateway instead of capturing it, and the
// charge ends canceled, unless the capture came first. A charge already captured cannot be voided
// (refund it), nor one in review, whose outcome is unknown (*billing.ConflictError); voiding one
// that was canceled changes nothing. A failed or retrying charge is forgiven instead
// (billing.Charge.Forgive, SaveForgiven).
func VoidCharge(ctx context.Context, db DBTX, id uuid.UUID, reason string, now time.Time) (billing.Charge, error) {
	c, err := scanCharge(db.QueryRow(ctx, `
		UPDATE charges SET void_requested_at = coalesce(void_requested_at, $2), void_reason = coalesce(void_reason, $3)
		WHERE id = $1 AND status IN ('pending', 'processing', 'reconciling') RETURNING `+chargeColumns, id, now, reason))
	if errors.Is(err, pgx.ErrNoRows) {
		if c, err = GetCharge(ctx, db, id); err != nil {
			return c, err
		}
		switch c.Status {
		case billing.ChargeSucceeded:
			return c, &billing.ConflictError{Reason: "the charge was captured: refund it instead"}
		case billing.ChargeNeedsReview:
			return c, &billing.ConflictError{Reason: "the charge's outcome is unknown: settle it at the gateway first"}
		case billing.ChargeCanceled:
			return c, nil
		}
		return c, fmt.Errorf("void charge %s: it is %s: forgive it instead", id, c.Status)
	}
	if err != nil {
		return c, fmt.Errorf("void charge: %w", err)
	}
	return c, nil
}

// SaveForgiven stores charge c forgiven (billing.Charge.Forgive), with its open attempt, which
// waits unsent for the card's caps if there is one, canceled likewise. It refuses (with a
// *billing.ConflictError) a charge that has an attempt sent to the gateway and not ended: that
// attempt's outcome is not known yet.
func SaveForgiven(ctx context.Context, tx pgx.Tx, c billing.Charge) error {
	var sent bool
	err := tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM charge_attempts WHERE charge_id = $1 AND status = 'processing' AND create_request_id IS NOT NULL)`,
		c.ID).Scan(&sent)
	if err != nil {
		return fmt.Errorf("forgive charge: %w", err)
	}
	if sent {
		return &billing.ConflictError{Reason: "an attempt of the charge is at the gateway: its outcome is not known yet"}
	}
	_, err = tx.Exec(ctx, `
		WITH a AS (
			UPDATE charge_attempts SET status = 'canceled', failure_code = $3, failure_reason = $4, updated_at = $5
			WHERE charge_id = $1 AND status = 'processing'
		)
		UPDATE charges SET status = $2, failure_code = $3, failure_reason = $4, updated_at = $5, void_requested_at = $6,
			void_reason = $4, next_retry_at = NULL, retry_reason = NULL
		WHERE id = $1`, c.ID, c.Status, c.Failure.Code, c.Failure.Reason, c.UpdatedAt, c.VoidedAt)
	if err != nil {
		return fmt.Errorf("forgive charge: %w", err)
	}
	return nil
}

// LockCharge reads a charge and locks it for update until tx ends.
func LockCharge(ctx context.Context, tx pgx.Tx, id uuid.UUID) (billing.Charge, error) {
	c, err := scanCharge(tx.QueryRow(ctx, `SELECT `+chargeColumns+` FROM charges WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return c, notFound(err, "charge "+id.String())
	}
	return c, nil
}

// owedSQL is billing.Charge.Outstanding in SQL, on charges aliased c: the reports sum what is owed
// over many subscriptions with it, and OwedCharges narrows its read with it before billing
// decides. TestOwedSQLIsTheRule holds the two together.
const owedSQL = `(c.subscription_id IS NOT NULL AND c.void_requested_at IS NULL AND (c.status IN ('failed', 'retrying')
	OR (c.status IN ('pending', 'processing', 'reconciling') AND c.first_failed_at IS NOT NULL)))`

// OwedCharges returns what subscription s owes (billing.Subscription.Owed), oldest period first,
// as db sees it. It locks nothing: a caller that settles one of s's charges holds s's lock, and
// so sees every other settlement of s's charges committed.
func OwedCharges(ctx context.Context, db DBTX, s billing.Subscription) ([]billing.Charge, error) {
	charges, err := listRows(ctx, db, "owed charges", scanCharge, `
		SELECT `+chargeColumns+` FROM charges c WHERE c.subscription_id = $1 AND `+owedSQL+`
		ORDER BY period_start, created_at, id`, s.ID)
	return s.Owed(charges), err
}

// LockRetryableCharges returns the charges that a subscription owes and that can be tried again at
// once (billing.Charge.Retryable: failed or retrying), oldest period first, each locked for update
// until tx ends; whether the subscription is canceled is the caller's to check. Lock them before
// the subscription, as the charge worker does (it ends a charge, then settles its subscription):
// charges being worked are left out, so this never waits for a worker that waits for the
// subscription.
func LockRetryableCharges(ctx context.Context, tx pgx.Tx, subscriptionID uuid.UUID) ([]billing.Charge, error) {
	return listRows(ctx, tx, "lock retryable charges", scanCharge, `
		SELECT `+chargeColumns+` FROM charges c
		WHERE c.subscription_id = $1 AND c.status IN ('failed', 'retrying') AND `+owedSQL+`
		ORDER BY period_start, created_at, id FOR UPDATE`, subscriptionID)
}

// SaveRetry stores a charge made due for another attempt (billing.Charge.RetryNow): its state,
// next retry, payment method and the start of its dunning schedule.
func SaveRetry(ctx context.Context, db DBTX, c billing.Charge) error {
	_, err := db.Exec(ctx, `
		UPDATE charges SET status = $2, next_retry_at = $3, retry_reason = $4, payment_method_id = $5, updated_at = $6,
			first_failed_at = $7
		WHERE id = $1`, c.ID, c.Status, c.NextRetryAt, c.RetryReason, c.PaymentMethodID, c.UpdatedAt, c.FirstFailedAt)
	if err != nil {
		return fmt.Errorf("save retry: %w", err)
	}
	return nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique violation of the named constraint
// or index.
func isUniqueViolation(err error, name string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == name
}
