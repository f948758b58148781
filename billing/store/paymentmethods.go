package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// SavePaymentMethod stores a payment method or, when the customer already has the same gateway
// token, refreshes its card details and returns the stored one with created false. A token that
// belongs to another customer is a *billing.ConflictError.
func SavePaymentMethod(ctx context.Context, db DBTX, pm billing.PaymentMethod) (saved billing.PaymentMethod, created bool, err error) {
	row := db.QueryRow(ctx, `
		INSERT INTO payment_methods AS pm (id, customer_id, gateway_token_id, brand, last4, exp_month, exp_year,
			purposes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (gateway_token_id) DO UPDATE SET
			brand = EXCLUDED.brand, last4 = EXCLUDED.last4, exp_month = EXCLUDED.exp_month,
			exp_year = EXCLUDED.exp_year, purposes = EXCLUDED.purposes, updated_at = EXCLUDED.updated_at
		WHERE pm.customer_id = EXCLUDED.customer_id
		RETURNING `+paymentMethodColumns+`, (xmax = 0)`,
		pm.ID, pm.CustomerID, pm.GatewayTokenID, pm.Brand, pm.Last4, pm.ExpMonth, pm.ExpYear, pm.Purposes, pm.CreatedAt)
	saved, err = scanPaymentMethod(row, &created)
	if err == pgx.ErrNoRows {
		return saved, false, &billing.ConflictError{Reason: "gateway_token_id is already registered to another customer"}
	}
	if err != nil {
		return saved, false, fmt.Errorf("save payment method: %w", err)
	}
	return saved, created, nil
}

// GetPaymentMethod reads a payment method.
func GetPaymentMethod(ctx context.Context, db DBTX, id uuid.UUID) (billing.PaymentMethod, error) {
	pm, err := scanPaymentMethod(db.QueryRow(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods WHERE id = $1`, id))
	if err != nil {
		return pm, notFound(err, "payment method "+id.String())
	}
	return pm, nil
}

// LockPaymentMethod reads a payment method and holds it, until tx ends, against its removal
// (RemovePaymentMethod): a caller that attaches or charges it in tx either sees it removed or
// commits first, and the removal then sees what it attached.
func LockPaymentMethod(ctx context.Context, tx pgx.Tx, id uuid.UUID) (billing.PaymentMethod, error) {
	pm, err := scanPaymentMethod(tx.QueryRow(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods WHERE id = $1 FOR SHARE`, id))
	if err != nil {
		return pm, notFound(err, "payment method "+id.String())
	}
	return pm, nil
}

const paymentMethodColumns = `id, customer_id, gateway_token_id, brand, last4, exp_month, exp_year, purposes,
	created_at, updated_at, removed_at, token_deactivated_at`

func scanPaymentMethod(row pgx.Row, extra ...any) (billing.PaymentMethod, error) {
	var pm billing.PaymentMethod
	dest := []any{&pm.ID, &pm.CustomerID, &pm.GatewayTokenID, &pm.Brand, &pm.Last4, &pm.ExpMonth, &pm.ExpYear,
		&pm.Purposes, &pm.CreatedAt, &pm.UpdatedAt, &pm.RemovedAt, &pm.TokenDeactivatedAt}
	err := row.Scan(append(dest, extra...)...)
	return pm, err
}

// TokenDue is a payment method that a billable subscription will charge by a time, with the
// earliest such charge.
type TokenDue struct {
	PaymentMethod billing.PaymentMethod
	DueAt         time.Time
}

// PaymentMethodsDueBy returns up to limit payment methods of billable subscriptions (trialing,
// active, past due) whose next period starts within ahead of now (or of their customer's test
// clock's time), each with the earliest start, least recently checked first.
func PaymentMethodsDueBy(ctx context.Context, db DBTX, now time.Time, ahead time.Duration, limit int) ([]TokenDue, error) {
	rows, err := db.Query(ctx, `
		SELECT `+prefixedPaymentMethodColumns+`, min(s.next_billing_at)
		FROM payment_methods pm JOIN subscriptions s ON s.payment_method_id = pm.id
		WHERE s.status IN ('trialing', 'active', 'past_due') AND s.next_billing_at <= `+dueBound("$1")+` + $3::interval
			AND s.next_billing_at <= coalesce(`+clockTime("pm.customer_id")+`, $1) + $3::interval
		GROUP BY pm.id
		ORDER BY pm.token_checked_at NULLS FIRST, pm.id LIMIT $2`, now, limit, ahead)
	if err != nil {
		return nil, fmt.Errorf("payment methods due: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TokenDue, error) {
		var d TokenDue
		pm, err := scanPaymentMethod(row, &d.DueAt)
		d.PaymentMethod = pm
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("payment methods due: %w", err)
	}
	return due, nil
}

// TokenWarnings are the warnings raised for a payment method's token: each is raised once while
// its condition lasts.
type TokenWarnings struct {
	Expiring  bool // the card expires before the next charge
	Suspended bool // the token cannot be charged (not ACTIVE, purpose missing, unknown)
}

// SaveTokenCheck records what a token check saw of a payment method (its token status, purposes
// and card expiry) and the conditions that hold now, and returns the warnings raised before it.
// The payment method's row is locked until tx ends, so that concurrent checks raise each
// warning once.
func SaveTokenCheck(ctx context.Context, tx pgx.Tx, pm billing.PaymentMethod, tokenStatus string, now TokenWarnings, at time.Time) (before TokenWarnings, err error) {
	err = tx.QueryRow(ctx, `SELECT expiring_raised, suspended_raised FROM payment_methods WHERE id = $1 FOR UPDATE`, pm.ID).
		Scan(&before.Expiring, &before.Suspended)
	if err != nil {
		return before, notFound(err, "payment method "+pm.ID.String())
	}
	_, err = tx.Exec(ctx, `
		UPDATE payment_methods SET token_status = $2, purposes = $3, exp_month = $4, exp_year = $5,
			token_checked_at = $6, expiring_raised = $7, suspended_raised = $8
		WHERE id = $1`, pm.ID, tokenStatus, pm.Purposes, pm.ExpMonth, pm.ExpYear, at, now.Expiring, now.Suspended)
	if err != nil {
		return before, fmt.Errorf("save token check: %w", err)
	}
	return before, nil
}

const prefixedPaymentMethodColumns = `pm.id, pm.customer_id, pm.gateway_token_id, pm.brand, pm.last4, pm.exp_month,
	pm.exp_year, pm.purposes, pm.created_at, pm.updated_at, pm.removed_at, pm.token_deactivated_at`
