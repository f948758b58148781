package billing

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Subscription states besides active and canceled. See docs/subscription-states.md for the
// diagram.
const (
	// SubscriptionTrialing: in a free trial; its first period starts (and is billed) when the
	// trial ends, and it becomes active then.
	SubscriptionTrialing SubscriptionStatus = "trialing"
	// SubscriptionPastDue: the charge of its latest period failed; it is still billed.
	SubscriptionPastDue SubscriptionStatus = "past_due"
	// SubscriptionUnpaid: the charges of two periods in a row failed; it is not billed until it is
	// resumed.
	SubscriptionUnpaid SubscriptionStatus = "unpaid"
	// SubscriptionPaused: not billed until it is resumed (by request, or at its PauseUntil).
	SubscriptionPaused SubscriptionStatus = "paused"
)

// transitions lists every change of state that may happen, from each state. Canceled is final.
var transitions = map[SubscriptionStatus][]SubscriptionStatus{
	SubscriptionTrialing: {SubscriptionActive, SubscriptionCanceled},
	SubscriptionActive:   {SubscriptionPastDue, SubscriptionPaused, SubscriptionCanceled},
	SubscriptionPastDue:  {SubscriptionActive, SubscriptionUnpaid, SubscriptionPaused, SubscriptionCanceled},
	SubscriptionUnpaid:   {SubscriptionActive, SubscriptionCanceled},
	SubscriptionPaused:   {SubscriptionActive, SubscriptionCanceled},
	SubscriptionCanceled: nil,
}

// CanBecome reports whether a subscription in state s may move to state to.
func (s SubscriptionStatus) CanBecome(to SubscriptionStatus) bool {
	return slices.Contains(transitions[s], to)
}

// Billable reports whether the scheduler bills a subscription in state s when a period starts.
func (s SubscriptionStatus) Billable() bool {
	return s == SubscriptionTrialing || s == SubscriptionActive || s == SubscriptionPastDue
}

// SubscriptionStatuses are all the states, in the order of the diagram.
var SubscriptionStatuses = []SubscriptionStatus{SubscriptionTrialing, SubscriptionActive, SubscriptionPastDue,
	SubscriptionUnpaid, SubscriptionPaused, SubscriptionCanceled}

// stateError is a *ConflictError for an operation that the subscription's state does not allow.
func stateError(s *Subscription, op string) error {
	return &ConflictError{Reason: fmt.Sprintf("a %s subscription cannot be %s", s.Status, op)}
}

func (s *Subscription) become(to SubscriptionStatus, op string, now time.Time) error {
	if !s.Status.CanBecome(to) {
		return stateError(s, op)
	}
	s.Status, s.UpdatedAt = to, now
	return nil
}

// Cancel ends the subscription now: nothing more is billed. Canceling a canceled subscription
// changes nothing.
func (s *Subscription) Cancel(now time.Time) error {
	if s.Status == SubscriptionCanceled {
		return nil
	}
	if err := s.become(SubscriptionCanceled, "canceled", now); err != nil {
		return err
	}
	s.CanceledAt, s.CancelAt, s.PauseUntil = &now, nil, nil
	return nil
}

// CancelAtPeriodEnd makes the subscription end when its current period ends (a trialing one when
// its trial ends): that period is not billed, and the subscription is canceled then.
func (s *Subscription) CancelAtPeriodEnd(now time.Time) error {
	if !s.Status.CanBecome(SubscriptionCanceled) {
		return stateError(s, "canceled")
	}
	at := s.NextBillingAt
	s.CancelAt, s.UpdatedAt = &at, now
	return nil
}

// UndoCancel withdraws a pending cancel at period end.
func (s *Subscription) UndoCancel(now time.Time) error {
	if s.CancelAt == nil || s.Status == SubscriptionCanceled {
		return &ConflictError{Reason: "the subscription has no pending cancel"}
	}
	s.CancelAt, s.UpdatedAt = nil, now
	return nil
}

// Pause stops billing until Resume, or until the given time when until is set. Periods that start
// while it is paused are never billed; the billing cycle is kept.
func (s *Subscription) Pause(until *time.Time, now time.Time) error {
	if until != nil && !until.After(now) {
		return &ValidationError{Field: "until", Reason: "must be in the future"}
	}
	if err := s.become(SubscriptionPaused, "paused", now); err != nil {
		return err
	}
	s.PauseUntil = until
	return nil
}

