package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// InsertSetup stores a new payment-method setup.
func InsertSetup(ctx context.Context, db DBTX, s billing.PaymentMethodSetup) error {
	_, err := db.Exec(ctx, `
		INSERT INTO payment_method_setups (id, customer_id, status, purposes, return_url, subscription_ids, amount,
			currency, order_number, gateway_payment_id, checkout_url, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, ''), nullif($11, ''), $12, $13, $13)`,
		s.ID, s.CustomerID, s.Status, s.Purposes, s.ReturnURL, s.SubscriptionIDs, s.Amount.Amount, s.Amount.Currency,
		s.OrderNumber, s.GatewayPaymentID, s.CheckoutURL, s.ExpiresAt, s.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert payment method setup: %w", err)
	}
	return nil
}

// GetSetup reads a payment-method setup.
func GetSetup(ctx context.Context, db DBTX, id uuid.UUID) (billing.PaymentMethodSetup, error) {
	return readSetup(ctx, db, id, "")
}

// LockSetup reads a payment-method setup and locks it until tx ends: whoever finishes a setup
// holds its lock, so that it is finished once.
func LockSetup(ctx context.Context, tx pgx.Tx, id uuid.UUID) (billing.PaymentMethodSetup, error) {
	return readSetup(ctx, tx, id, " FOR UPDATE")
}

func readSetup(ctx context.Context, db DBTX, id uuid.UUID, lock string) (billing.PaymentMethodSetup, error) {
	s, err := scanSetup(db.QueryRow(ctx, `SELECT `+setupColumns+` FROM payment_method_setups WHERE id = $1`+lock, id))
	if err != nil {
		return s, notFound(err, "payment method setup "+id.String())
	}
	return s, nil
}

// FinishSetup stores the end of a pending setup: its status, payment method and failure.
func FinishSetup(ctx context.Context, db DBTX, s billing.PaymentMethodSetup) error {
	var code, reason *string
	if s.Failure != nil {
		code, reason = &s.Failure.Code, &s.Failure.Reason
	}
	tag, err := db.Exec(ctx, `
		UPDATE payment_method_setups SET status = $2, payment_method_id = $3, failure_code = $4, failure_reason = $5,
			updated_at = $6
		WHERE id = $1 AND status = 'pending'`, s.ID, s.Status, s.PaymentMethodID, code, reason, s.UpdatedAt)
	if err != nil {
		return fmt.Errorf("finish payment method setup: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish payment method setup %s: %w", s.ID, &billing.ConflictError{Reason: "the setup is not pending"})
	}
	return nil
}

const setupColumns = `id, customer_id, status, purposes, return_url, subscription_ids, amount, currency, order_number,
	coalesce(gateway_payment_id, ''), coalesce(checkout_url, ''), payment_method_id, failure_code, failure_reason,
	expires_at, created_at, updated_at`

func scanSetup(row pgx.Row) (billing.PaymentMethodSetup, error) {
	var s billing.PaymentMethodSetup
	var code, reason *string
	err := row.Scan(&s.ID, &s.CustomerID, &s.Status, &s.Purposes, &s.ReturnURL, &s.SubscriptionIDs, &s.Amount.Amount,
		&s.Amount.Currency, &s.OrderNumber, &s.GatewayPaymentID, &s.CheckoutURL, &s.PaymentMethodID, &code, &reason,
		&s.ExpiresAt, &s.CreatedAt, &s.UpdatedAt)
	s.Failure = failure(code, reason)
	return s, err
}

// PaymentOwner is what a gateway payment belongs to in Recur: a setup or a charge (one of the two
// ids is set), or nothing.
type PaymentOwner struct {
	SetupID  *uuid.UUID
	ChargeID *uuid.UUID
}

// FindPaymentOwner looks up the setup or charge whose gateway payment has paymentID.
func FindPaymentOwner(ctx context.Context, db DBTX, paymentID string) (PaymentOwner, error) {
	var o PaymentOwner
	err := db.QueryRow(ctx, `
		SELECT (SELECT id FROM payment_method_setups WHERE gateway_payment_id = $1),
			(SELECT charge_id FROM charge_attempts WHERE gateway_payment_id = $1 LIMIT 1)`, paymentID).Scan(&o.SetupID, &o.ChargeID)
	if err != nil {
		return o, fmt.Errorf("find payment owner: %w", err)
	}
	return o, nil
}

// RemovePaymentMethod marks the customer's payment method removed, unless subscriptions that are
// not canceled still use it (a *billing.InUseError naming them). Removing it again returns it as
// it is, with removed false.
func RemovePaymentMethod(ctx context.Context, tx pgx.Tx, customerID, id uuid.UUID, now time.Time) (pm billing.PaymentMethod, removed bool, err error) {
	pm, err = scanPaymentMethod(tx.QueryRow(ctx, `
		SELECT `+paymentMethodColumns+` FROM payment_methods WHERE id = $1 AND customer_id = $2 FOR UPDATE`, id, customerID))
	if err != nil {
		return pm, false, notFound(err, "payment method "+id.String()+" of customer "+customerID.String())
	}
	if pm.RemovedAt != nil {
		return pm, false, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT id FROM subscriptions WHERE payment_method_id = $1 AND status <> 'canceled' ORDER BY created_at, id`, id)
	if err != nil {
		return pm, false, fmt.Errorf("remove payment method: %w", err)
	}
	inUse, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return pm, false, fmt.Errorf("remove payment method: %w", err)
	}
	if len(inUse) > 0 {
		return pm, false, &billing.InUseError{SubscriptionIDs: inUse}
	}
	pm, err = scanPaymentMethod(tx.QueryRow(ctx, `
		UPDATE payment_methods SET removed_at = $2, updated_at = $2 WHERE id = $1 RETURNING `+paymentMethodColumns, id, now))
	if err != nil {
		return pm, false, fmt.Errorf("remove payment method: %w", err)
	}
	return pm, true, nil
}

// SetTokenDeactivated records that the gateway has deactivated the payment method's token.
func SetTokenDeactivated(ctx context.Context, db DBTX, id uuid.UUID, now time.Time) error {
	_, err := db.Exec(ctx, `
		UPDATE payment_methods SET token_deactivated_at = coalesce(token_deactivated_at, $2) WHERE id = $1`, id, now)
	if err != nil {
		return fmt.Errorf("set token deactivated: %w", err)
	}
	return nil
}
