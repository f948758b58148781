package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
)

// CollectChargeArgs asks for a charge to be collected at the gateway.
type CollectChargeArgs struct {
	ChargeID uuid.UUID `json:"charge_id"`
	// RetryAt is set on the job scheduled for a retrying charge's next attempt: it keeps that
	// job apart from the unscheduled ones (the janitor's, the API's) for the same charge.
	RetryAt *time.Time `json:"retry_at,omitempty"`
}

// Kind names the job in River.
func (CollectChargeArgs) Kind() string { return "collect_charge" }

// InsertOpts keeps one unfinished job per charge; once it has finished, the janitor may enqueue
// another to reconcile the charge.
func (CollectChargeArgs) InsertOpts() river.InsertOpts {
	return oneUnfinishedPerArgs()
}

// CollectChargeWorker collects a charge with a merchant-initiated payment: token check, payment,
// token session, read the outcome (snoozing while the gateway processes it), capture.
//
// How it keeps a charge from being collected twice or lost:
//   - A run first claims the charge's lease; a second run (a duplicate job, or one rescued while
//     the first is still in flight) finds it held and does nothing. The lease is renewed before
//     every gateway call, and a run that has lost it stops before the call.
//   - Every gateway call is recorded as a step, committed before the call, and the payment id is
//     committed as soon as the gateway gives it.
//   - A run that resumes reads the payment at the gateway before anything else and acts on its
//     state: it starts a token session only on an INITIALIZED payment and captures only an
//     AUTHORIZED one. Money moves only at the token session, which is only ever started on the
//     attempt's one recorded payment.
//   - A lost creation is sent again with the same request id, so a gateway that de-duplicates
//     request ids answers with the first payment; one that does not leaves it INITIALIZED, which
//     moves no money.
//   - A call that ends without a known outcome puts the charge in reconciling; the janitor
//     (ReconcileChargesWorker) has it read back from the gateway later, and a charge whose
//     outcome stays unknown goes to needs_review, never to failed-and-charged-again.
//   - An authorization that must not be captured (charge voided, subscription canceled, amount
//     not the charge's) is cancelled at the gateway.
//
// How it retries (billing.Dunning has the policy): a call that fails transiently is repeated
// within the attempt; a declined attempt ends, and its charge is retrying, with a job scheduled
// for its next attempt in the same transaction, or failed. A retry is a new attempt, with a new
// gateway payment, and only ever follows a declined attempt: an unknown outcome is reconciled,
// never retried. Before its payment is created, an attempt is counted against the card's
// attempt caps; one that would exceed them is deferred, its charge retrying until they allow it.
type CollectChargeWorker struct {
	river.WorkerDefaults[CollectChargeArgs]
	deps Deps
	cfg  Config
}

// NextRetry retries a run that failed on an error that left the gateway untouched soon.
func (w *CollectChargeWorker) NextRetry(job *river.Job[CollectChargeArgs]) time.Time {
	return retrySoon(job.Attempt)
}

// Work collects one charge.
func (w *CollectChargeWorker) Work(ctx context.Context, job *river.Job[CollectChargeArgs]) error {
	run := uuid.New()
	var (
		charge  billing.Charge
		attempt billing.Attempt
		claimed bool
	)
	clock, err := store.ChargeClock(ctx, w.deps.Pool, job.Args.ChargeID, w.deps.Clock)
	if err != nil {
		return err
	}
	err = store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) (err error) {
		charge, claimed, err = store.ClaimCharge(ctx, tx, job.Args.ChargeID, run, w.cfg.Lease, clock.Now())
		if err != nil || !claimed {
			return err
		}
		attempt, err = store.OpenAttempt(ctx, tx, charge.ID, clock.Now())
		return err
	})
	if err != nil || !claimed {
		return err // a finished charge, or one that another run holds: nothing to do
	}
	defer store.ReleaseCharge(context.WithoutCancel(ctx), w.deps.Pool, charge.ID, run) //nolint:errcheck // an unreleased lease expires

	pm, err := store.GetPaymentMethod(ctx, w.deps.Pool, charge.PaymentMethodID)
	if err != nil {
		return err
	}
	c := &collection{w: w, run: run, clock: clock, charge: charge, tokenID: pm.GatewayTokenID, attempt: attempt,
		log: w.deps.Logger.With(slog.String("charge_id", charge.ID.String()), slog.String("attempt_id", attempt.ID.String()))}
	return c.settle(ctx, c.collect(ctx), job.Attempt >= job.MaxAttempts)
}

