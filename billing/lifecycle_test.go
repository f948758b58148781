package billing

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

var t0 = time.Date(2026, time.January, 31, 9, 0, 0, 0, time.UTC)

func monthly(status SubscriptionStatus) Subscription {
	return Subscription{ID: NewID(), Price: Money{Amount: 1000, Currency: "EUR"}, Status: status,
		Schedule: Schedule{Anchor: t0, Interval: Month, Count: 1}, NextPeriod: 1, NextBillingAt: t0.AddDate(0, 0, 28)}
}

// TestEveryOperationFromEveryState runs each lifecycle operation on a subscription in each state:
// it succeeds exactly when the state machine allows the change, and a refusal is a conflict that
// leaves the subscription as it was.
func TestEveryOperationFromEveryState(t *testing.T) {
	t.Parallel()
	until := t0.AddDate(0, 2, 0)
	ops := map[string]struct {
		to SubscriptionStatus // the state the operation moves to; "" when it keeps the state
		do func(*Subscription) error
	}{
		"cancel":        {SubscriptionCanceled, func(s *Subscription) error { return s.Cancel(t0) }},
		"cancel at end": {"", func(s *Subscription) error { return s.CancelAtPeriodEnd(t0) }},
		"pause":         {SubscriptionPaused, func(s *Subscription) error { return s.Pause(&until, t0) }},
		"resume":        {SubscriptionActive, func(s *Subscription) error { return s.Resume(t0, t0, nil) }},
	}
	for _, from := range SubscriptionStatuses {
		for name, op := range ops {
			s := monthly(from)
			before := s
			err := op.do(&s)
			allowed := from.CanBecome(op.to)
			switch {
			case name == "cancel" && from == SubscriptionCanceled:
				allowed = true // canceling again changes nothing
			case name == "cancel at end":
				allowed = from.CanBecome(SubscriptionCanceled)
			case name == "resume":
				allowed = from == SubscriptionPaused || from == SubscriptionUnpaid
			}
			if allowed && err != nil {
				t.Errorf("%s from %s: %v", name, from, err)
			}
			if !allowed {
				if !errors.Is(err, ErrConflict) {
					t.Errorf("%s from %s: want a conflict, got %v", name, from, err)
				}
				if s.Status != before.Status || s.UpdatedAt != before.UpdatedAt {
					t.Errorf("%s from %s: a refused operation changed the subscription", name, from)
				}
				continue
			}
			if op.to != "" && s.Status != op.to {
				t.Errorf("%s from %s: status %s, want %s", name, from, s.Status, op.to)
			}
		}
	}
}

func TestCancelAtPeriodEndAndUndo(t *testing.T) {
	t.Parallel()
	s := monthly(SubscriptionActive)
	if err := s.UndoCancel(t0); !errors.Is(err, ErrConflict) {
		t.Fatalf("undo without a pending cancel: %v", err)
	}
	if err := s.CancelAtPeriodEnd(t0); err != nil {
		t.Fatal(err)
	}
	if !s.CancelAt.Equal(s.NextBillingAt) || s.Status != SubscriptionActive {
		t.Fatalf("cancel pending at the period's end: %+v", s)
	}
	if err := s.UndoCancel(t0); err != nil || s.CancelAt != nil {
		t.Fatalf("undo: %v %+v", err, s)
	}
	if err := s.CancelAtPeriodEnd(t0); err != nil {
		t.Fatal(err)
	}
	end := s.NextBillingAt
	if _, billed := s.Renew(uuid.New(), end); billed {
		t.Fatal("the period after a cancel at period end is not billed")
	}
	if s.Status != SubscriptionCanceled || !s.CanceledAt.Equal(end) || s.CancelAt != nil {
		t.Fatalf("ended at the period's end: %+v", s)
	}
}

func TestRenewEndsTrial(t *testing.T) {
	t.Parallel()
	s, err := NewSubscription(SubscriptionTerms{UnitPrice: Money{Amount: 500, Currency: "EUR"}, Quantity: 1,
		Interval: Month, Count: 1, TrialDays: 7}, t0)
	if err != nil || s.Status != SubscriptionTrialing {
		t.Fatalf("%v %+v", err, s)
	}
	c, billed := s.Renew(uuid.New(), s.NextBillingAt)
	if !billed || s.Status != SubscriptionActive || !c.PeriodStart.Equal(t0.AddDate(0, 0, 7)) || c.Amount.Amount != 500 {
		t.Fatalf("the trial's end bills the first period: %v %+v %+v", billed, s, c)
	}
}

