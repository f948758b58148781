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

// Where a sync of a setup comes from. Each source keeps its own unfinished job, so that an EGW
// callback is not swallowed by the poll that is waiting for its next look.
const (
	SyncByPoll     = "poll"     // enqueued with the setup: reads it until it is final or expires
	SyncByCallback = "callback" // an EGW callback: reads it once
)

// SyncSetupArgs asks for a payment-method setup to be brought up to date with its gateway payment.
type SyncSetupArgs struct {
	SetupID uuid.UUID `json:"setup_id"`
	Source  string    `json:"source"` // SyncByPoll or SyncByCallback
}

// Kind names the job in River.
func (SyncSetupArgs) Kind() string { return "sync_payment_method_setup" }

// InsertOpts keeps one unfinished job per setup and source: duplicate callbacks make one job.
func (SyncSetupArgs) InsertOpts() river.InsertOpts { return oneUnfinishedPerArgs() }

// SyncSetupWorker syncs a setup (SyncSetup). The poll snoozes while the setup is pending, at first
// every PollInterval, then every tenth of the setup's age, at most every 5 minutes, until the
// setup ends or expires.
type SyncSetupWorker struct {
	river.WorkerDefaults[SyncSetupArgs]
	deps Deps
	cfg  Config
}

// NextRetry retries soon: a failed sync only read.
func (w *SyncSetupWorker) NextRetry(job *river.Job[SyncSetupArgs]) time.Time {
	return retrySoon(job.Attempt)
}

// Work syncs the setup once, and snoozes the poll while it is pending.
func (w *SyncSetupWorker) Work(ctx context.Context, job *river.Job[SyncSetupArgs]) error {
	s, err := SyncSetup(ctx, w.deps, river.ClientFromContext[pgx.Tx](ctx), job.Args.SetupID)
	if err != nil || s.Status != billing.SetupPending || job.Args.Source != SyncByPoll {
		return err
	}
	age := w.deps.Clock.Now().Sub(s.CreatedAt)
	return river.JobSnooze(min(max(age/10, w.cfg.PollInterval), 5*time.Minute))
}

// SyncSetup reads a pending setup's payment at the gateway and ends the setup when the payment
// has: failed (or was abandoned or cancelled, or is unknown to the gateway) -> failed; went through -> the token it set up is
// read and, when it can be charged, stored as the customer's payment method, once, with the
// chosen subscriptions switched to it, a payment_method.updated event and a retry of their
// failed charge (enqueued with jobs). A setup past its expiry has its payment cancelled, so that
// the checkout can no longer be completed, and expires. It never trusts a caller: the gateway's
// answer decides. It returns the setup as it is afterwards; an ended setup is returned as is.
func SyncSetup(ctx context.Context, d Deps, jobs *Client, id uuid.UUID) (billing.PaymentMethodSetup, error) {
	s, err := store.GetSetup(ctx, d.Pool, id)
	if err != nil || s.Status != billing.SetupPending {
		return s, err
	}
	p, err := d.Gateway.GetPayment(ctx, s.GatewayPaymentID)
	if gateway.IsNotFound(err) {
		return endSetup(ctx, d, s, billing.SetupFailed, &billing.Failure{Code: billing.FailureCheckoutFailed,
			Reason: "the gateway does not know the payment"})
	}
	if err != nil {
		return s, fmt.Errorf("sync setup %s: %w", id, err)
	}
	now := d.Clock.Now()
	switch {
	case p.Succeeded():
		return completeSetup(ctx, d, jobs, s, p)
	case p.Final():
		return endSetup(ctx, d, s, billing.SetupFailed, &billing.Failure{Code: billing.FailureCheckoutFailed,
			Reason: fmt.Sprintf("the gateway payment is %s", p.Status)})
	case !now.Before(s.ExpiresAt):
		if _, err := d.Gateway.Cancel(ctx, p.ID); err != nil {
			return s, fmt.Errorf("sync setup %s: cancel the expired checkout: %w", id, err) // read again next time
		}
		return endSetup(ctx, d, s, billing.SetupExpired, &billing.Failure{Code: billing.FailureSetupExpired,
			Reason: fmt.Sprintf("the checkout was not completed by %s", s.ExpiresAt.UTC().Format(time.RFC3339))})
	}
	return s, nil
}

