package billing

import (
	"strings"
	"time"
)

// What a subscription owes, and how that decides its state.
//
// A charge is outstanding (Charge.Outstanding) while it is money that its subscription owes: a
// period or proration charge (an ad-hoc charge belongs to no subscription) that failed, is
// retrying, or is being tried again after a decline (pending, processing or reconciling with
// FirstFailedAt set), and that no one voided. A charge whose dunning ended with the unpaid action
// stays failed, and so outstanding: its subscription is unpaid until it is paid or forgiven. A
// succeeded, canceled (voided: forgiven) or needs_review charge is not outstanding (a person
// settles one in review). A canceled subscription owes nothing (Subscription.Owed): its unfinished
// charges are called off and its failed ones are never retried.
//
// A subscription is active only when it owes nothing: a charge that fails or goes retrying makes
// an active subscription past_due, and only the success (or forgiveness) of the last outstanding
// one makes a past_due or unpaid subscription active again; while others are outstanding it stays
// as it is. Failed charges of two periods owed at once make it unpaid, as does the end of dunning
// with the unpaid action (AfterCharge). A resume bills a paused or unpaid subscription again,
// active when it owes nothing, else past_due (Resume).

// Outstanding reports whether c is owed by its subscription (see above); ignoring whether the
// subscription is canceled, which Subscription.Owed checks.
func (c Charge) Outstanding() bool {
	if c.AdHoc() || c.VoidedAt != nil {
		return false
	}
	switch c.Status {
	case ChargeFailed, ChargeRetrying:
		return true
	case ChargePending, ChargeProcessing, ChargeReconciling:
		return c.FirstFailedAt != nil // tried again after a decline: owed until it succeeds
	}
	return false
}

// Owed returns the charges among charges that s owes, in their order: none when s is canceled.
func (s Subscription) Owed(charges []Charge) []Charge {
	if s.Status == SubscriptionCanceled {
		return nil
	}
	var owed []Charge
	for _, c := range charges {
		if c.SubscriptionID != nil && *c.SubscriptionID == s.ID && c.Outstanding() {
			owed = append(owed, c)
		}
	}
	return owed
}

// Retryable reports whether c can be tried again at once (Charge.RetryNow): it failed or is
// retrying. An outstanding charge in another state is being tried already.
func (c Charge) Retryable() bool { return c.Status == ChargeFailed || c.Status == ChargeRetrying }

// periodsOwed counts the billing periods that owed charges are of.
func periodsOwed(owed []Charge) int {
	periods := map[int]bool{}
	for _, c := range owed {
		periods[c.PeriodIndex] = true
	}
	return len(periods)
}

// Forgive voids a failed or retrying charge at now: the merchant gives up collecting it, and it
// ends canceled, with code voided and reason (a default when empty). No attempt of such a charge
// is at the gateway: its latest was declined, or waits unsent for the card's attempt caps. A
// charge in another state is a *ConflictError.
func (c *Charge) Forgive(reason string, now time.Time) error {
	if !c.Retryable() {
		return &ConflictError{Reason: "only a failed or retrying charge can be forgiven, not a " + string(c.Status) + " one"}
	}
	reason, err := VoidReason(reason)
	if err != nil {
		return err
	}
	c.Status, c.Failure = ChargeCanceled, &Failure{Code: FailureVoided, Reason: reason}
	c.NextRetryAt, c.RetryReason, c.VoidedAt, c.UpdatedAt = nil, "", &now, now
	return nil
}

// VoidReason checks the reason a merchant gives for voiding a charge (at most 500 characters) and
// returns it, or the default reason when it is empty.
func VoidReason(reason string) (string, error) {
	switch {
	case len(reason) > 500:
		return "", &ValidationError{Field: "reason", Reason: "must be at most 500 characters"}
	case strings.TrimSpace(reason) == "":
		return "the charge was voided", nil
	}
	return reason, nil
}
