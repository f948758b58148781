package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// CreateBillingRun stores a new billing run.
func CreateBillingRun(ctx context.Context, db DBTX, r billing.BillingRun) error {
	_, err := db.Exec(ctx, `
		INSERT INTO billing_runs (id, as_of, started_at, subscriptions_due, charges_created) VALUES ($1, $2, $3, $4, $5)`,
		r.ID, r.AsOf, r.StartedAt, r.SubscriptionsDue, r.ChargesCreated)
	if err != nil {
		return fmt.Errorf("create billing run: %w", err)
	}
	return nil
}

// AddToBillingRun counts more due subscriptions and created charges into a run.
func AddToBillingRun(ctx context.Context, db DBTX, id uuid.UUID, due, created int) error {
	_, err := db.Exec(ctx, `
		UPDATE billing_runs SET subscriptions_due = subscriptions_due + $2, charges_created = charges_created + $3
		WHERE id = $1`, id, due, created)
	if err != nil {
		return fmt.Errorf("add to billing run: %w", err)
	}
	return nil
}

// FinishBillingRun records when a run ended.
func FinishBillingRun(ctx context.Context, db DBTX, id uuid.UUID, at time.Time) error {
	if _, err := db.Exec(ctx, `UPDATE billing_runs SET finished_at = $2 WHERE id = $1`, id, at); err != nil {
		return fmt.Errorf("finish billing run: %w", err)
	}
	return nil
}

// RunSummary is a billing run with what became of its charges, by status.
type RunSummary struct {
	billing.BillingRun
	// Charges counts the run's charges and sums their amounts by status and currency.
	Charges []StatusTotal
}

// StatusTotal is the number and sum of charges in one status and currency.
type StatusTotal struct {
	Status   billing.ChargeStatus
	Currency string
	Count    int
	Amount   int64
}

// GetBillingRun reads a run and totals its charges.
func GetBillingRun(ctx context.Context, db DBTX, id uuid.UUID) (RunSummary, error) {
	var rs RunSummary
	r, err := scanBillingRun(db.QueryRow(ctx, `SELECT `+billingRunColumns+` FROM billing_runs WHERE id = $1`, id))
	if err != nil {
		return rs, notFound(err, "billing run "+id.String())
	}
	rs.BillingRun = r
	rows, err := db.Query(ctx, `
		SELECT status, currency, count(*), sum(amount) FROM charges WHERE billing_run_id = $1
		GROUP BY status, currency ORDER BY status, currency`, id)
	if err != nil {
		return rs, fmt.Errorf("billing run totals: %w", err)
	}
	rs.Charges, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (StatusTotal, error) {
		var t StatusTotal
		return t, row.Scan(&t.Status, &t.Currency, &t.Count, &t.Amount)
	})
	if err != nil {
		return rs, fmt.Errorf("billing run totals: %w", err)
	}
	return rs, nil
}

// ListBillingRuns returns up to limit runs, newest first, started before the run with id before
// (all when before is nil).
func ListBillingRuns(ctx context.Context, db DBTX, limit int, before *uuid.UUID) ([]billing.BillingRun, error) {
	rows, err := db.Query(ctx, `
		SELECT `+billingRunColumns+` FROM billing_runs
		WHERE $2::uuid IS NULL OR (started_at, id) < (SELECT started_at, id FROM billing_runs WHERE id = $2)
		ORDER BY started_at DESC, id DESC LIMIT $1`, limit, before)
	if err != nil {
		return nil, fmt.Errorf("list billing runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.BillingRun, error) {
		return scanBillingRun(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list billing runs: %w", err)
	}
	return runs, nil
}

const billingRunColumns = `id, as_of, started_at, finished_at, subscriptions_due, charges_created`

func scanBillingRun(row pgx.Row) (billing.BillingRun, error) {
	var r billing.BillingRun
	err := row.Scan(&r.ID, &r.AsOf, &r.StartedAt, &r.FinishedAt, &r.SubscriptionsDue, &r.ChargesCreated)
	return r, err
}