// scheduleRetry enqueues, in tx, the job of a retrying charge's next attempt at (Recur's clock):
// River runs it then; the janitor also enqueues the charge once it is due, in case this job is
// lost (or a test clock has moved past it).
func scheduleRetry(ctx context.Context, client *Client, tx pgx.Tx, clock billing.Clock, chargeID uuid.UUID, at time.Time) error {
	_, err := client.InsertTx(ctx, tx, CollectChargeArgs{ChargeID: chargeID, RetryAt: &at},
		&river.InsertOpts{ScheduledAt: time.Now().Add(at.Sub(clock.Now()))})
	if err != nil {
		return fmt.Errorf("schedule retry: %w", err)
	}
	return nil
}

// settle decides what a run's error means for the charge. A lost lease ends the run quietly:
// another run has the charge. A gateway error whose outcome is unknown, any gateway error once
// the attempt's payment exists (money may be in motion: every doubt is settled by reading the
// payment back), and any error on the job's last try put the charge in reconciling, where the
// janitor takes it up with its backoff and, past ReviewAfter, hands it to a person. Other errors
// (the gateway refused before anything existed, the database failed) go back to River.
func (c *collection) settle(ctx context.Context, err error, lastTry bool) error {
	var (
		snooze *river.JobSnoozeError
		ge     *gateway.Error
	)
	switch {
	case err == nil, errors.As(err, &snooze):
		return err
	case errors.Is(err, store.ErrLeaseLost):
		c.log.WarnContext(ctx, "charge taken over by another run")
		return nil
	case lastTry, errors.As(err, &ge) && (ge.Class == gateway.UnknownOutcome || c.attempt.GatewayPaymentID != ""):
		c.log.WarnContext(ctx, "charge outcome not known: reconciling", slog.Any("error", err))
		return store.MarkReconciling(context.WithoutCancel(ctx), c.w.deps.Pool, c.charge.ID, c.run,
			c.w.cfg.ReconcileInterval, time.Hour)
	}
	return err
}

// collection is one run of the worker on one attempt.
type collection struct {
	w        *CollectChargeWorker
	run      uuid.UUID
	clock    billing.Clock // the charge's customer's (store.ChargeClock)
	charge   billing.Charge
	tokenID  string
	attempt  billing.Attempt
	deferred bool // the card's attempt caps put the attempt off: the run ends
	log      *slog.Logger
}

// outcome is how an attempt ends.
type outcome struct {
	status  billing.AttemptStatus
	failure *billing.Failure
}

func (c *collection) collect(ctx context.Context) error {
	var p gateway.Payment
	var err error
	if c.attempt.GatewayPaymentID == "" {
		if called, err := c.callOff(ctx); err != nil || called != nil {
			return c.finishAs(ctx, called, err) // nothing exists at the gateway yet
		}
		if err := c.checkToken(ctx); err != nil || c.done() {
			return err
		}
		p, err = c.createPayment(ctx)
	} else {
		p, err = c.getPayment(ctx)
	}
	for err == nil && !c.done() {
		switch p.Status {
		case gateway.PaymentInitialized:
			p, err = c.authorize(ctx, p)
		case gateway.PaymentSentForProcessing:
			return c.waitForProcessing(ctx)
		case gateway.PaymentAuthorized:
			p, err = c.capture(ctx, p)
		case gateway.PaymentCaptured, gateway.PaymentSettled, gateway.PaymentRefunded:
			err = c.finish(ctx, c.captured(p))
		case gateway.PaymentFailed, gateway.PaymentAbandoned:
			err = c.finish(ctx, outcome{billing.AttemptFailed, &billing.Failure{
				Code: billing.FailurePaymentFailed, Reason: fmt.Sprintf("the gateway payment is %s", p.Status)}})
		case gateway.PaymentCancelled:
			err = c.cancelled(ctx, p)
		default:
			return fmt.Errorf("payment %s has unknown status %q", p.ID, p.Status)
		}
	}
	return err
}

