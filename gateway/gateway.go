// Package gateway is the provider-neutral view of a payment gateway that charges stored tokens:
// the operations Recur needs, their types and the classes of error they fail with. Each provider
// (EGW today; Worldline or Adyen could follow) is an adapter in its own package.
package gateway

import (
	"context"
	"time"

	"github.com/recur-billing/recur/billing"
)

// Gateway charges stored payment tokens with merchant-initiated payments, and sets tokens up
// through a customer-initiated payment in its hosted checkout.
//
// Every call sends one request to the provider. A call that changes state at the gateway and fails
// with an error of class UnknownOutcome may or may not have taken effect: read the payment before
// acting again. Implementations are safe for concurrent use.
type Gateway interface {
	// GetToken reads a stored token's status, purposes and card details.
	GetToken(ctx context.Context, tokenID string) (Token, error)
	// CreateMITPayment creates a merchant-initiated payment. It moves no money by itself: the
	// payment is INITIALIZED until a token session is started on it.
	CreateMITPayment(ctx context.Context, req MITPaymentRequest) (Payment, error)
	// StartTokenSession pays the payment with the stored token. This is the call that authorizes.
	StartTokenSession(ctx context.Context, paymentID, tokenID string) (Session, error)
	// GetPayment reads a payment's current state.
	GetPayment(ctx context.Context, paymentID string) (Payment, error)
	// Capture captures an AUTHORIZED payment for the given amount.
	Capture(ctx context.Context, paymentID string, amount billing.Money) (Payment, error)
	// Cancel releases an INITIALIZED or AUTHORIZED payment.
	Cancel(ctx context.Context, paymentID string) (Payment, error)
	// Refund gives amount of a CAPTURED payment back to the card; several refunds may add up to
	// the captured amount, and a payment refunded in full becomes REFUNDED. A refund of a payment
	// not yet captured cancels it instead. An UnknownOutcome error may have refunded: the gateway
	// has no documented way to read a refund back, nor to send one again safely.
	Refund(ctx context.Context, paymentID string, amount billing.Money) (Refund, error)
	// CreateCITPayment creates a customer-initiated payment that the customer completes in the
	// gateway's hosted checkout (Payment.CheckoutURL); with SetupPurposes, completing it stores
	// the card as a token (Payment.TokenID once the payment is read back).
	CreateCITPayment(ctx context.Context, req CITPaymentRequest) (Payment, error)
	// DeactivateToken suspends a stored token for good and returns its new status. Deactivating
	// a token that is already suspended succeeds again.
	DeactivateToken(ctx context.Context, tokenID string) (TokenStatus, error)
}

// Purpose is what a stored token may be used for.
type Purpose string

// Token purposes, as EGW names them.
const (
	PurposeCIT           Purpose = "CIT"            // customer present
	PurposeUnscheduled   Purpose = "UNSCHEDULED"    // ad-hoc merchant charges, channel MERCHANT
	PurposeSubscription  Purpose = "SUBSCRIPTION"   // fixed amount, fixed frequency, channel RECURRING
	PurposeStandingOrder Purpose = "STANDING_ORDER" // variable amount, fixed frequency, channel RECURRING
)

// TokenStatus is a stored token's state at the gateway.
type TokenStatus string

// Token states.
const (
	TokenActive    TokenStatus = "ACTIVE"
	TokenSuspended TokenStatus = "SUSPENDED"
)

// Token is what the gateway tells about a stored token; it never holds card numbers.
type Token struct {
	ID       string
	Status   TokenStatus
	Purposes []Purpose
	// Brand is the card scheme ("VISA", "MASTERCARD") when the gateway tells it; EGW's token
	// information does not, so it may be empty until a payment with the token shows it.
	Brand          string
	Last4          string
	CardholderName string
	ExpiryMonth    int // 1..12
	ExpiryYear     int // four digits
}

// HasPurpose reports whether the token may be used for p.
func (t Token) HasPurpose(p Purpose) bool {
	for _, q := range t.Purposes {
		if q == p {
			return true
		}
	}
	return false
}

