package billing

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// RefundStatus is where a refund is.
type RefundStatus string

// Refund states. A refund is pending until a worker sends it to the gateway, and sending from the
// moment it is about to be sent (committed before the call) until the gateway has answered. It
// ends succeeded, failed (the gateway refused it, or could not be reached: nothing was
// refunded) or needs_review (the gateway's answer was lost, or a run stopped while sending: a
// person must look at the gateway, since a refund is never sent twice blindly).
const (
	RefundPending     RefundStatus = "pending"
	RefundSending     RefundStatus = "sending"
	RefundSucceeded   RefundStatus = "succeeded"
	RefundFailed      RefundStatus = "failed"
	RefundNeedsReview RefundStatus = "needs_review"
)

// Holds reports whether the refund counts against what is left to refund of its charge: every
// refund does but a failed one.
func (s RefundStatus) Holds() bool { return s != RefundFailed }

// Refund gives back part or all of a succeeded charge.
type Refund struct {
	ID               uuid.UUID
	ChargeID         uuid.UUID
	Amount           Money
	Status           RefundStatus
	RequestID        uuid.UUID // the X-Request-Id of its one gateway call, recorded before it is sent
	GatewayPaymentID string    // the charge's captured payment
	GatewayRefundID  string    // empty until the gateway has answered
	Failure          *Failure
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// NewRefund makes a pending refund of charge c, of which held is already refunded or being
// refunded. Without an amount, it refunds all that is left. Only a succeeded charge can be
// refunded (*ConflictError), and never for more than is left (a *ValidationError of amount).
// paymentID is the charge's captured payment: one paid in full by credit has none, and nothing
// to refund (*ConflictError).
func NewRefund(c Charge, held int64, amount *int64, paymentID string, now time.Time) (Refund, error) {
	if c.Status != ChargeSucceeded {
		return Refund{}, &ConflictError{Reason: fmt.Sprintf("the charge is %s: only a succeeded charge can be refunded", c.Status)}
	}
	if paymentID == "" {
		return Refund{}, &ConflictError{Reason: "the charge was paid by the subscription's credit, not at the gateway: there is nothing to refund"}
	}
	left := c.Amount.Amount - held
	if amount == nil {
		if left <= 0 {
			return Refund{}, &ConflictError{Reason: "the charge has been refunded in full"}
		}
		amount = &left
	}
	switch {
	case *amount <= 0:
		return Refund{}, &ValidationError{Field: "amount", Reason: "must be a positive integer of minor units"}
	case *amount > left:
		return Refund{}, &ValidationError{Field: "amount", Reason: fmt.Sprintf("must be at most %d, what is left to refund of the charge", left)}
	}
	return Refund{
		ID: NewID(), ChargeID: c.ID, Amount: Money{Amount: *amount, Currency: c.Amount.Currency}, Status: RefundPending,
		RequestID: uuid.New(), GatewayPaymentID: paymentID, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// StepRefund names a refund's one gateway call, at fault points.
const StepRefund = "refund"

// Failure codes of refunds that Recur sets itself; the gateway's refusals pass through with its
// code, or FailureRejected.
const (
	FailureRefundUnknown      = "refund_outcome_unknown" // needs_review: the gateway may have refunded
	FailureGatewayUnavailable = "gateway_unavailable"    // failed: the gateway never took the refund
)
