package billing

import (
	"time"

	"github.com/google/uuid"
)

// ChargeStatus is where a charge is.
type ChargeStatus string

// Charge states: pending until a worker takes it, processing while it talks to the gateway, then
// succeeded (captured) or failed (declined, or the token cannot be charged).
const (
	ChargePending    ChargeStatus = "pending"
	ChargeProcessing ChargeStatus = "processing"
	ChargeSucceeded  ChargeStatus = "succeeded"
	ChargeFailed     ChargeStatus = "failed"
)

// Terminal reports whether the charge will not change any more.
func (s ChargeStatus) Terminal() bool { return s == ChargeSucceeded || s == ChargeFailed }

// Charge is what a customer owes for one billing period of a subscription. There is at most one
// per (subscription, period).
type Charge struct {
	ID              uuid.UUID
	CustomerID      uuid.UUID
	PaymentMethodID uuid.UUID
	SubscriptionID  uuid.UUID
	BillingRunID    *uuid.UUID
	PeriodIndex     int
	PeriodStart     time.Time
	PeriodEnd       time.Time
	Amount          Money
	Channel         string // how the gateway is asked to pay: ChannelRecurring for subscriptions
	Status          ChargeStatus
	Failure         *Failure
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Payment channels of merchant-initiated charges, as the gateway names them.
const (
	ChannelRecurring = "RECURRING" // scheduled charges of a subscription
	ChannelMerchant  = "MERCHANT"  // ad-hoc charges
)

// Failure says why a charge or an attempt failed.
type Failure struct {
	Code   string // e.g. token_suspended, card_expired, or the gateway's decline code
	Reason string // for people
}

// Failure codes Recur sets itself; gateway decline codes pass through as the gateway names them.
const (
	FailureTokenNotActive = "token_not_active"
	FailurePurposeMissing = "token_purpose_missing"
	FailureCardExpired    = "card_expired"
	FailureTokenNotFound  = "token_not_found"
	FailureRejected       = "rejected_by_gateway"
	FailurePaymentFailed  = "payment_failed"
)

// AttemptStatus is where one attempt at collecting a charge is.
type AttemptStatus string

// Attempt states.
const (
	AttemptProcessing AttemptStatus = "processing"
	AttemptSucceeded  AttemptStatus = "succeeded"
	AttemptFailed     AttemptStatus = "failed"
)

// Attempt is one try at collecting a charge, with at most one gateway payment.
type Attempt struct {
	ID               uuid.UUID
	ChargeID         uuid.UUID
	Number           int
	OrderNumber      string
	GatewayPaymentID string // empty until the gateway has answered the payment creation
	Status           AttemptStatus
	Failure          *Failure
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Steps            []Step
}

// Step is one gateway call of an attempt. It is recorded before the call is made.
type Step struct {
	Name       string // check_token, create_payment, start_session, get_payment, capture
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
)