// completeSetup ends a setup whose payment went through.
func completeSetup(ctx context.Context, d Deps, jobs *Client, s billing.PaymentMethodSetup, p gateway.Payment) (billing.PaymentMethodSetup, error) {
	if p.TokenID == "" {
		return endSetup(ctx, d, s, billing.SetupFailed, &billing.Failure{Code: billing.FailureNoToken,
			Reason: "the gateway payment went through but set no token up"})
	}
	tok, err := d.Gateway.GetToken(ctx, p.TokenID)
	if err != nil {
		return s, fmt.Errorf("sync setup %s: %w", s.ID, err)
	}
	now := d.Clock.Now()
	if f := tok.Check(now, gateway.MITPurposes...); f != nil {
		return endSetup(ctx, d, s, billing.SetupFailed, f)
	}
	purposes := make([]string, len(tok.Purposes))
	for i, p := range tok.Purposes {
		purposes[i] = string(p)
	}
	brand := tok.Brand
	if brand == "" {
		brand = p.Brand // EGW's token information has none; the payment's card does
	}
	err = store.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		cur, err := store.LockSetup(ctx, tx, s.ID)
		if err != nil || cur.Status != billing.SetupPending {
			s = cur // another sync ended it first
			return err
		}
		pm, _, err := store.SavePaymentMethod(ctx, tx, billing.PaymentMethod{
			ID: billing.NewID(), CustomerID: s.CustomerID, GatewayTokenID: tok.ID, Brand: brand, Last4: tok.Last4,
			ExpMonth: tok.ExpiryMonth, ExpYear: tok.ExpiryYear, Purposes: purposes, CreatedAt: now,
		})
		if err != nil {
			return err
		}
		cur.Status, cur.PaymentMethodID, cur.UpdatedAt = billing.SetupSucceeded, &pm.ID, now
		if err := store.FinishSetup(ctx, tx, cur); err != nil {
			return err
		}
		if err := store.AppendEvent(ctx, tx, billing.PaymentMethodEvent(billing.EventPaymentMethodUpdated, pm, now)); err != nil {
			return err
		}
		// The subscriptions move, and their charges are retried, at their customer's time (its
		// test clock's, if it has one), as the API and the charge worker see it.
		clock, err := store.CustomerClock(ctx, tx, s.CustomerID, d.Clock)
		if err != nil {
			return err
		}
		for _, subID := range cur.SubscriptionIDs {
			if err := switchSubscription(ctx, d.Logger, tx, jobs, clock, subID, pm); err != nil {
				return err
			}
		}
		s = cur
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("complete setup %s: %w", s.ID, err)
	}
	return s, nil
}