// done reports whether the attempt has finished, or been deferred.
func (c *collection) done() bool { return c.attempt.Status != billing.AttemptProcessing || c.deferred }

// callOff says why the charge must not be collected any more (voided, subscription canceled).
func (c *collection) callOff(ctx context.Context) (*outcome, error) {
	f, err := store.CallOff(ctx, c.w.deps.Pool, c.charge.ID)
	if err != nil || f == nil {
		return nil, err
	}
	return &outcome{billing.AttemptCanceled, f}, nil
}

// finishAs finishes the attempt with o, if there is one.
func (c *collection) finishAs(ctx context.Context, o *outcome, err error) error {
	if err != nil || o == nil {
		return err
	}
	return c.finish(ctx, *o)
}

// checkToken verifies that the token can pay this charge; when it cannot, the attempt fails.
func (c *collection) checkToken(ctx context.Context) error {
	tok, err := step(ctx, c, billing.StepCheckToken, uuid.New(), func(ctx context.Context) (gateway.Token, error) {
		return c.w.deps.Gateway.GetToken(ctx, c.tokenID)
	})
	if gateway.IsNotFound(err) {
		return c.finish(ctx, outcome{billing.AttemptFailed, &billing.Failure{Code: billing.FailureTokenNotFound, Reason: "the gateway does not know the token"}})
	}
	if err != nil {
		return err
	}
	if f := tok.Check(c.clock.Now(), gateway.PurposesFor(gateway.Channel(c.charge.Channel))...); f != nil {
		return c.finish(ctx, outcome{billing.AttemptFailed, f})
	}
	return nil
}

// createPayment creates the attempt's payment and records its id. The request id is recorded
// first, with the attempt counted against the card's caps, and reused if the creation has to be
// sent again. An attempt that the caps do not allow yet is deferred instead.
func (c *collection) createPayment(ctx context.Context) (gateway.Payment, error) {
	if c.attempt.CreateRequestID == nil {
		if err := c.reserve(ctx, uuid.New()); err != nil || c.deferred {
			return gateway.Payment{}, err
		}
	}
	p, err := step(ctx, c, billing.StepCreatePayment, *c.attempt.CreateRequestID, func(ctx context.Context) (gateway.Payment, error) {
		return c.w.deps.Gateway.CreateMITPayment(ctx, gateway.MITPaymentRequest{
			Channel: gateway.Channel(c.charge.Channel), Amount: c.charge.Amount,
			OrderNumber: c.attempt.OrderNumber, MerchantReference: "recur charge " + c.charge.ID.String(),
		})
	})
	if err != nil {
		return p, c.failIfRejected(ctx, err)
	}
	if err := store.SetAttemptPayment(context.WithoutCancel(ctx), c.w.deps.Pool, c.attempt.ID, p.ID, c.clock.Now()); err != nil {
		return p, err
	}
	c.attempt.GatewayPaymentID = p.ID
	return p, nil
}

// reserve counts the attempt against the card's attempt caps with the request id of its payment
// creation or, when a cap does not allow it yet, defers the charge until it does: retrying, with
// its job scheduled then, in the same transaction.
func (c *collection) reserve(ctx context.Context, requestID uuid.UUID) error {
	now := c.clock.Now()
	var (
		held   *billing.AttemptCap
		at     time.Time
		charge billing.Charge
	)
	err := store.InTx(ctx, c.w.deps.Pool, func(tx pgx.Tx) (err error) {
		at, held, err = store.ReserveCardAttempt(ctx, tx, c.attempt.ID, c.charge.PaymentMethodID, requestID, billing.CardAttemptCaps, now)
		if err != nil || held == nil {
			return err
		}
		reason := fmt.Sprintf("card attempt cap (at most %s on one card) reached: the attempt waits until %s", held, at.UTC().Format(time.RFC3339))
		if charge, err = store.DeferCharge(ctx, tx, c.charge.ID, c.run, at, reason); err != nil {
			return err
		}
		return scheduleRetry(ctx, river.ClientFromContext[pgx.Tx](ctx), tx, c.clock, c.charge.ID, at)
	})
	switch {
	case err != nil:
		return err
	case held == nil:
		c.attempt.CreateRequestID = &requestID // committed: the creation may be sent
	default:
		c.charge, c.deferred = charge, true
		c.log.InfoContext(ctx, "charge deferred by the card attempt caps", slog.Time("next_retry_at", at))
	}
	return nil
}

