package billing

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// EventType names something that happened, as the event log and the merchant's webhooks show it.
type EventType string

// Event types. Each is appended in the same transaction as the change it reports.
const (
	EventSubscriptionCreated  EventType = "subscription.created"
	EventSubscriptionRenewed  EventType = "subscription.renewed" // a period after the first was paid
	EventSubscriptionPastDue  EventType = "subscription.past_due"
	EventSubscriptionCanceled EventType = "subscription.canceled"
	EventSubscriptionPaused   EventType = "subscription.paused"
	EventSubscriptionResumed  EventType = "subscription.resumed"

	EventChargeSucceeded   EventType = "charge.succeeded"
	EventChargeFailed      EventType = "charge.failed"
	EventChargeRefunded    EventType = "charge.refunded"
	EventChargeNeedsReview EventType = "charge.needs_review"

	EventRefundNeedsReview EventType = "refund.needs_review" // the gateway may or may not have refunded

	EventPaymentMethodExpiring  EventType = "payment_method.expiring"
	EventPaymentMethodSuspended EventType = "payment_method.suspended"
	EventPaymentMethodUpdated   EventType = "payment_method.updated"
)

// Event is one entry of the append-only event log: what happened to which object, with the
// object's state at that moment in Data (a JSON object). Receivers that need more read the
// object through the API.
type Event struct {
	ID         uuid.UUID
	Type       EventType
	ObjectType string // "subscription", "charge" or "payment_method"
	ObjectID   uuid.UUID
	CustomerID uuid.UUID
	Data       json.RawMessage
	CreatedAt  time.Time
}

// SubscriptionEvent reports what happened to s at now.
func SubscriptionEvent(t EventType, s Subscription, now time.Time) Event {
	return newEvent(t, "subscription", s.ID, s.CustomerID, subscriptionData{
		ID: s.ID, CustomerID: s.CustomerID, PaymentMethodID: s.PaymentMethodID, PlanID: s.PlanID,
		Status: s.Status, Amount: s.Price.Amount, Currency: s.Price.Currency, Quantity: s.Quantity,
		NextPeriod: s.NextPeriod, NextBillingAt: s.NextBillingAt, CancelAt: s.CancelAt,
		CanceledAt: s.CanceledAt, PauseUntil: s.PauseUntil,
	}, now)
}

// ChargeEvent reports what happened to c, whose refunds are refunds, at now.
func ChargeEvent(t EventType, c Charge, refunds []Refund, now time.Time) Event {
	return newEvent(t, "charge", c.ID, c.CustomerID, newChargeData(c, refunds), now)
}

// ChargeRefundEvent reports what happened to refund r of charge c (charge.refunded,
// refund.needs_review): the charge, with its refunds' total, and the refund concerned.
func ChargeRefundEvent(t EventType, c Charge, refunds []Refund, r Refund, now time.Time) Event {
	d := newChargeData(c, refunds)
	d.Refund = &refundData{ID: r.ID, Amount: r.Amount.Amount, Currency: r.Amount.Currency, Status: r.Status,
		GatewayRefundID: r.GatewayRefundID}
	if r.Failure != nil {
		d.Refund.FailureCode, d.Refund.FailureReason = r.Failure.Code, r.Failure.Reason
	}
	return newEvent(t, "charge", c.ID, c.CustomerID, d, now)
}

// AmountRefunded is what the succeeded ones of refunds gave back.
func AmountRefunded(refunds []Refund) int64 {
	var n int64
	for _, r := range refunds {
		if r.Status == RefundSucceeded {
			n += r.Amount.Amount
		}
	}
	return n
}

