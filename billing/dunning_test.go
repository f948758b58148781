package billing

import (
	"testing"
	"time"
)

func TestClassifyFailure(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]FailureClass{
		"INSUFFICIENT_FUNDS": FailureSoft, "DO_NOT_HONOR": FailureSoft,
		"AUTHORIZATION_DECLINED": FailureHard, "CARD_EXPIRED": FailureHard, "TOKEN_SUSPENDED": FailureHard,
		"TOKEN_PURPOSE_MISMATCH": FailureHard, FailureTokenNotActive: FailureHard, FailurePurposeMissing: FailureHard,
		FailureCardExpired: FailureHard, FailureTokenNotFound: FailureHard, FailureRejected: FailureHard,
		FailurePaymentFailed: FailureHard, "SOMETHING_NEW": FailureHard,
	} {
		if got := ClassifyFailure(code); got != want {
			t.Errorf("%s: %s, want %s", code, got, want)
		}
	}
}

// TestDunningSchedule walks the default schedule: retries 1, 3, 5 and 7 days after the first
// decline, each from the first decline; then dunning ends. A late retry skips the offsets
// already passed; a hard decline and an ad-hoc charge are never retried.
func TestDunningSchedule(t *testing.T) {
	t.Parallel()
	d := DefaultDunning()
	first := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sub := NewID()
	c := Charge{SubscriptionID: &sub}
	soft := Failure{Code: "INSUFFICIENT_FUNDS"}
	now := first
	for _, days := range []int{1, 3, 5, 7} {
		v := d.AfterDecline(c, soft, first, now)
		want := first.AddDate(0, 0, days)
		if v.Status != ChargeRetrying || v.NextRetryAt == nil || !v.NextRetryAt.Equal(want) || v.EndsDunning {
			t.Fatalf("after the attempt at %s: %+v, want a retry at %s", now, v, want)
		}
		now = v.NextRetryAt.Add(time.Second)
	}
	if v := d.AfterDecline(c, soft, first, now); v.Status != ChargeFailed || !v.EndsDunning {
		t.Fatalf("after the last retry: %+v, want the end of dunning", v)
	}
	if v := d.AfterDecline(c, soft, first, first.AddDate(0, 0, 4)); !v.NextRetryAt.Equal(first.AddDate(0, 0, 5)) {
		t.Fatalf("a late retry on day 4: next %s, want day 5", v.NextRetryAt)
	}
	if v := d.AfterDecline(c, Failure{Code: FailureTokenNotActive}, first, first); v.Status != ChargeFailed || v.EndsDunning {
		t.Fatalf("hard decline: %+v", v)
	}
	if v := d.AfterDecline(Charge{}, soft, first, first); v.Status != ChargeFailed || v.EndsDunning {
		t.Fatalf("ad-hoc soft decline: %+v", v)
	}
}

func TestDunningValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultDunning().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []Dunning{
		{Schedule: []time.Duration{time.Hour, time.Hour}, End: DunningCancel},
		{Schedule: []time.Duration{0}, End: DunningCancel},
		{Schedule: []time.Duration{time.Hour}, End: "delete"},
	} {
		if d.Validate() == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}

// TestNextCardAttempt: 10 attempts in any 24 hours and 15 in any 30 days, counted over the
// attempts already made.
func TestNextCardAttempt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	times := func(start time.Time, n int, step time.Duration) []time.Time {
		var out []time.Time
		for i := range n {
			out = append(out, start.Add(time.Duration(i)*step))
		}
		return out
	}
	if at, held := NextCardAttempt(CardAttemptCaps, times(now.Add(-9*time.Hour), 9, time.Hour), now); !at.Equal(now) || held != nil {
		t.Fatalf("9 in 24h: %s %v, want now", at, held)
	}
	// 10 in the last 10 hours: the 11th waits until the oldest is 24 hours old.
	tenHours := times(now.Add(-10*time.Hour), 10, time.Hour)
	at, held := NextCardAttempt(CardAttemptCaps, tenHours, now)
	if want := now.Add(14 * time.Hour); !at.Equal(want) || held == nil || held.Max != 10 {
		t.Fatalf("10 in 24h: %s %v, want %s by the 24h cap", at, held, want)
	}
	// 15 in the last 15 days, one a day: the 16th waits until the oldest is 30 days old.
	days := times(now.Add(-15*24*time.Hour), 15, 24*time.Hour)
	at, held = NextCardAttempt(CardAttemptCaps, days, now)
	if want := now.Add(15 * 24 * time.Hour); !at.Equal(want) || held == nil || held.Max != 15 {
		t.Fatalf("15 in 30 days: %s %v, want %s by the 30-day cap", at, held, want)
	}
	// Both at once: the later of the two waits wins, and afterwards both hold.
	both := append(times(now.Add(-29*24*time.Hour), 5, 24*time.Hour), tenHours...)
	at, _ = NextCardAttempt(CardAttemptCaps, both, now)
	if want := now.Add(24 * time.Hour); !at.Equal(want) {
		t.Fatalf("both caps: %s, want %s", at, want)
	}
	for _, c := range CardAttemptCaps {
		n := 0
		for _, s := range both {
			if s.After(at.Add(-c.Window)) && !s.After(at) {
				n++
			}
		}
		if n >= c.Max {
			t.Fatalf("at %s, %d attempts within %s", at, n, c)
		}
	}
}