// authorize starts the token session on an INITIALIZED payment (the call that moves money) and
// reads the payment back; a charge called off meanwhile has its payment cancelled instead.
func (c *collection) authorize(ctx context.Context, p gateway.Payment) (gateway.Payment, error) {
	called, err := c.callOff(ctx)
	if err != nil || called != nil {
		return c.cancel(ctx, p, err)
	}
	_, err = step(ctx, c, billing.StepStartSession, uuid.New(), func(ctx context.Context) (gateway.Session, error) {
		return c.w.deps.Gateway.StartTokenSession(ctx, p.ID, c.tokenID)
	})
	if err = c.failIfRejected(ctx, err); err != nil || c.done() {
		return p, err
	}
	return c.getPayment(ctx)
}

// capture captures an AUTHORIZED payment, unless it must not be: then it cancels it.
func (c *collection) capture(ctx context.Context, p gateway.Payment) (gateway.Payment, error) {
	stop, err := c.mustNotCapture(ctx, p)
	if err != nil || stop != nil {
		return c.cancel(ctx, p, err)
	}
	captured, err := step(ctx, c, billing.StepCapture, uuid.New(), func(ctx context.Context) (gateway.Payment, error) {
		return c.w.deps.Gateway.Capture(ctx, p.ID, c.charge.Amount)
	})
	captured.Amount = p.Amount // EGW answers a capture with the status only: it took what it authorized
	return captured, err
}

// mustNotCapture says how the attempt ends instead when the payment must not be captured: the
// charge was called off, or the payment is not for the charge's amount.
func (c *collection) mustNotCapture(ctx context.Context, p gateway.Payment) (*outcome, error) {
	if o, err := c.callOff(ctx); err != nil || o != nil {
		return o, err
	}
	if p.Amount != c.charge.Amount {
		return &outcome{billing.AttemptNeedsReview, &billing.Failure{Code: billing.FailureAmountMismatch,
			Reason: fmt.Sprintf("the gateway authorized %s for a charge of %s", p.Amount, c.charge.Amount)}}, nil
	}
	return nil, nil
}

// captured is how the attempt of a captured payment ends: succeeded, or needs_review when the
// gateway took another amount than the charge's (a person must settle the difference).
func (c *collection) captured(p gateway.Payment) outcome {
	if p.Amount != c.charge.Amount {
		return outcome{billing.AttemptNeedsReview, &billing.Failure{Code: billing.FailureAmountMismatch,
			Reason: fmt.Sprintf("the gateway captured %s for a charge of %s", p.Amount, c.charge.Amount)}}
	}
	return outcome{status: billing.AttemptSucceeded}
}

// cancel releases the payment at the gateway, unless err says that deciding to failed.
func (c *collection) cancel(ctx context.Context, p gateway.Payment, err error) (gateway.Payment, error) {
	if err != nil {
		return p, err
	}
	return step(ctx, c, billing.StepCancel, uuid.New(), func(ctx context.Context) (gateway.Payment, error) {
		return c.w.deps.Gateway.Cancel(ctx, p.ID)
	})
}

// cancelled ends the attempt of a CANCELLED payment: as the reason it had to be cancelled for, or,
// when Recur had none, as cancelled by someone else at the gateway.
func (c *collection) cancelled(ctx context.Context, p gateway.Payment) error {
	o, err := c.mustNotCapture(ctx, p)
	if err != nil {
		return err
	}
	if o == nil {
		o = &outcome{billing.AttemptCanceled, &billing.Failure{Code: billing.FailurePaymentCancelled, Reason: "the payment was cancelled at the gateway"}}
	}
	return c.finish(ctx, *o)
}

