package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// CreateRefund makes a pending refund of the charge (billing.NewRefund: of a succeeded charge,
// by default of all that is left) and stores it in tx. It holds the charge's row lock from the
// read of what its refunds already hold to the update that adds the new one, so that concurrent
// refunds are counted one after the other; the schema's CHECK (refunds_held <= amount) backs it.
func CreateRefund(ctx context.Context, tx pgx.Tx, chargeID uuid.UUID, amount *int64, now time.Time) (billing.Refund, error) {
	var held int64
	err := tx.QueryRow(ctx, `SELECT refunds_held FROM charges WHERE id = $1 FOR UPDATE`, chargeID).Scan(&held)
	if err != nil {
		return billing.Refund{}, notFound(err, "charge "+chargeID.String())
	}
	c, err := GetCharge(ctx, tx, chargeID)
	if err != nil {
		return billing.Refund{}, err
	}
	var paymentID string
	if c.Status == billing.ChargeSucceeded {
		err = tx.QueryRow(ctx, `
			SELECT gateway_payment_id FROM charge_attempts WHERE charge_id = $1 AND status = 'succeeded'
				AND gateway_payment_id IS NOT NULL
			ORDER BY number DESC LIMIT 1`, chargeID).Scan(&paymentID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) { // none: paid in full by credit (billing.NewRefund)
			return billing.Refund{}, fmt.Errorf("captured payment of charge %s: %w", chargeID, err)
		}
	}
	r, err := billing.NewRefund(c, held, amount, paymentID, now)
	if err != nil {
		return r, err
	}
	if _, err := tx.Exec(ctx, `UPDATE charges SET refunds_held = refunds_held + $2 WHERE id = $1`, c.ID, r.Amount.Amount); err != nil {
		return r, fmt.Errorf("hold refund: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO refunds (id, charge_id, amount, currency, status, request_id, gateway_payment_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
		r.ID, r.ChargeID, r.Amount.Amount, r.Amount.Currency, r.Status, r.RequestID, r.GatewayPaymentID, r.CreatedAt)
	if err != nil {
		return r, fmt.Errorf("insert refund: %w", err)
	}
	return r, nil
}

// StartRefund marks a pending refund as being sent, committed before the gateway call, and
// returns it. It returns false when the refund is not pending: finished, or left sending by a
// run that stopped.
func StartRefund(ctx context.Context, db DBTX, id uuid.UUID, now time.Time) (billing.Refund, bool, error) {
	r, err := scanRefund(db.QueryRow(ctx, `
		UPDATE refunds SET status = 'sending', updated_at = $2 WHERE id = $1 AND status = 'pending'
		RETURNING `+refundColumns, id, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("start refund: %w", err)
	}
	return r, true, nil
}

// FinishRefund records how the gateway call of a refund being sent ended: succeeded (with the
// gateway's refund id), failed (its amount no longer held against the charge), needs_review,
// or pending again when the gateway did not take it. It returns the refund as it is now, and
// false (with no refund) when the refund was not being sent.
func FinishRefund(ctx context.Context, db DBTX, id uuid.UUID, status billing.RefundStatus, gatewayRefundID string, f *billing.Failure, now time.Time) (billing.Refund, bool, error) {
	var code, reason *string
	if f != nil {
		code, reason = &f.Code, &f.Reason
	}
	r, err := scanRefund(db.QueryRow(ctx, `
		WITH r AS (
			UPDATE refunds SET status = $2, gateway_refund_id = nullif($3, ''), failure_code = $4, failure_reason = $5,
				updated_at = $6
			WHERE id = $1 AND status = 'sending'
			RETURNING *
		), c AS (
			UPDATE charges c SET refunds_held = refunds_held - r.amount FROM r WHERE c.id = r.charge_id AND $2 = 'failed'
		)
		SELECT `+refundColumns+` FROM r`, id, status, gatewayRefundID, code, reason, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Refund{}, false, nil
	}
	if err != nil {
		return billing.Refund{}, false, fmt.Errorf("finish refund: %w", err)
	}
	return r, true, nil
}

// ListRefunds returns the refunds of the given charges, by charge, oldest first.
func ListRefunds(ctx context.Context, db DBTX, chargeIDs ...uuid.UUID) (map[uuid.UUID][]billing.Refund, error) {
	rows, err := db.Query(ctx, `
		SELECT `+refundColumns+` FROM refunds WHERE charge_id = ANY($1) ORDER BY charge_id, created_at, id`, chargeIDs)
	if err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	refunds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Refund, error) { return scanRefund(row) })
	if err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	byCharge := make(map[uuid.UUID][]billing.Refund, len(chargeIDs))
	for _, r := range refunds {
		byCharge[r.ChargeID] = append(byCharge[r.ChargeID], r)
	}
	return byCharge, nil
}

const refundColumns = `id, charge_id, amount, currency, status, request_id, gateway_payment_id,
	coalesce(gateway_refund_id, ''), failure_code, failure_reason, created_at, updated_at`

func scanRefund(row pgx.Row) (billing.Refund, error) {
	var r billing.Refund
	var code, reason *string
	err := row.Scan(&r.ID, &r.ChargeID, &r.Amount.Amount, &r.Amount.Currency, &r.Status, &r.RequestID,
		&r.GatewayPaymentID, &r.GatewayRefundID, &code, &reason, &r.CreatedAt, &r.UpdatedAt)
	r.Failure = failure(code, reason)
	return r, err
}
