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
	// SubscriptionPastDue: it owes a charge that failed or is retrying (see Charge.Outstanding);
	// it is still billed.
	SubscriptionPastDue SubscriptionStatus = "past_due"
	// SubscriptionUnpaid: it owes failed charges of two periods, or dunning ended with the unpaid
	// action; it is not billed until it is paid or resumed.
	SubscriptionUnpaid SubscriptionStatus = "unpaid"
	// SubscriptionPaused: not billed until it is resumed (by request, or at its PauseUntil).
	SubscriptionPaused SubscriptionStatus = "paused"
)

// transitions lists every change of state that may happen, from each state. Canceled is final.
var transitions = map[SubscriptionStatus][]SubscriptionStatus{
	SubscriptionTrialing: {SubscriptionActive, SubscriptionCanceled},
	SubscriptionActive:   {SubscriptionPastDue, SubscriptionPaused, SubscriptionCanceled},
	SubscriptionPastDue:  {SubscriptionActive, SubscriptionUnpaid, SubscriptionPaused, SubscriptionCanceled},
	SubscriptionUnpaid:   {SubscriptionActive, SubscriptionPastDue, SubscriptionCanceled},
	SubscriptionPaused:   {SubscriptionActive, SubscriptionPastDue, SubscriptionCanceled},
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
// after at: the periods that started while it was not billed are skipped, never billed late. It
// is active again when it owes nothing (owed: Subscription.Owed), else past due.
func (s *Subscription) Resume(at, now time.Time, owed []Charge) error {
	if s.Status != SubscriptionPaused && s.Status != SubscriptionUnpaid {
		return stateError(s, "resumed")
	}
	to := SubscriptionActive
	if len(owed) > 0 {
		to = SubscriptionPastDue
	}
	if err := s.become(to, "resumed", now); err != nil {
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
	if err := pm.Attachable(); err != nil {
		return err
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

// AfterCharge is the state a subscription moves to when one of its charges ends with outcome;
// end is the dunning policy's end when that charge's dunning is over, else empty, and owed is
// what the subscription owes afterwards (Subscription.Owed, the charge included while it is
// outstanding). A charge that fails or goes retrying makes an active subscription past due; a
// failed one makes a past-due one unpaid when the end of dunning says so or when charges of two
// periods are owed, and cancels it when the end of dunning says so. A success, or a charge
// voided, makes a past-due or unpaid subscription active only when it owes nothing more. Other
// outcomes change nothing.
func AfterCharge(from SubscriptionStatus, outcome ChargeStatus, end DunningEnd, owed []Charge) SubscriptionStatus {
	switch {
	case from == SubscriptionCanceled:
		return from
	case outcome == ChargeFailed && end == DunningCancel:
		return SubscriptionCanceled
	case outcome == ChargeFailed && (end == DunningUnpaid || periodsOwed(owed) > 1) && from.CanBecome(SubscriptionUnpaid):
		return SubscriptionUnpaid
	case (outcome == ChargeFailed || outcome == ChargeRetrying) && from == SubscriptionActive:
		return SubscriptionPastDue
	case (outcome == ChargeSucceeded || outcome == ChargeCanceled) && len(owed) == 0 &&
		(from == SubscriptionPastDue || from == SubscriptionUnpaid):
		return SubscriptionActive
	}
	return from
}

// SettleCharge moves the subscription on when c, one of its charges, ends with c.Status (see
// AfterCharge), given what it owes then (Subscription.Owed), and reports whether its state
// changed. A charge of any period moves it, an older one's late outcome too: the state says
// whether anything is owed. A subscription canceled by dunning is canceled at now; an unpaid one
// that owes nothing more is billed again from the first period that starts at or after now (the
// periods that started while it was unpaid are not billed late).
func (s *Subscription) SettleCharge(c Charge, owed []Charge, end DunningEnd, now time.Time) bool {
	if c.SubscriptionID == nil || *c.SubscriptionID != s.ID {
		return false
	}
	to := AfterCharge(s.Status, c.Status, end, owed)
	switch {
	case to == s.Status:
		return false
	case to == SubscriptionCanceled:
		s.Status, s.CanceledAt, s.CancelAt, s.PauseUntil, s.UpdatedAt = to, &now, nil, nil, now
	case s.Status == SubscriptionUnpaid && to == SubscriptionActive:
		return s.Resume(now, now, nil) == nil
	default:
		s.Status, s.UpdatedAt = to, now
	}
	return true
}