// waitForProcessing snoozes the job while the gateway processes the payment, up to ReviewAfter;
// then the charge goes to needs_review.
func (c *collection) waitForProcessing(ctx context.Context) error {
	overdue, err := store.MarkUnsettled(ctx, c.w.deps.Pool, c.charge.ID, c.w.cfg.ReviewAfter)
	if err != nil {
		return err
	}
	if overdue {
		return c.finish(ctx, outcome{billing.AttemptNeedsReview, &billing.Failure{Code: billing.FailureUnsettled,
			Reason: fmt.Sprintf("the payment has been processing at the gateway for more than %s", c.w.cfg.ReviewAfter)}})
	}
	return river.JobSnooze(c.w.cfg.PollInterval)
}

// getPayment reads the attempt's payment at the gateway.
func (c *collection) getPayment(ctx context.Context) (gateway.Payment, error) {
	return step(ctx, c, billing.StepGetPayment, uuid.New(), func(ctx context.Context) (gateway.Payment, error) {
		return c.w.deps.Gateway.GetPayment(ctx, c.attempt.GatewayPaymentID)
	})
}

// failIfRejected fails the attempt when the gateway declined or refused a call that moves no money
// when refused; other errors are returned, and a later run reads the payment first.
func (c *collection) failIfRejected(ctx context.Context, err error) error {
	var ge *gateway.Error
	if !errors.As(err, &ge) {
		return err
	}
	switch ge.Class {
	case gateway.Declined:
		return c.finish(ctx, outcome{billing.AttemptFailed, &billing.Failure{Code: ge.Code, Reason: ge.Text}})
	case gateway.Permanent:
		return c.finish(ctx, outcome{billing.AttemptFailed, &billing.Failure{Code: billing.FailureRejected, Reason: ge.Error()}})
	}
	return err
}

// finish ends the attempt, and the charge with it: a declined attempt leaves the charge retrying
// (with its next attempt's job) or failed, as the dunning policy says. The charge's subscription
// moves on and the events are appended in the same transaction.
func (c *collection) finish(ctx context.Context, o outcome) error {
	ctx = context.WithoutCancel(ctx)
	now := c.clock.Now()
	end := store.AttemptEnd{Attempt: o.status, Charge: billing.ChargeStatus(o.status), Failure: o.failure}
	var verdict billing.Verdict
	if o.status == billing.AttemptFailed {
		first := now
		if c.charge.FirstFailedAt != nil {
			first = *c.charge.FirstFailedAt
		}
		verdict = c.w.cfg.Dunning.AfterDecline(c.charge, *o.failure, first, now)
		end.Charge, end.NextRetryAt, end.RetryReason = verdict.Status, verdict.NextRetryAt, verdict.Reason
	}
	err := store.InTx(ctx, c.w.deps.Pool, func(tx pgx.Tx) error {
		charge, err := store.FinishAttempt(ctx, tx, c.run, c.attempt.ID, end, now)
		if err != nil {
			return err
		}
		if verdict.NextRetryAt != nil {
			if err := scheduleRetry(ctx, river.ClientFromContext[pgx.Tx](ctx), tx, c.clock, charge.ID, *verdict.NextRetryAt); err != nil {
				return err
			}
		}
		var dunningEnd billing.DunningEnd
		if verdict.EndsDunning {
			dunningEnd = c.w.cfg.Dunning.End
		}
		return chargeSettled(ctx, tx, charge, dunningEnd, now)
	})
	if err != nil {
		return err
	}
	c.attempt.Status, c.attempt.Failure = o.status, o.failure
	attrs := []any{slog.String("status", string(o.status)), slog.String("charge_status", string(end.Charge))}
	var code string
	if o.failure != nil {
		code = o.failure.Code
		attrs = append(attrs, slog.String("failure_code", code))
	}
	if end.NextRetryAt != nil {
		attrs = append(attrs, slog.Time("next_retry_at", *end.NextRetryAt))
	}
	c.w.deps.Observer.ChargeFinished(string(o.status), code)
	c.log.InfoContext(ctx, "charge attempt finished", attrs...)
	return nil
}

