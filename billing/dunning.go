package billing

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// How Recur reacts to a failed gateway call or a declined attempt, in one place:
//
//   - Transient (the gateway answered 503 or 429, or the request never left): the same call is
//     made again within the attempt, up to TransientTries times, TransientBackoff apart; after
//     that the job goes back to River, which runs it again with its own bounded backoff, and a
//     job out of tries leaves the charge reconciling (read back by the janitor, never charged
//     blindly). A transient error creates no new attempt.
//   - Soft decline (the issuer may approve later: SoftDeclineCodes): the charge is retrying and
//     is tried again, as a new attempt with a new gateway payment, on the dunning schedule.
//   - Hard decline (anything else: a suspended or unknown token, a missing purpose, an expired
//     card, a refusal that says nothing, a payment that failed without a reason): no retry on
//     that token. The charge fails; the merchant is asked for a new payment method (the
//     charge.failed and subscription.past_due events) and can retry it with one.
//   - An unknown outcome (timeout, reset, 5xx after sending) is never a decline: the charge is
//     reconciling until the gateway's state is read back, and is never retried meanwhile.

// FailureClass is how a failed attempt is treated.
type FailureClass string

// Failure classes of a declined attempt.
const (
	FailureSoft FailureClass = "soft" // retried on the dunning schedule
	FailureHard FailureClass = "hard" // not retried on the same token
)

// SoftDeclineCodes are the gateway's decline codes that the issuer may approve later (card
// schemes' "cannot approve at this time"). Every other code is hard, so that an unknown code is
// never retried against scheme rules.
var SoftDeclineCodes = []string{"INSUFFICIENT_FUNDS", "DO_NOT_HONOR"}

// ClassifyFailure returns the class of an attempt's failure code.
func ClassifyFailure(code string) FailureClass {
	if slices.Contains(SoftDeclineCodes, code) {
		return FailureSoft
	}
	return FailureHard
}

// Transient errors are retried within the attempt this many times, TransientBackoff(n) apart.
const TransientTries = 3

// TransientBackoff is the pause before the n-th repeat (from 1) of a call that failed transiently:
// 200ms, 400ms, 800ms.
func TransientBackoff(n int) time.Duration { return 100 * time.Millisecond << min(n, 10) }

// DunningEnd is what happens to a subscription whose charge is still declined when its dunning
// schedule is over.
type DunningEnd string

// Ends of dunning.
const (
	DunningCancel DunningEnd = "cancel" // the subscription is canceled
	DunningUnpaid DunningEnd = "unpaid" // it is marked unpaid and not billed until paid
)

// Dunning is the retry policy of a soft-declined subscription charge. Its Schedule holds the
// retries' offsets from the charge's first declined attempt (not from the previous attempt): with
// 1, 3, 5 and 7 days, a charge first declined on Monday 09:00 is retried Tuesday, Thursday,
// Saturday and Monday 09:00. A retry that runs late (deferred by the card's attempt caps, say) is
// followed by the first offset still ahead, so the schedule never bunches retries up.
type Dunning struct {
	Schedule []time.Duration
	End      DunningEnd
}

// DefaultDunning retries after 1, 3, 5 and 7 days, then cancels the subscription.
func DefaultDunning() Dunning {
	day := 24 * time.Hour
	return Dunning{Schedule: []time.Duration{day, 3 * day, 5 * day, 7 * day}, End: DunningCancel}
}

// Validate checks a policy: offsets positive and increasing, a known end.
func (d Dunning) Validate() error {
	for i, o := range d.Schedule {
		if o <= 0 || (i > 0 && o <= d.Schedule[i-1]) {
			return fmt.Errorf("retry offsets must be positive and increasing, got %v", d.Schedule)
		}
	}
	if d.End != DunningCancel && d.End != DunningUnpaid {
		return fmt.Errorf("end must be %s or %s, got %q", DunningCancel, DunningUnpaid, d.End)
	}
	return nil
}

