package billing

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ChargeStatus is where a charge is.
type ChargeStatus string

// Charge states. A charge is pending until a worker takes it and processing while one works it.
// When a gateway call ends without a known outcome it is reconciling until the gateway's state is
// read back. It is retrying while it waits for its next attempt: after a soft decline (dunning),
// or when an attempt would exceed the card's attempt caps (see Dunning and CardAttemptCaps). It ends succeeded (captured), failed (declined, or the token cannot be charged),
// canceled (voided, or its subscription canceled, with any authorization released) or
// needs_review (the gateway never settled it: a person must look; it is never failed and charged
// again automatically).
const (
	ChargePending     ChargeStatus = "pending"
	ChargeProcessing  ChargeStatus = "processing"
	ChargeReconciling ChargeStatus = "reconciling"
	ChargeRetrying    ChargeStatus = "retrying"
	ChargeSucceeded   ChargeStatus = "succeeded"
	ChargeFailed      ChargeStatus = "failed"
	ChargeCanceled    ChargeStatus = "canceled"
	ChargeNeedsReview ChargeStatus = "needs_review"
)

// ChargeStatuses are all the states of a charge.
var ChargeStatuses = []ChargeStatus{ChargePending, ChargeProcessing, ChargeReconciling, ChargeRetrying, ChargeSucceeded,
	ChargeFailed, ChargeCanceled, ChargeNeedsReview}

// Terminal reports whether the charge will not change any more by itself.
func (s ChargeStatus) Terminal() bool {
	return s == ChargeSucceeded || s == ChargeFailed || s == ChargeCanceled || s == ChargeNeedsReview
}

// ChargeKind says what a charge is for.
type ChargeKind string

// Charge kinds.
const (
	// ChargePeriod is a subscription's charge for one billing period: at most one per
	// (subscription, period).
	ChargePeriod ChargeKind = "period"
	// ChargeProration is the net of an immediate change of a subscription's price, for the rest
	// of its current period: at most one per change.
	ChargeProration ChargeKind = "proration"
	// ChargeAdHoc is a customer's one-off charge, of no subscription.
	ChargeAdHoc ChargeKind = "ad_hoc"
)

