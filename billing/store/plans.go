package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// CreatePlan stores a new plan.
func CreatePlan(ctx context.Context, db DBTX, p billing.Plan) error {
	_, err := db.Exec(ctx, `
		INSERT INTO plans (id, name, amount, currency, billing_interval, interval_count, trial_days, active, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.Name, p.Price.Amount, p.Price.Currency, p.Interval, p.Count, p.TrialDays, p.Active, p.CreatedAt)
	if err != nil {
		return fmt.Errorf("create plan: %w", err)
	}
	return nil
}

// GetPlan reads a plan.
func GetPlan(ctx context.Context, db DBTX, id uuid.UUID) (billing.Plan, error) {
	p, err := scanPlan(db.QueryRow(ctx, `SELECT `+planColumns+` FROM plans WHERE id = $1`, id))
	if err != nil {
		return p, notFound(err, "plan "+id.String())
	}
	return p, nil
}

// PlanFilter selects plans to list.
type PlanFilter struct {
	Active        *bool      // only active (or only inactive) plans
	StartingAfter *uuid.UUID // only plans after this one, newest first
}

// ListPlans returns up to limit plans, newest first.
func ListPlans(ctx context.Context, db DBTX, f PlanFilter, limit int) ([]billing.Plan, error) {
	return listRows(ctx, db, "list plans", scanPlan, `
		SELECT `+planColumns+` FROM plans
		WHERE ($1::boolean IS NULL OR active = $1)
			AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM plans WHERE id = $2))
		ORDER BY created_at DESC, id DESC LIMIT $3`, f.Active, f.StartingAfter, limit)
}

const planColumns = `id, name, amount, currency, billing_interval, interval_count, trial_days, active, created_at`

func scanPlan(row pgx.Row) (billing.Plan, error) {
	var p billing.Plan
	err := row.Scan(&p.ID, &p.Name, &p.Price.Amount, &p.Price.Currency, &p.Interval, &p.Count, &p.TrialDays,
		&p.Active, &p.CreatedAt)
	return p, err
}