// Resume bills a paused or unpaid subscription again, from the first period that starts at or
// after at: the periods that started while it was not billed are skipped, never billed late.
func (s *Subscription) Resume(at, now time.Time) error {
	if s.Status != SubscriptionPaused && s.Status != SubscriptionUnpaid {
		return stateError(s, "resumed")
	}
	if err := s.become(SubscriptionActive, "resumed", now); err != nil {
		return err
	}
	for s.NextBillingAt.Before(at) {
		s.NextPeriod++
		s.NextBillingAt = s.Schedule.PeriodStart(s.NextPeriod)
	}
	s.PauseUntil = nil
	return nil
}

// SetPaymentMethod makes the subscription bill another of its customer's payment methods from its
// next charge on.
func (s *Subscription) SetPaymentMethod(pm PaymentMethod, now time.Time) error {
	if s.Status == SubscriptionCanceled {
		return stateError(s, "changed")
	}
	if pm.CustomerID != s.CustomerID {
		return &ValidationError{Field: "payment_method_id", Reason: "belongs to another customer"}
	}
	s.PaymentMethodID, s.UpdatedAt = pm.ID, now
	return nil
}

// Renew is what the scheduler does with a subscription whose next period has started: it ends
// the subscription if a cancel is pending for then (and returns false), or makes the period's
// charge for run, moves the subscription on to the period after and returns true. A trialing
// subscription becomes active with its first charge.
func (s *Subscription) Renew(run uuid.UUID, now time.Time) (Charge, bool) {
	if s.CancelAt != nil && !s.CancelAt.After(s.NextBillingAt) {
		at := *s.CancelAt
		s.Status, s.CanceledAt, s.CancelAt, s.UpdatedAt = SubscriptionCanceled, &at, nil, now
		return Charge{}, false
	}
	if s.Status == SubscriptionTrialing {
		s.Status = SubscriptionActive
	}
	return s.BillNextPeriod(run, now), true
}

// AfterCharge is the state a subscription moves to when the charge of its latest period ends
// with outcome; end is the dunning policy's end when the charge's dunning is over, else empty.
// A charge that goes retrying makes an active subscription past due. A failed one makes it past
// due, and a past-due one unpaid (two periods in a row failed); at the end of dunning it is
// canceled or unpaid, as end says. A success makes a past-due or unpaid one active again. Other
// outcomes change nothing.
func AfterCharge(from SubscriptionStatus, outcome ChargeStatus, end DunningEnd) SubscriptionStatus {
	switch {
	case from == SubscriptionCanceled:
		return from
	case outcome == ChargeFailed && end == DunningCancel:
		return SubscriptionCanceled
	case outcome == ChargeFailed && end == DunningUnpaid && from == SubscriptionPastDue:
		return SubscriptionUnpaid
	case (outcome == ChargeFailed || outcome == ChargeRetrying) && from == SubscriptionActive:
		return SubscriptionPastDue
	case outcome == ChargeFailed && from == SubscriptionPastDue:
		return SubscriptionUnpaid
	case outcome == ChargeSucceeded && (from == SubscriptionPastDue || from == SubscriptionUnpaid):
		return SubscriptionActive
	}
	return from
}

// SettleCharge moves the subscription on when c, one of its charges, ends with c.Status (see
// AfterCharge), and reports whether its state changed. Only the latest period's charge moves it.
// A subscription canceled by dunning is canceled at now; an unpaid one that is paid is billed
// again from the first period that starts at or after now (the periods that started while it
// was unpaid are not billed late).
func (s *Subscription) SettleCharge(c Charge, end DunningEnd, now time.Time) bool {
	if c.SubscriptionID == nil || *c.SubscriptionID != s.ID || s.NextPeriod != c.PeriodIndex+1 {
		return false
	}
	to := AfterCharge(s.Status, c.Status, end)
	switch {
	case to == s.Status:
		return false
	case to == SubscriptionCanceled:
		s.Status, s.CanceledAt, s.CancelAt, s.PauseUntil, s.UpdatedAt = to, &now, nil, nil, now
	case s.Status == SubscriptionUnpaid:
		return s.Resume(now, now) == nil
	default:
		s.Status, s.UpdatedAt = to, now
	}
	return true
}
