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
}

// Kind names the job in River.
func (CollectChargeArgs) Kind() string { return "collect_charge" }

// InsertOpts keeps one job per charge until it has finished.
func (CollectChargeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// CollectChargeWorker collects a charge with a merchant-initiated payment: token check, payment,
// token session, read the outcome (snoozing while the gateway processes it), capture.
//
// Every gateway call is recorded as a step, committed before the call is made, and the payment id
// is committed as soon as the gateway gives it. A run that resumes (after a crash, a timeout or a
// retry) reads the payment's state at the gateway before doing anything, and acts on that state:
// it starts a token session only on an INITIALIZED payment and captures only an AUTHORIZED one.
// Money moves only at the token session, which is only ever started on the attempt's one recorded
// payment, so a payment created but not recorded (a lost answer) is an empty INITIALIZED payment
// that the gateway abandons.
type CollectChargeWorker struct {
	river.WorkerDefaults[CollectChargeArgs]
	deps         Deps
	pollInterval time.Duration
}

// Work collects one charge.
func (w *CollectChargeWorker) Work(ctx context.Context, job *river.Job[CollectChargeArgs]) error {
	charge, err := store.GetCharge(ctx, w.deps.Pool, job.Args.ChargeID)
	if errors.Is(err, billing.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil || charge.Status.Terminal() {
		return err
	}
	pm, err := store.GetPaymentMethod(ctx, w.deps.Pool, charge.PaymentMethodID)
	if err != nil {
		return err
	}
	var attempt billing.Attempt
	err = store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) (err error) {
		attempt, err = store.OpenAttempt(ctx, tx, charge.ID, w.deps.Clock.Now())
		return err
	})
	if err != nil || attempt.Status != billing.AttemptProcessing {
		return err
	}
	c := &collection{w: w, charge: charge, tokenID: pm.GatewayTokenID, attempt: attempt,
		log: w.deps.Logger.With(slog.String("charge_id", charge.ID.String()), slog.String("attempt_id", attempt.ID.String()))}
	return c.run(ctx)
}

// collection is one run of the worker on one attempt.
type collection struct {
	w       *CollectChargeWorker
	charge  billing.Charge
	tokenID string
	attempt billing.Attempt
	log     *slog.Logger
}

func (c *collection) run(ctx context.Context) error {
	var p gateway.Payment
	var err error
	if c.attempt.GatewayPaymentID == "" {
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
			if err = c.startSession(ctx); err == nil && !c.done() {
				p, err = c.getPayment(ctx)
			}
		case gateway.PaymentSentForProcessing:
			return river.JobSnooze(c.w.pollInterval)
		case gateway.PaymentAuthorized:
			p, err = step(ctx, c, billing.StepCapture, func(ctx context.Context) (gateway.Payment, error) {
				return c.w.deps.Gateway.Capture(ctx, p.ID, c.charge.Amount)
			})
		case gateway.PaymentCaptured, gateway.PaymentSettled, gateway.PaymentRefunded:
			err = c.finish(ctx, billing.AttemptSucceeded, nil)
		case gateway.PaymentFailed, gateway.PaymentAbandoned, gateway.PaymentCancelled:
			err = c.finish(ctx, billing.AttemptFailed, &billing.Failure{
				Code: billing.FailurePaymentFailed, Reason: fmt.Sprintf("the gateway payment is %s", p.Status)})
		default:
			return fmt.Errorf("payment %s has unknown status %q", p.ID, p.Status)
		}
	}
	return err
}

// done reports whether the attempt has finished.
func (c *collection) done() bool { return c.attempt.Status != billing.AttemptProcessing }

// getPayment reads the attempt's payment at the gateway.
func (c *collection) getPayment(ctx context.Context) (gateway.Payment, error) {
	return step(ctx, c, billing.StepGetPayment, func(ctx context.Context) (gateway.Payment, error) {
		return c.w.deps.Gateway.GetPayment(ctx, c.attempt.GatewayPaymentID)
	})
}

