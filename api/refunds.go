package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/jobs"
)

type refundJSON struct {
	ID              uuid.UUID        `json:"id"`
	ChargeID        uuid.UUID        `json:"charge_id"`
	Amount          int64            `json:"amount"`
	Currency        string           `json:"currency"`
	Status          string           `json:"status"`
	RequestID       uuid.UUID        `json:"request_id"`
	GatewayRefundID *string          `json:"gateway_refund_id"`
	Failure         *billing.Failure `json:"failure"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

func refundOut(r billing.Refund) refundJSON {
	return refundJSON{ID: r.ID, ChargeID: r.ChargeID, Amount: r.Amount.Amount, Currency: r.Amount.Currency,
		Status: string(r.Status), RequestID: r.RequestID, GatewayRefundID: nonEmpty(r.GatewayRefundID),
		Failure: r.Failure, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// createRefund refunds part or all (the default: what is left) of a succeeded charge. The refund
// is stored, its amount held against the charge under the charge's row lock, and its job
// enqueued, in the request's transaction; the job sends it to the gateway. The answer is 202
// with the refund pending: GET /v1/charges/{id} shows how it ends.
func (a *API) createRefund(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	chargeID, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Amount *int64 `json:"amount"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	ref, err := store.CreateRefund(ctx, tx, chargeID, in.Amount, a.clock.Now())
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.jobs.InsertTx(ctx, tx, jobs.RefundChargeArgs{RefundID: ref.ID}, nil); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, refundOut(ref), nil
}