// Charge is what a customer owes: for one billing period of a subscription (at most one per
// (subscription, period)), for an immediate change of its price, or ad hoc, for what Description
// says.
type Charge struct {
	ID              uuid.UUID
	Kind            ChargeKind
	ChangeID        *uuid.UUID // the change that a proration charge is for; nil for other kinds
	CustomerID      uuid.UUID
	PaymentMethodID uuid.UUID
	// SubscriptionID is nil for an ad-hoc charge, which has no billing run and no period either
	// (the period fields are zero). A proration charge's period is the rest of the period changed:
	// PeriodIndex is that period, PeriodStart the time of the change.
	SubscriptionID *uuid.UUID
	BillingRunID   *uuid.UUID
	PeriodIndex    int
	PeriodStart    time.Time
	PeriodEnd      time.Time
	Amount         Money
	Channel        string // how the gateway is asked to pay: ChannelRecurring for subscriptions
	Description    string // what an ad-hoc or proration charge is for; empty for period charges
	Status         ChargeStatus
	Failure        *Failure
	// NextRetryAt is when a retrying charge is tried next; RetryReason says why it waits, or, on
	// a failed charge, why it is not retried.
	NextRetryAt *time.Time
	RetryReason string
	// FirstFailedAt is when its first attempt was declined, or when it was retried with another
	// payment method (RetryNow): the dunning schedule counts from it.
	FirstFailedAt *time.Time
	// VoidedAt is when the merchant voided it: forgiven (Forgive), or to be called off by its
	// worker. A voided charge is never outstanding.
	VoidedAt *time.Time
	// Lines are the parts of the amount, which they sum to (CheckLines): a proration's credit and
	// debit, or a period's price and the credit applied to it. A charge without lines is its
	// amount alone.
	Lines     []ChargeLine
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RetryNow makes a failed or retrying charge due for another attempt at now, with payment method
// pm when it is not nil (one of the charge's customer's). Another payment method than the
// charge's starts its dunning schedule afresh, from now: its declines are not held to the
// schedule of the one it replaces, which may be over. The card's attempt caps still apply when
// the attempt is made.
func (c *Charge) RetryNow(pm *PaymentMethod, now time.Time) error {
	if !c.Retryable() {
		return &ConflictError{Reason: fmt.Sprintf("a %s charge cannot be retried: only failed or retrying ones", c.Status)}
	}
	if c.Failure != nil && ClassifyFailure(c.Failure.Code) == FailureHard && (pm == nil || pm.ID == c.PaymentMethodID) {
		return &ConflictError{Reason: fmt.Sprintf("the charge was declined hard (%s) on its payment method, which is never tried again for it: retry it with another one (payment_method_id)", c.Failure.Code)}
	}
	if pm != nil {
		if pm.CustomerID != c.CustomerID {
			return &ValidationError{Field: "payment_method_id", Reason: "belongs to another customer"}
		}
		if err := pm.Attachable(); err != nil {
			return err
		}
		if pm.ID != c.PaymentMethodID && c.FirstFailedAt != nil {
			c.FirstFailedAt = &now
		}
		c.PaymentMethodID = pm.ID
	}
	c.Status, c.NextRetryAt, c.RetryReason, c.UpdatedAt = ChargeRetrying, &now, "retry requested", now
	return nil
}

// AdHoc reports whether the charge belongs to no subscription.
func (c Charge) AdHoc() bool { return c.SubscriptionID == nil }

// NewAdHocCharge makes a pending ad-hoc charge of the customer's payment method, paid through
// channel MERCHANT. The payment method's purposes are checked by the caller, which knows the
// gateway's names for them.
func NewAdHocCharge(pm PaymentMethod, amount Money, description string, now time.Time) (Charge, error) {
	if err := ValidatePrice(amount); err != nil {
		return Charge{}, err
	}
	if len(description) > 1000 {
		return Charge{}, &ValidationError{Field: "description", Reason: "must be at most 1000 characters"}
	}
	return Charge{
		ID: NewID(), Kind: ChargeAdHoc, CustomerID: pm.CustomerID, PaymentMethodID: pm.ID, Amount: amount, Channel: ChannelMerchant,
		Description: description, Status: ChargePending, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// Payment channels of merchant-initiated charges, as the gateway names them.
const (
	ChannelRecurring = "RECURRING" // scheduled charges of a subscription
	ChannelMerchant  = "MERCHANT"  // ad-hoc charges
)

// Failure says why a charge or an attempt failed. The API shows it as {"code", "reason"}.
type Failure struct {
	Code   string `json:"code"`   // e.g. token_suspended, card_expired, or the gateway's decline code
	Reason string `json:"reason"` // for people
}

// Failure codes Recur sets itself; gateway decline codes pass through as the gateway names them.
const (
	FailureTokenNotActive   = "token_not_active"
	FailurePurposeMissing   = "token_purpose_missing"
	FailureCardExpired      = "card_expired"
	FailureTokenNotFound    = "token_not_found"
	FailureRejected         = "rejected_by_gateway"
	FailurePaymentFailed    = "payment_failed"
	FailureAmountMismatch   = "amount_mismatch"
	FailureVoided           = "voided"
	FailureCanceled         = "subscription_canceled"
	FailurePaymentCancelled = "payment_cancelled"
	FailureUnsettled        = "unsettled"
)

// AttemptStatus is where one attempt at collecting a charge is.
type AttemptStatus string

// Attempt states; an attempt ends the way its charge does.
const (
	AttemptProcessing  AttemptStatus = "processing"
	AttemptSucceeded   AttemptStatus = "succeeded"
	AttemptFailed      AttemptStatus = "failed"
	AttemptCanceled    AttemptStatus = "canceled"
	AttemptNeedsReview AttemptStatus = "needs_review"
)

// Attempt is one try at collecting a charge, with at most one gateway payment.
type Attempt struct {
	ID               uuid.UUID
	ChargeID         uuid.UUID
	Number           int
	OrderNumber      string
	GatewayPaymentID string // empty until the gateway has answered the payment creation
	// CreateRequestID is the request id of the payment creation, once it has been sent: a retry
	// of a creation whose answer was lost sends the same request again.
	CreateRequestID *uuid.UUID
	Status          AttemptStatus
	Failure         *Failure
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Steps           []Step
}

// Step is one gateway call of an attempt. It is recorded before the call is made.
type Step struct {
	Name       string // check_token, create_payment, start_session, get_payment, capture, cancel
	RequestID  uuid.UUID
	StartedAt  time.Time
	FinishedAt *time.Time
	Outcome    string // "ok" or the gateway error class; empty while under way
	Detail     string
}

// Gateway steps.
const (
	StepCheckToken    = "check_token"
	StepCreatePayment = "create_payment"
	StepStartSession  = "start_session"
	StepGetPayment    = "get_payment"
	StepCapture       = "capture"
	StepCancel        = "cancel"
)