func newChargeData(c Charge, refunds []Refund) chargeData {
	d := chargeData{
		ID: c.ID, CustomerID: c.CustomerID, SubscriptionID: c.SubscriptionID, PaymentMethodID: c.PaymentMethodID,
		Amount: c.Amount.Amount, Currency: c.Amount.Currency, Status: c.Status, Description: c.Description,
		AmountRefunded: AmountRefunded(refunds),
	}
	if !c.AdHoc() {
		d.PeriodIndex, d.PeriodStart, d.PeriodEnd = &c.PeriodIndex, &c.PeriodStart, &c.PeriodEnd
	}
	if c.Failure != nil {
		d.FailureCode, d.FailureReason = c.Failure.Code, c.Failure.Reason
	}
	d.NextRetryAt, d.RetryReason = c.NextRetryAt, c.RetryReason
	return d
}

// PaymentMethodEvent reports what happened to pm at now.
func PaymentMethodEvent(t EventType, pm PaymentMethod, now time.Time) Event {
	return newEvent(t, "payment_method", pm.ID, pm.CustomerID, paymentMethodData{
		ID: pm.ID, CustomerID: pm.CustomerID, Brand: pm.Brand, Last4: pm.Last4,
		ExpMonth: pm.ExpMonth, ExpYear: pm.ExpYear, Purposes: pm.Purposes,
	}, now)
}

func newEvent(t EventType, objectType string, objectID, customerID uuid.UUID, data any, now time.Time) Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic("billing: event data does not marshal: " + err.Error()) // only plain fields above
	}
	return Event{ID: NewID(), Type: t, ObjectType: objectType, ObjectID: objectID, CustomerID: customerID,
		Data: b, CreatedAt: now.UTC()}
}

type subscriptionData struct {
	ID              uuid.UUID          `json:"id"`
	CustomerID      uuid.UUID          `json:"customer_id"`
	PaymentMethodID uuid.UUID          `json:"payment_method_id"`
	PlanID          *uuid.UUID         `json:"plan_id"`
	Status          SubscriptionStatus `json:"status"`
	Amount          int64              `json:"amount"`
	Currency        string             `json:"currency"`
	Quantity        int                `json:"quantity"`
	NextPeriod      int                `json:"next_period"`
	NextBillingAt   time.Time          `json:"next_billing_at"`
	CancelAt        *time.Time         `json:"cancel_at"`
	CanceledAt      *time.Time         `json:"canceled_at"`
	PauseUntil      *time.Time         `json:"pause_until"`
}

type chargeData struct {
	ID              uuid.UUID    `json:"id"`
	CustomerID      uuid.UUID    `json:"customer_id"`
	SubscriptionID  *uuid.UUID   `json:"subscription_id"`
	PaymentMethodID uuid.UUID    `json:"payment_method_id"`
	PeriodIndex     *int         `json:"period_index"`
	PeriodStart     *time.Time   `json:"period_start"`
	PeriodEnd       *time.Time   `json:"period_end"`
	Amount          int64        `json:"amount"`
	Currency        string       `json:"currency"`
	Status          ChargeStatus `json:"status"`
	Description     string       `json:"description,omitempty"`
	FailureCode     string       `json:"failure_code,omitempty"`
	FailureReason   string       `json:"failure_reason,omitempty"`
	NextRetryAt     *time.Time   `json:"next_retry_at"`
	RetryReason     string       `json:"retry_reason,omitempty"`
	AmountRefunded  int64        `json:"amount_refunded"` // by succeeded refunds
	Refund          *refundData  `json:"refund,omitempty"`
}

type refundData struct {
	ID              uuid.UUID    `json:"id"`
	Amount          int64        `json:"amount"`
	Currency        string       `json:"currency"`
	Status          RefundStatus `json:"status"`
	GatewayRefundID string       `json:"gateway_refund_id,omitempty"`
	FailureCode     string       `json:"failure_code,omitempty"`
	FailureReason   string       `json:"failure_reason,omitempty"`
}

type paymentMethodData struct {
	ID         uuid.UUID `json:"id"`
	CustomerID uuid.UUID `json:"customer_id"`
	Brand      string    `json:"brand"`
	Last4      string    `json:"last4"`
	ExpMonth   int       `json:"exp_month"`
	ExpYear    int       `json:"exp_year"`
	Purposes   []string  `json:"purposes"`
}