func TestPauseAndResumeSkipPeriods(t *testing.T) {
	t.Parallel()
	s := monthly(SubscriptionActive) // next period 1 starts Feb 28
	past := t0
	var ve *ValidationError
	if err := s.Pause(&past, t0.Add(time.Hour)); !errors.As(err, &ve) || ve.Field != "until" {
		t.Fatalf("a pause that ends in the past: %v", err)
	}
	if err := s.Pause(nil, t0); err != nil {
		t.Fatal(err)
	}
	// Resumed on Apr 15: periods 1 (Feb 28) and 2 (Mar 31) started while paused and are
	// skipped; period 3 (Apr 30) is the next billed.
	if err := s.Resume(time.Date(2026, time.April, 15, 0, 0, 0, 0, time.UTC), t0, nil); err != nil {
		t.Fatal(err)
	}
	if s.NextPeriod != 3 || !s.NextBillingAt.Equal(time.Date(2026, time.April, 30, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("resumed at the next period boundary: %d %v", s.NextPeriod, s.NextBillingAt)
	}
	// Resumed exactly on a period's start, that period is billed.
	s = monthly(SubscriptionPaused)
	if err := s.Resume(s.NextBillingAt, t0, nil); err != nil || s.NextPeriod != 1 {
		t.Fatalf("%v %d", err, s.NextPeriod)
	}
}

func TestAfterCharge(t *testing.T) {
	t.Parallel()
	one := []Charge{{PeriodIndex: 1}}                   // one period owes
	two := []Charge{{PeriodIndex: 0}, {PeriodIndex: 1}} // two periods owe
	prorated := []Charge{{PeriodIndex: 1, Kind: ChargePeriod}, {PeriodIndex: 1, Kind: ChargeProration}}
	for _, tc := range []struct {
		from    SubscriptionStatus
		outcome ChargeStatus
		end     DunningEnd
		owed    []Charge
		want    SubscriptionStatus
	}{
		{SubscriptionActive, ChargeFailed, "", one, SubscriptionPastDue},
		{SubscriptionActive, ChargeRetrying, "", one, SubscriptionPastDue},
		{SubscriptionActive, ChargeFailed, "", two, SubscriptionPastDue}, // an older period's late failure: past due first
		{SubscriptionPastDue, ChargeRetrying, "", two, SubscriptionPastDue},
		{SubscriptionPastDue, ChargeFailed, "", one, SubscriptionPastDue}, // a retry of the one period failed again
		{SubscriptionPastDue, ChargeFailed, "", prorated, SubscriptionPastDue},
		{SubscriptionPastDue, ChargeFailed, "", two, SubscriptionUnpaid},
		{SubscriptionPastDue, ChargeFailed, DunningCancel, one, SubscriptionCanceled},
		{SubscriptionPastDue, ChargeFailed, DunningUnpaid, one, SubscriptionUnpaid},
		{SubscriptionUnpaid, ChargeFailed, DunningCancel, two, SubscriptionCanceled},
		{SubscriptionUnpaid, ChargeFailed, "", two, SubscriptionUnpaid},
		{SubscriptionPastDue, ChargeSucceeded, "", nil, SubscriptionActive},
		{SubscriptionPastDue, ChargeSucceeded, "", one, SubscriptionPastDue}, // others still owed
		{SubscriptionUnpaid, ChargeSucceeded, "", nil, SubscriptionActive},
		{SubscriptionUnpaid, ChargeSucceeded, "", one, SubscriptionUnpaid},
		{SubscriptionPastDue, ChargeCanceled, "", nil, SubscriptionActive}, // the last one owed forgiven
		{SubscriptionPastDue, ChargeCanceled, "", one, SubscriptionPastDue},
		{SubscriptionUnpaid, ChargeCanceled, "", nil, SubscriptionActive},
		{SubscriptionActive, ChargeSucceeded, "", nil, SubscriptionActive},
		{SubscriptionActive, ChargeNeedsReview, "", nil, SubscriptionActive},
		{SubscriptionPastDue, ChargeNeedsReview, "", nil, SubscriptionPastDue}, // a person decides
		{SubscriptionCanceled, ChargeFailed, "", nil, SubscriptionCanceled},
		{SubscriptionCanceled, ChargeFailed, DunningCancel, nil, SubscriptionCanceled},
		{SubscriptionPaused, ChargeFailed, "", two, SubscriptionPaused},
		{SubscriptionPaused, ChargeRetrying, "", one, SubscriptionPaused},
		{SubscriptionPaused, ChargeSucceeded, "", nil, SubscriptionPaused},
	} {
		got := AfterCharge(tc.from, tc.outcome, tc.end, tc.owed)
		if got != tc.want {
			t.Errorf("%s after a %s charge (end %q, %d owed): %s, want %s", tc.from, tc.outcome, tc.end, len(tc.owed), got, tc.want)
		}
		if got != tc.from && !tc.from.CanBecome(got) {
			t.Errorf("%s -> %s is not a transition of the state machine", tc.from, got)
		}
	}
}