// chargeSettled appends the event of charge c's new state in tx, and moves its subscription on
// (billing.Subscription.SettleCharge, given what it owes) with the events that this makes:
// past_due, canceled at the end of dunning, renewed when a period after the first is paid (its
// period charge, not a proration).
func chargeSettled(ctx context.Context, tx pgx.Tx, c billing.Charge, end billing.DunningEnd, now time.Time) error {
	if t, ok := chargeEvents[c.Status]; ok {
		refunds, err := store.ListRefunds(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if err := store.AppendEvent(ctx, tx, billing.ChargeEvent(t, c, refunds[c.ID], now)); err != nil {
			return err
		}
	}
	if c.AdHoc() {
		return nil
	}
	s, err := store.LockSubscription(ctx, tx, *c.SubscriptionID)
	if err != nil {
		return err
	}
	owed, err := store.OwedCharges(ctx, tx, s)
	if err != nil {
		return err
	}
	var events []billing.EventType
	if s.SettleCharge(c, owed, end, now) {
		if err := store.UpdateSubscription(ctx, tx, s); err != nil {
			return err
		}
		switch s.Status {
		case billing.SubscriptionPastDue:
			events = append(events, billing.EventSubscriptionPastDue)
		case billing.SubscriptionCanceled:
			events = append(events, billing.EventSubscriptionCanceled)
		}
	}
	if c.Status == billing.ChargeSucceeded && c.Kind == billing.ChargePeriod && c.PeriodIndex > 0 {
		events = append(events, billing.EventSubscriptionRenewed)
	}
	for _, t := range events {
		if err := store.AppendEvent(ctx, tx, billing.SubscriptionEvent(t, s, now)); err != nil {
			return err
		}
	}
	return nil
}

// chargeEvents are the events of the charge states that have one.
var chargeEvents = map[billing.ChargeStatus]billing.EventType{
	billing.ChargeSucceeded:   billing.EventChargeSucceeded,
	billing.ChargeFailed:      billing.EventChargeFailed,
	billing.ChargeRetrying:    billing.EventChargeFailed, // with its next retry
	billing.ChargeNeedsReview: billing.EventChargeNeedsReview,
}

// step makes one gateway call as a recorded step of the attempt: the step, with its request id,
// is committed (renewing the lease) before the call, and its outcome after. A call that fails
// transiently (the gateway did not act) is made again, as another step with the same request
// id, up to billing.TransientTries times with billing.TransientBackoff between.
func step[T any](ctx context.Context, c *collection, name string, requestID uuid.UUID, call func(context.Context) (T, error)) (T, error) {
	for try := 1; ; try++ {
		result, err := stepOnce(ctx, c, name, requestID, call)
		var ge *gateway.Error
		if !errors.As(err, &ge) || ge.Class != gateway.Transient || try > billing.TransientTries {
			return result, err
		}
		select {
		case <-ctx.Done():
			return result, err
		case <-time.After(billing.TransientBackoff(try)):
		}
	}
}

func stepOnce[T any](ctx context.Context, c *collection, name string, requestID uuid.UUID, call func(context.Context) (T, error)) (T, error) {
	var zero T
	db, clock := c.w.deps.Pool, c.clock
	id, err := store.BeginStep(ctx, db, c.run, c.attempt, name, requestID, c.w.cfg.Lease, clock.Now())
	if err != nil {
		return zero, err
	}
	c.faultPoint("before:" + name)
	result, callErr := call(gateway.WithRequestID(ctx, requestID.String()))
	c.faultPoint("after:" + name)
	outcome, detail := "ok", describe(result)
	if callErr != nil {
		outcome, detail = gateway.ClassOf(callErr).String(), callErr.Error()
	}
	if err := store.FinishStep(context.WithoutCancel(ctx), db, id, outcome, detail, clock.Now()); err != nil {
		return zero, err
	}
	return result, callErr
}

func (c *collection) faultPoint(point string) {
	if c.w.cfg.FaultPoint != nil {
		c.w.cfg.FaultPoint(point)
	}
}

// describe says in a few words what a gateway call answered.
func describe(v any) string {
	switch r := v.(type) {
	case gateway.Payment:
		return "payment " + r.ID + " " + string(r.Status)
	case gateway.Session:
		return "session " + string(r.Status)
	case gateway.Token:
		return fmt.Sprintf("token %s %v", r.Status, r.Purposes)
	}
	return ""
}
