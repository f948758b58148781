// Package billing holds Recur's domain: money, billing periods, customers, payment methods,
// subscriptions, charges and billing runs, their states and the errors they fail with. It has no
// I/O: the store persists these types and the jobs drive them through the gateway.
package billing

import (
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new time-ordered id for any Recur record.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Customer is a merchant's customer.
type Customer struct {
	ID         uuid.UUID
	ExternalID string // the merchant's own id
	Email      string
	Name       string
	CreatedAt  time.Time
	// TestClockID is the sandbox test clock (FrozenClock) the customer lives on, fixed when it is
	// created; nil: the instance's clock.
	TestClockID *uuid.UUID
}

// Validate checks a new customer's fields.
func (c Customer) Validate() error {
	if strings.TrimSpace(c.ExternalID) == "" || len(c.ExternalID) > 255 {
		return &ValidationError{Field: "external_id", Reason: "is required, at most 255 characters"}
	}
	if addr, err := mail.ParseAddress(c.Email); err != nil || addr.Address != c.Email || len(c.Email) > 255 {
		return &ValidationError{Field: "email", Reason: "must be an email address like name@example.com"}
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 255 {
		return &ValidationError{Field: "name", Reason: "is required, at most 255 characters"}
	}
	return nil
}

// PaymentMethod is a customer's stored payment token at the gateway: a reference and the card's
// non-sensitive details, never card data.
type PaymentMethod struct {
	ID             uuid.UUID
	CustomerID     uuid.UUID
	GatewayTokenID string
	Brand          string
	Last4          string
	ExpMonth       int
	ExpYear        int
	Purposes       []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// RemovedAt, once set, is when the merchant removed it: it is no longer attached nor charged,
	// and its token is deactivated at the gateway (TokenDeactivatedAt, once confirmed).
	RemovedAt          *time.Time
	TokenDeactivatedAt *time.Time
}

// SubscriptionStatus is where a subscription is in its life.
type SubscriptionStatus string

// Subscription states.
const (
	SubscriptionActive   SubscriptionStatus = "active"
	SubscriptionCanceled SubscriptionStatus = "canceled"
)

// Subscription bills a customer's payment method a fixed price every period, in advance: period n
// is charged when it starts.
type Subscription struct {
	ID              uuid.UUID
	CustomerID      uuid.UUID
	PaymentMethodID uuid.UUID
	PlanID          *uuid.UUID // the plan it was made from, if any; its terms were copied
	UnitPrice       Money      // per unit and period
	Quantity        int
	Price           Money // UnitPrice x Quantity: what one period is billed
	Schedule        Schedule
	Status          SubscriptionStatus
	// TrialEnd, when set, is the end of a free trial: the first period (the Schedule's anchor)
	// starts there, so nothing is billed before it.
	TrialEnd *time.Time
	// CancelAt, when set, is a pending cancel at the end of the current period.
	CancelAt   *time.Time
	CanceledAt *time.Time
	// PauseUntil, when set on a paused subscription, is when billing resumes by itself.
	PauseUntil *time.Time
	// NextPeriod is the first period not yet billed; NextBillingAt is its start.
	NextPeriod    int
	NextBillingAt time.Time
	// PeriodPrice is what the newest billed period (NextPeriod - 1) was billed at before any
	// credit (its price or variable amount), or the price of an immediate change made in it: the
	// price that ChangePriceNow credits the unused time at. Zero before the first period.
	PeriodPrice Money
	// Credit is what the subscription holds to its customer's good (from immediate changes to a
	// lower price), in its currency, never negative: later period charges use it (ApplyCredit).
	// It is never paid out automatically.
	Credit    Money
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CurrentPeriod returns the period most recently billed, if any.
func (s Subscription) CurrentPeriod() (start, end time.Time, ok bool) {
	if s.NextPeriod == 0 {
		return time.Time{}, time.Time{}, false
	}
	start, end = s.Schedule.Period(s.NextPeriod - 1)
	return start, end, true
}

// ValidatePrice checks a subscription price: a positive amount of minor units in a known currency.
func ValidatePrice(m Money) error {
	if _, err := CurrencyDigits(m.Currency); err != nil {
		return &ValidationError{Field: "currency", Reason: err.Error()}
	}
	if m.Amount <= 0 {
		return &ValidationError{Field: "amount", Reason: "must be a positive integer of minor units (1050 is 10.50 EUR)"}
	}
	return nil
}

// BillingRun is one pass of the scheduler: what it found due as of a time and what it created.
type BillingRun struct {
	ID               uuid.UUID
	AsOf             time.Time
	StartedAt        time.Time
	FinishedAt       *time.Time
	SubscriptionsDue int
	ChargesCreated   int
}

// BillNextPeriod makes the charge for the subscription's next period, for run, and moves the
// subscription on to the period after.
func (s *Subscription) BillNextPeriod(run uuid.UUID, now time.Time) Charge {
	start, end := s.Schedule.Period(s.NextPeriod)
	sub := s.ID
	c := Charge{
		ID: NewID(), CustomerID: s.CustomerID, PaymentMethodID: s.PaymentMethodID, SubscriptionID: &sub,
		Kind: ChargePeriod, BillingRunID: &run, PeriodIndex: s.NextPeriod, PeriodStart: start, PeriodEnd: end, Amount: s.Price,
		Channel: ChannelRecurring, Status: ChargePending, CreatedAt: now, UpdatedAt: now,
	}
	s.NextPeriod++
	s.NextBillingAt, s.PeriodPrice = end, s.Price
	return c
}