// Expired reports whether the card has expired at time now: a card is valid through the last day
// of its expiry month.
func (t Token) Expired(now time.Time) bool {
	if t.ExpiryYear == 0 {
		return false
	}
	firstInvalid := time.Date(t.ExpiryYear, time.Month(t.ExpiryMonth)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.Before(firstInvalid)
}

// Channel is how a merchant-initiated payment is made.
type Channel string

// MIT channels.
const (
	ChannelRecurring Channel = "RECURRING" // scheduled: SUBSCRIPTION or STANDING_ORDER tokens
	ChannelMerchant  Channel = "MERCHANT"  // ad hoc: UNSCHEDULED tokens
	// ChannelBrowser is a customer-initiated payment in the gateway's hosted checkout.
	ChannelBrowser Channel = "BROWSER"
)

// MITPaymentRequest describes a merchant-initiated payment to create.
type MITPaymentRequest struct {
	Channel Channel
	Amount  billing.Money
	// OrderNumber is the merchant's order number, unique per payment attempt
	// (letters, digits and /-?:().,'+ only).
	OrderNumber string
	// MerchantReference is free text shown to the merchant at the gateway.
	MerchantReference string
}

// CITPaymentRequest describes a customer-initiated payment through the hosted checkout.
type CITPaymentRequest struct {
	// Amount may be zero: an account verification that only sets a token up.
	Amount            billing.Money
	OrderNumber       string // as in MITPaymentRequest
	MerchantReference string
	// SetupPurposes, when not empty, make the checkout store the card as a token with them.
	SetupPurposes []Purpose
	// ReturnURL is where the gateway sends the customer back after the checkout.
	ReturnURL string
}

// PaymentStatus is a payment's state at the gateway.
type PaymentStatus string

// Payment states, as EGW names them.
const (
	PaymentInitialized       PaymentStatus = "INITIALIZED"
	PaymentSentForProcessing PaymentStatus = "SENT_FOR_PROCESSING"
	PaymentAbandoned         PaymentStatus = "ABANDONED"
	PaymentAuthorized        PaymentStatus = "AUTHORIZED"
	PaymentCaptured          PaymentStatus = "CAPTURED"
	PaymentCancelled         PaymentStatus = "CANCELLED"
	PaymentSettled           PaymentStatus = "SETTLED"
	PaymentFailed            PaymentStatus = "FAILED"
	PaymentRefunded          PaymentStatus = "REFUNDED"
)

// Payment is a payment's state at the gateway.
type Payment struct {
	ID      string
	Status  PaymentStatus
	Channel Channel
	Amount  billing.Money
	// TokenID is the token that paid it, once a token session has been started.
	TokenID string
	// Brand and Last4 describe the card, once known.
	Brand string
	Last4 string
	// CheckoutURL is the hosted checkout page of a new customer-initiated payment.
	CheckoutURL string
}

// Succeeded reports whether the payment went through: authorized, captured or later.
func (p Payment) Succeeded() bool {
	switch p.Status {
	case PaymentAuthorized, PaymentCaptured, PaymentSettled, PaymentRefunded:
		return true
	}
	return false
}

// Final reports whether the customer can no longer complete the payment: it succeeded, failed,
// was abandoned or cancelled.
func (p Payment) Final() bool {
	return p.Succeeded() || p.Status == PaymentFailed || p.Status == PaymentAbandoned || p.Status == PaymentCancelled
}

// RefundStatus is what the gateway says of a refund. EGW does not document its values.
type RefundStatus string

// Refund is the gateway's answer to a refund.
type Refund struct {
	ID        string
	PaymentID string
	Status    RefundStatus
}

// SessionStatus is the state of a token checkout session.
type SessionStatus string

// Session states that matter to MIT payments; EGW has more for customer-present flows.
const (
	SessionInitialized       SessionStatus = "INITIALIZED"
	SessionSentForProcessing SessionStatus = "SENT_FOR_PROCESSING"
	SessionCompleted         SessionStatus = "COMPLETED"
	SessionFailed            SessionStatus = "FAILED"
)

// Session is the answer to starting a token session.
type Session struct {
	ID     string
	Status SessionStatus
}