// switchSubscription makes the subscription bill pm and, when it is past due or unpaid, retries
// every failed or retrying charge it owes with pm at once, oldest first (RetryPastDue). A
// subscription canceled since the setup began, or that pm's token cannot bill (no recurring
// purpose, or no STANDING_ORDER for the amounts set for its upcoming periods), is left alone.
func switchSubscription(ctx context.Context, log *slog.Logger, tx pgx.Tx, jobs *Client, clock billing.Clock, subID uuid.UUID, pm billing.PaymentMethod) error {
	now := clock.Now()
	// The charges that RetryPastDue retries are locked before the subscription, as the charge
	// worker locks them, so that the two never wait for each other.
	if _, err := store.LockRetryableCharges(ctx, tx, subID); err != nil {
		return err
	}
	sub, err := store.LockSubscription(ctx, tx, subID)
	if err != nil {
		return err
	}
	amounts, err := store.UpcomingPeriodAmounts(ctx, tx, sub)
	if err != nil {
		return err
	}
	err = sub.SetPaymentMethod(pm, now)
	switch {
	case err != nil:
	case !gateway.Carries(pm.Purposes, gateway.PurposesFor(gateway.ChannelRecurring)...):
		err = errors.New("the token has no SUBSCRIPTION or STANDING_ORDER purpose")
	case len(amounts) > 0 && !gateway.Carries(pm.Purposes, gateway.PurposeStandingOrder):
		err = errors.New("the token has no STANDING_ORDER purpose, which the amounts set for upcoming periods need")
	}
	if err != nil {
		log.WarnContext(ctx, "subscription not switched to the new payment method", slog.String("subscription_id", subID.String()), slog.Any("reason", err))
		return nil
	}
	if err := store.UpdateSubscription(ctx, tx, sub); err != nil {
		return err
	}
	if sub.Status != billing.SubscriptionPastDue && sub.Status != billing.SubscriptionUnpaid {
		return nil
	}
	_, err = RetryPastDue(ctx, jobs, tx, clock, sub.ID, &pm.ID)
	if errors.Is(err, billing.ErrConflict) {
		log.InfoContext(ctx, "no charge of the subscription to retry", slog.String("subscription_id", subID.String()), slog.Any("reason", err))
		return nil
	}
	return err
}

// endSetup ends a pending setup without a payment method.
func endSetup(ctx context.Context, d Deps, s billing.PaymentMethodSetup, status billing.SetupStatus, f *billing.Failure) (billing.PaymentMethodSetup, error) {
	s.Status, s.Failure, s.UpdatedAt = status, f, d.Clock.Now()
	err := store.FinishSetup(ctx, d.Pool, s)
	if errors.Is(err, billing.ErrConflict) {
		return store.GetSetup(ctx, d.Pool, s.ID) // another sync ended it first
	}
	return s, err
}

// DeactivateTokenArgs asks for a removed payment method's token to be deactivated at the gateway.
type DeactivateTokenArgs struct {
	PaymentMethodID uuid.UUID `json:"payment_method_id"`
}

// Kind names the job in River.
func (DeactivateTokenArgs) Kind() string { return "deactivate_token" }

// InsertOpts keeps one unfinished job per payment method, and tries for days: deactivation is
// idempotent, so repeating it after any failure, an unknown outcome included, is safe.
func (DeactivateTokenArgs) InsertOpts() river.InsertOpts {
	o := oneUnfinishedPerArgs()
	o.MaxAttempts = 100
	return o
}

// DeactivateTokenWorker deactivates the token of a removed payment method (DELETE tokens/{id}) and
// records that the gateway did. A token the gateway does not know is as good as deactivated.
type DeactivateTokenWorker struct {
	river.WorkerDefaults[DeactivateTokenArgs]
	deps Deps
}

// NextRetry backs off from a second, doubling, up to an hour between tries.
func (w *DeactivateTokenWorker) NextRetry(job *river.Job[DeactivateTokenArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt-1, 20), time.Hour))
}

// Work deactivates the token once.
func (w *DeactivateTokenWorker) Work(ctx context.Context, job *river.Job[DeactivateTokenArgs]) error {
	pm, err := store.GetPaymentMethod(ctx, w.deps.Pool, job.Args.PaymentMethodID)
	if err != nil || pm.TokenDeactivatedAt != nil {
		return err
	}
	if pm.RemovedAt == nil {
		return fmt.Errorf("payment method %s is not removed: its token stays active", pm.ID)
	}
	status, err := w.deps.Gateway.DeactivateToken(ctx, pm.GatewayTokenID)
	switch {
	case gateway.IsNotFound(err):
		w.deps.Logger.WarnContext(ctx, "the gateway does not know the removed payment method's token", slog.String("payment_method_id", pm.ID.String()))
	case err != nil:
		return fmt.Errorf("deactivate token of payment method %s: %w", pm.ID, err)
	case status != gateway.TokenSuspended:
		return fmt.Errorf("deactivate token of payment method %s: the gateway says it is %s", pm.ID, status)
	}
	return store.SetTokenDeactivated(ctx, w.deps.Pool, pm.ID, w.deps.Clock.Now())
}