// Verdict is how a charge goes on after an attempt failed.
type Verdict struct {
	Status      ChargeStatus // ChargeRetrying or ChargeFailed
	NextRetryAt *time.Time   // when Status is ChargeRetrying
	Reason      string       // why it retries, or why it does not
	// EndsDunning is set when a soft-declined charge has no retry left: its subscription ends
	// as Dunning.End says.
	EndsDunning bool
}

// AfterDecline decides what becomes of charge c whose attempt failed with f at now; firstFailed
// is when its first attempt failed (now for the first). Only subscription charges are dunned: an
// ad-hoc charge fails, and its merchant may retry it.
func (d Dunning) AfterDecline(c Charge, f Failure, firstFailed, now time.Time) Verdict {
	if ClassifyFailure(f.Code) == FailureHard {
		return Verdict{Status: ChargeFailed, Reason: "hard decline (" + f.Code + "): not retried on this payment method; a new one is needed"}
	}
	if c.AdHoc() {
		return Verdict{Status: ChargeFailed, Reason: "ad-hoc charges are not retried automatically"}
	}
	for i, o := range d.Schedule {
		if at := firstFailed.Add(o); at.After(now) {
			return Verdict{Status: ChargeRetrying, NextRetryAt: &at,
				Reason: fmt.Sprintf("soft decline (%s): retry %d of %d", f.Code, i+1, len(d.Schedule))}
		}
	}
	return Verdict{Status: ChargeFailed, EndsDunning: true,
		Reason: fmt.Sprintf("soft decline (%s): dunning over after %d retries, subscription %s", f.Code, len(d.Schedule), d.endWord())}
}

func (d Dunning) endWord() string {
	if d.End == DunningUnpaid {
		return "unpaid"
	}
	return "canceled"
}

// AttemptCap is a card scheme's limit: at most Max attempts on one card within any Window.
type AttemptCap struct {
	Max    int
	Window time.Duration
}

func (c AttemptCap) String() string {
	switch day := 24 * time.Hour; {
	case c.Window == day:
		return fmt.Sprintf("%d attempts in 24 hours", c.Max)
	case c.Window%day == 0:
		return fmt.Sprintf("%d attempts in %d days", c.Max, c.Window/day)
	}
	return fmt.Sprintf("%d attempts in %s", c.Max, c.Window)
}

// CardAttemptCaps are Visa's and Mastercard's limits on merchant-initiated attempts per card:
// 10 in 24 hours and 15 in 30 days. Recur applies them per gateway token, across all of a
// customer's subscriptions and ad-hoc charges on it: EGW gives no card fingerprint, so two tokens
// of one card are counted apart.
var CardAttemptCaps = []AttemptCap{{Max: 10, Window: 24 * time.Hour}, {Max: 15, Window: 30 * 24 * time.Hour}}

// NextCardAttempt returns the earliest time at or after now when one more attempt on a card
// keeps every cap, given the times of the attempts already made on it (in any order), and the
// cap that holds it back, if one does.
func NextCardAttempt(caps []AttemptCap, sent []time.Time, now time.Time) (time.Time, *AttemptCap) {
	sent = slices.Clone(sent)
	sort.Slice(sent, func(i, j int) bool { return sent[i].Before(sent[j]) })
	at := now
	var held *AttemptCap
	for moved := true; moved; {
		moved = false
		for i := range caps {
			c := &caps[i]
			// the attempts inside (at - Window, at]
			first := sort.Search(len(sent), func(k int) bool { return sent[k].After(at.Add(-c.Window)) })
			last := sort.Search(len(sent), func(k int) bool { return sent[k].After(at) })
			if n := last - first; n >= c.Max {
				// wait until enough of them have left the window
				at, held, moved = sent[first+n-c.Max].Add(c.Window), c, true
			}
		}
	}
	return at, held
}
