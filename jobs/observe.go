package jobs

import "time"

// Observer is told what the jobs did, for metrics. Its methods must be quick and safe for
// concurrent use; they are called after the work they report has been committed.
type Observer interface {
	// ChargeFinished reports an attempt that ended, with its status (succeeded or failed) and,
	// when it failed, the failure code.
	ChargeFinished(status, failureCode string)
	// BillingRunFinished reports a scheduler pass that found subscriptions due: how many were due,
	// how many charges it created, and how long the pass took.
	BillingRunFinished(due, created int, d time.Duration)
	// WebhookAttempted reports an attempt of a webhook delivery, by the delivery's status after
	// it: succeeded, pending (to be retried) or failed (retries used up).
	WebhookAttempted(status string)
}

// NopObserver is an Observer that ignores everything; it is the default.
type NopObserver struct{}

// ChargeFinished does nothing.
func (NopObserver) ChargeFinished(string, string) {}

// BillingRunFinished does nothing.
func (NopObserver) BillingRunFinished(int, int, time.Duration) {}

// WebhookAttempted does nothing.
func (NopObserver) WebhookAttempted(string) {}
