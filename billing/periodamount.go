package billing

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// PeriodKey names one billing period of one subscription.
type PeriodKey struct {
	SubscriptionID uuid.UUID
	Index          int
}

// PeriodAmount is what one upcoming period of a subscription bills instead of the subscription's
// price: a variable amount (metered or usage-based billing), which only a token with the
// STANDING_ORDER purpose may be charged (the caller checks the purpose: it knows the gateway's
// names for them).
type PeriodAmount struct {
	PeriodKey
	Start, End time.Time
	Amount     Money
	UpdatedAt  time.Time
}

// NewPeriodAmount checks that period index of s may bill amount (minor units of the
// subscription's currency) instead of its price, as of now: the subscription is not canceled,
// and the period is not billed yet and starts after now.
func (s Subscription) NewPeriodAmount(index int, amount int64, now time.Time) (PeriodAmount, error) {
	if s.Status == SubscriptionCanceled {
		return PeriodAmount{}, stateError(&s, "billed again")
	}
	if index < s.NextPeriod {
		return PeriodAmount{}, &ValidationError{Field: "index", Reason: fmt.Sprintf("period %d is already billed; the next period to bill is %d", index, s.NextPeriod)}
	}
	if index > s.NextPeriod+MaxIntervalCount {
		return PeriodAmount{}, &ValidationError{Field: "index", Reason: fmt.Sprintf("must be at most %d periods ahead", MaxIntervalCount)}
	}
	start, end := s.Schedule.Period(index)
	if !start.After(now) {
		return PeriodAmount{}, &ValidationError{Field: "index", Reason: fmt.Sprintf("period %d started at %s: only a period that has not started can be given an amount", index, start.Format(time.RFC3339))}
	}
	m := Money{Amount: amount, Currency: s.Price.Currency}
	if err := ValidatePrice(m); err != nil {
		return PeriodAmount{}, err
	}
	return PeriodAmount{PeriodKey: PeriodKey{SubscriptionID: s.ID, Index: index}, Start: start, End: end, Amount: m, UpdatedAt: now}, nil
}