// checkToken verifies that the token can pay this charge; when it cannot, the attempt fails.
func (c *collection) checkToken(ctx context.Context) error {
	tok, err := step(ctx, c, billing.StepCheckToken, func(ctx context.Context) (gateway.Token, error) {
		return c.w.deps.Gateway.GetToken(ctx, c.tokenID)
	})
	if gateway.IsNotFound(err) {
		return c.finish(ctx, billing.AttemptFailed, &billing.Failure{Code: billing.FailureTokenNotFound, Reason: "the gateway does not know the token"})
	}
	if err != nil {
		return err
	}
	if f := tok.Check(c.w.deps.Clock.Now(), gateway.PurposesFor(gateway.Channel(c.charge.Channel))...); f != nil {
		return c.finish(ctx, billing.AttemptFailed, f)
	}
	return nil
}

// createPayment creates the attempt's payment and records its id.
func (c *collection) createPayment(ctx context.Context) (gateway.Payment, error) {
	p, err := step(ctx, c, billing.StepCreatePayment, func(ctx context.Context) (gateway.Payment, error) {
		return c.w.deps.Gateway.CreateMITPayment(ctx, gateway.MITPaymentRequest{
			Channel: gateway.Channel(c.charge.Channel), Amount: c.charge.Amount,
			OrderNumber: c.attempt.OrderNumber, MerchantReference: "recur charge " + c.charge.ID.String(),
		})
	})
	if err != nil {
		return p, c.failIfRejected(ctx, err)
	}
	if err := store.SetAttemptPayment(context.WithoutCancel(ctx), c.w.deps.Pool, c.attempt.ID, p.ID, c.w.deps.Clock.Now()); err != nil {
		return p, err
	}
	c.attempt.GatewayPaymentID = p.ID
	return p, nil
}

// startSession pays the attempt's payment with the token: the call that authorizes.
func (c *collection) startSession(ctx context.Context) error {
	_, err := step(ctx, c, billing.StepStartSession, func(ctx context.Context) (gateway.Session, error) {
		return c.w.deps.Gateway.StartTokenSession(ctx, c.attempt.GatewayPaymentID, c.tokenID)
	})
	return c.failIfRejected(ctx, err)
}

// failIfRejected fails the attempt when the gateway declined or refused a call that moves no money
// when refused; other errors are returned for River to retry, and the retry reads the payment
// first.
func (c *collection) failIfRejected(ctx context.Context, err error) error {
	var ge *gateway.Error
	if !errors.As(err, &ge) {
		return err
	}
	switch ge.Class {
	case gateway.Declined:
		return c.finish(ctx, billing.AttemptFailed, &billing.Failure{Code: ge.Code, Reason: ge.Text})
	case gateway.Permanent:
		return c.finish(ctx, billing.AttemptFailed, &billing.Failure{Code: billing.FailureRejected, Reason: ge.Error()})
	}
	return err
}

// finish ends the attempt, and the charge with it.
func (c *collection) finish(ctx context.Context, status billing.AttemptStatus, f *billing.Failure) error {
	if err := store.FinishAttempt(context.WithoutCancel(ctx), c.w.deps.Pool, c.attempt.ID, status, f, c.w.deps.Clock.Now()); err != nil {
		return err
	}
	c.attempt.Status, c.attempt.Failure = status, f
	attrs := []any{slog.String("status", string(status))}
	var code string
	if f != nil {
		code = f.Code
		attrs = append(attrs, slog.String("failure_code", code))
	}
	c.w.deps.Observer.ChargeFinished(string(status), code)
	c.log.InfoContext(ctx, "charge finished", attrs...)
	return nil
}

// step makes one gateway call as a recorded step of the attempt: the step, with its request id,
// is committed before the call, and its outcome after.
func step[T any](ctx context.Context, c *collection, name string, call func(context.Context) (T, error)) (T, error) {
	var zero T
	requestID := uuid.New()
	db, clock := c.w.deps.Pool, c.w.deps.Clock
	if err := store.BeginStep(ctx, db, c.attempt.ID, name, requestID, clock.Now()); err != nil {
		return zero, err
	}
	result, callErr := call(gateway.WithRequestID(ctx, requestID.String()))
	outcome, detail := "ok", describe(result)
	if callErr != nil {
		outcome, detail = gateway.ClassOf(callErr).String(), callErr.Error()
	}
	if err := store.FinishStep(context.WithoutCancel(ctx), db, requestID, outcome, detail, clock.Now()); err != nil {
		return zero, err
	}
	return result, callErr
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
