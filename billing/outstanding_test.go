package billing

import (
	"errors"
	"testing"
	"time"
)

// owedCharge is a charge of subscription s in status, for period index.
func owedCharge(s Subscription, index int, status ChargeStatus) Charge {
	id := s.ID
	return Charge{ID: NewID(), Kind: ChargePeriod, SubscriptionID: &id, CustomerID: s.CustomerID, PeriodIndex: index,
		Amount: s.Price, Status: status, CreatedAt: t0, UpdatedAt: t0}
}

func TestOutstanding(t *testing.T) {
	t.Parallel()
	s := monthly(SubscriptionPastDue)
	declined := t0.Add(time.Hour)
	for _, tc := range []struct {
		name string
		edit func(*Charge)
		want bool
	}{
		{"failed", func(c *Charge) { c.Status = ChargeFailed }, true},
		{"retrying", func(c *Charge) { c.Status = ChargeRetrying }, true},
		{"failed at the end of dunning (unpaid)", func(c *Charge) {
			c.Status, c.FirstFailedAt, c.RetryReason = ChargeFailed, &declined, "dunning over, subscription unpaid"
		}, true},
		{"a proration charge failed", func(c *Charge) { c.Kind, c.Status = ChargeProration, ChargeFailed }, true},
		{"being tried again after a decline", func(c *Charge) { c.Status, c.FirstFailedAt = ChargeProcessing, &declined }, true},
		{"reconciling after a decline", func(c *Charge) { c.Status, c.FirstFailedAt = ChargeReconciling, &declined }, true},
		{"first collected", func(c *Charge) { c.Status = ChargeProcessing }, false},
		{"pending", func(c *Charge) { c.Status = ChargePending }, false},
		{"succeeded", func(c *Charge) { c.Status, c.FirstFailedAt = ChargeSucceeded, &declined }, false},
		{"in review", func(c *Charge) { c.Status, c.FirstFailedAt = ChargeNeedsReview, &declined }, false},
		{"forgiven", func(c *Charge) { c.Status, c.VoidedAt = ChargeCanceled, &declined }, false},
		{"voided while retrying", func(c *Charge) { c.Status, c.VoidedAt = ChargeRetrying, &declined }, false},
		{"ad hoc, failed", func(c *Charge) { c.SubscriptionID, c.Kind, c.Status = nil, ChargeAdHoc, ChargeFailed }, false},
	} {
		c := owedCharge(s, 0, ChargePending)
		tc.edit(&c)
		if got := c.Outstanding(); got != tc.want {
			t.Errorf("%s: outstanding %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOwed(t *testing.T) {
	t.Parallel()
	s := monthly(SubscriptionPastDue)
	other := monthly(SubscriptionPastDue)
	charges := []Charge{owedCharge(s, 0, ChargeFailed), owedCharge(s, 1, ChargeSucceeded), owedCharge(other, 1, ChargeFailed),
		owedCharge(s, 2, ChargeRetrying)}
	owed := s.Owed(charges)
	if len(owed) != 2 || owed[0].ID != charges[0].ID || owed[1].ID != charges[3].ID {
		t.Fatalf("owed %+v, want periods 0 and 2 of its own, in order", owed)
	}
	s.Status = SubscriptionCanceled
	if owed := s.Owed(charges); len(owed) != 0 {
		t.Errorf("a canceled subscription owes %d charges, want none", len(owed))
	}
}

// TestSettleChargeWithOthersOwed: two periods failed; paying the newer keeps the subscription
// unpaid, paying the older then makes it active and billed again from the next period; any
// period's charge moves it, not only the latest's.
func TestSettleChargeWithOthersOwed(t *testing.T) {
	t.Parallel()
	s := monthly(SubscriptionPastDue)
	s.NextPeriod, s.NextBillingAt = 2, s.Schedule.PeriodStart(2)
	p0, p1 := owedCharge(s, 0, ChargeFailed), owedCharge(s, 1, ChargeFailed)
	if !s.SettleCharge(p1, []Charge{p0, p1}, "", t0) || s.Status != SubscriptionUnpaid {
		t.Fatalf("two periods failed: %s, want unpaid", s.Status)
	}
	p1.Status = ChargeSucceeded
	if s.SettleCharge(p1, []Charge{p0}, "", t0) || s.Status != SubscriptionUnpaid {
		t.Fatalf("the newer paid, the older owed: %s, want unpaid unchanged", s.Status)
	}
	now := s.Schedule.PeriodStart(3).Add(time.Hour)
	p0.Status = ChargeSucceeded
	if !s.SettleCharge(p0, nil, "", now) || s.Status != SubscriptionActive {
		t.Fatalf("all paid: %s, want active", s.Status)
	}
	if s.NextPeriod != 4 {
		t.Errorf("billed again from period %d, want 4 (the first that starts after the payment)", s.NextPeriod)
	}
	ad := owedCharge(s, 0, ChargeFailed)
	ad.SubscriptionID = nil
	if s.SettleCharge(ad, nil, "", now) {
		t.Error("an ad-hoc charge moved the subscription")
	}
}

func TestResumeWhileOwing(t *testing.T) {
	t.Parallel()
	for _, from := range []SubscriptionStatus{SubscriptionPaused, SubscriptionUnpaid} {
		s := monthly(from)
		if err := s.Resume(t0, t0, []Charge{owedCharge(s, 0, ChargeFailed)}); err != nil || s.Status != SubscriptionPastDue {
			t.Errorf("resumed from %s while owing: %s %v, want past_due", from, s.Status, err)
		}
		if ev, ok := StatusEvent(from, s.Status); !ok || ev != EventSubscriptionResumed {
			t.Errorf("resumed from %s to %s: event %q, want resumed", from, s.Status, ev)
		}
	}
}

func TestForgive(t *testing.T) {
	t.Parallel()
	s := monthly(SubscriptionPastDue)
	for _, st := range []ChargeStatus{ChargeFailed, ChargeRetrying} {
		c := owedCharge(s, 0, st)
		at := t0.Add(time.Minute)
		c.NextRetryAt = &at
		if err := c.Forgive("", t0); err != nil {
			t.Fatal(err)
		}
		if c.Status != ChargeCanceled || c.Failure.Code != FailureVoided || c.Failure.Reason != "the charge was voided" ||
			c.NextRetryAt != nil || c.VoidedAt == nil || c.Outstanding() {
			t.Errorf("forgiven %s charge: %+v", st, c)
		}
	}
	c := owedCharge(s, 0, ChargeFailed)
	if err := c.Forgive("goodwill: outage in March", t0); err != nil || c.Failure.Reason != "goodwill: outage in March" {
		t.Errorf("reason: %v %+v", err, c.Failure)
	}
	for _, st := range []ChargeStatus{ChargePending, ChargeProcessing, ChargeReconciling, ChargeSucceeded, ChargeNeedsReview, ChargeCanceled} {
		c := owedCharge(s, 0, st)
		if err := c.Forgive("", t0); !errors.Is(err, ErrConflict) || c.Status != st {
			t.Errorf("forgive a %s charge: %v, status %s; want a conflict, unchanged", st, err, c.Status)
		}
	}
	c = owedCharge(s, 0, ChargeFailed)
	var ve *ValidationError
	long := make([]byte, 501)
	if err := c.Forgive(string(long), t0); !errors.As(err, &ve) || ve.Field != "reason" || c.Status != ChargeFailed {
		t.Errorf("a reason too long: %v", err)
	}
}
