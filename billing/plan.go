package billing

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Plan is a catalog price: what a subscription made from it charges per unit, how often, and how
// long its free trial lasts. A subscription copies the plan's terms when it is made, so a plan
// never changes what existing subscriptions are billed.
type Plan struct {
	ID        uuid.UUID
	Name      string
	Price     Money // per unit and period
	Interval  Interval
	Count     int // interval_count
	TrialDays int
	Active    bool // only active plans take new subscriptions
	CreatedAt time.Time
}

// Limits of a plan's and a subscription's terms.
const (
	MaxTrialDays = 730
	MaxQuantity  = 1_000_000
)

// Validate checks a new plan's fields.
func (p Plan) Validate() error {
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 255 {
		return &ValidationError{Field: "name", Reason: "is required, at most 255 characters"}
	}
	if err := ValidatePrice(p.Price); err != nil {
		return err
	}
	if err := (Schedule{Interval: p.Interval, Count: p.Count}).Validate(); err != nil {
		return err
	}
	return ValidateTrialDays(p.TrialDays)
}

// ValidateTrialDays checks a trial length in days: 0 (no trial) to MaxTrialDays.
func ValidateTrialDays(days int) error {
	if days < 0 || days > MaxTrialDays {
		return &ValidationError{Field: "trial_days", Reason: fmt.Sprintf("must be between 0 and %d", MaxTrialDays)}
	}
	return nil
}

// Times returns the price of quantity units, exactly in minor units. A quantity outside 1 to
// MaxQuantity, or a product that does not fit in an int64, is a *ValidationError: a price is never
// wrapped around or rounded.
func (m Money) Times(quantity int) (Money, error) {
	if quantity < 1 || quantity > MaxQuantity {
		return Money{}, &ValidationError{Field: "quantity", Reason: fmt.Sprintf("must be between 1 and %d", MaxQuantity)}
	}
	if m.Amount > math.MaxInt64/int64(quantity) || m.Amount < math.MinInt64/int64(quantity) {
		return Money{}, &ValidationError{Field: "quantity", Reason: fmt.Sprintf("%d x %d minor units is too large an amount", quantity, m.Amount)}
	}
	return Money{Amount: m.Amount * int64(quantity), Currency: m.Currency}, nil
}

// SubscriptionTerms are what a new subscription is made of: a unit price, a quantity, a billing
// cycle and a trial, taken from a plan or given inline.
type SubscriptionTerms struct {
	CustomerID      uuid.UUID
	PaymentMethodID uuid.UUID
	PlanID          *uuid.UUID
	UnitPrice       Money
	Quantity        int
	Interval        Interval
	Count           int
	TrialDays       int
	// Location is the time zone of the billing day (nil is UTC); see Schedule.
	Location *time.Location
}

// NewSubscription checks terms and returns a new subscription made at now. Without a trial it is
// active and its first period starts at now; with one it is trialing, and its first period starts
// (and is billed) when the trial ends, at the same local time of day in the subscription's zone.
func NewSubscription(t SubscriptionTerms, now time.Time) (Subscription, error) {
	sched := Schedule{Anchor: now, Interval: t.Interval, Count: t.Count, Location: t.Location}
	if err := firstError(ValidatePrice(t.UnitPrice), sched.Validate(), ValidateTrialDays(t.TrialDays)); err != nil {
		return Subscription{}, err
	}
	price, err := t.UnitPrice.Times(t.Quantity)
	if err != nil {
		return Subscription{}, err
	}
	s := Subscription{
		ID: NewID(), CustomerID: t.CustomerID, PaymentMethodID: t.PaymentMethodID, PlanID: t.PlanID,
		UnitPrice: t.UnitPrice, Quantity: t.Quantity, Price: price, Schedule: sched, Status: SubscriptionActive,
		CreatedAt: now, UpdatedAt: now,
	}
	if t.TrialDays > 0 {
		end := Schedule{Anchor: now, Interval: Day, Count: t.TrialDays, Location: t.Location}.PeriodStart(1)
		s.TrialEnd, s.Schedule.Anchor, s.Status = &end, end, SubscriptionTrialing
	}
	s.NextBillingAt = s.Schedule.PeriodStart(0)
	return s, nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
