package billing

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// PriceChange is a new price for a subscription: a plan's or an inline unit price, for a
// quantity. Interval and Count are the plan's cycle (zero for an inline price, which keeps the
// subscription's).
type PriceChange struct {
	PlanID    *uuid.UUID
	UnitPrice Money
	Quantity  int
	Interval  Interval
	Count     int
}

// ChangePrice makes the subscription bill c's unit price x quantity from its next period on: the
// period already billed keeps its charge. A change of currency or billing cycle is refused (the
// periods already billed would not line up with the new cycle), and so is a change while a period
// that has started waits for the scheduler to bill it (a *ConflictError: retry in a moment),
// since that period is the current one and keeps its price.
func (s *Subscription) ChangePrice(c PriceChange, now time.Time) error {
	if s.Status == SubscriptionCanceled {
		return stateError(s, "changed")
	}
	if err := ValidatePrice(c.UnitPrice); err != nil {
		return err
	}
	if c.UnitPrice.Currency != s.Price.Currency {
		field := "currency"
		if c.PlanID != nil {
			field = "plan_id"
		}
		return &ValidationError{Field: field, Reason: fmt.Sprintf("the subscription bills %s: a change of currency needs a new subscription", s.Price.Currency)}
	}
	if c.Interval != "" && (c.Interval != s.Schedule.Interval || c.Count != s.Schedule.Count) {
		return &ValidationError{Field: "plan_id", Reason: fmt.Sprintf("the plan bills every %d %s, the subscription every %d %s: a change of billing cycle needs a new subscription",
			c.Count, c.Interval, s.Schedule.Count, s.Schedule.Interval)}
	}
	price, err := c.UnitPrice.Times(c.Quantity)
	if err != nil {
		return err
	}
	if s.Status.Billable() && !s.NextBillingAt.After(now) {
		return &ConflictError{Reason: "the period that started at " + s.NextBillingAt.Format(time.RFC3339) + " is being billed: retry in a moment"}
	}
	s.PlanID, s.UnitPrice, s.Quantity, s.Price, s.UpdatedAt = c.PlanID, c.UnitPrice, c.Quantity, price, now
	return nil
}
