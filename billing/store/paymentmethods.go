package store

import (
	"context"
	"fmt"

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

const paymentMethodColumns = `id, customer_id, gateway_token_id, brand, last4, exp_month, exp_year, purposes,
	created_at, updated_at, removed_at, token_deactivated_at`

func scanPaymentMethod(row pgx.Row, extra ...any) (billing.PaymentMethod, error) {
	var pm billing.PaymentMethod
	dest := []any{&pm.ID, &pm.CustomerID, &pm.GatewayTokenID, &pm.Brand, &pm.Last4, &pm.ExpMonth, &pm.ExpYear,
		&pm.Purposes, &pm.CreatedAt, &pm.UpdatedAt, &pm.RemovedAt, &pm.TokenDeactivatedAt}
	err := row.Scan(append(dest, extra...)...)
	return pm, err
}
