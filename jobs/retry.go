package jobs

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// RetryCharge makes a failed or retrying charge due for another attempt at once, with payment
// method pmID when it is not nil (one of the charge's customer's), and enqueues its job, in tx.
// The card's attempt caps still hold: the worker defers an attempt that would exceed them, and
// the charge says so. A charge in another state, or of a canceled subscription, is a
// *billing.ConflictError.
func RetryCharge(ctx context.Context, client *Client, tx pgx.Tx, clock billing.Clock, chargeID uuid.UUID, pmID *uuid.UUID) (billing.Charge, error) {
	c, err := store.LockCharge(ctx, tx, chargeID)
	if err != nil {
		return c, err
	}
	return retry(ctx, client, tx, clock, c, pmID)
}

// RetryPastDue makes every charge that a subscription owes and that waits (failed or retrying; see
// billing.Charge.Outstanding) due for another attempt at once, oldest period first, each a new
// attempt with its own job, all in tx; with payment method pmID when it is not nil, which the
// subscription then bills from now on too. See RetryCharge: the card's attempt caps still hold,
// so some attempts may be deferred (each charge says until when). It returns the charges retried,
// oldest first; a subscription without such a charge is a *billing.ConflictError. Call it once a
// customer has fixed their card.
func RetryPastDue(ctx context.Context, client *Client, tx pgx.Tx, clock billing.Clock, subscriptionID uuid.UUID, pmID *uuid.UUID) ([]billing.Charge, error) {
	owed, err := store.LockRetryableCharges(ctx, tx, subscriptionID) // retry locks the subscription after them
	if err != nil {
		return nil, err
	}
	var retried []billing.Charge
	for _, c := range owed {
		if c, err = retry(ctx, client, tx, clock, c, pmID); err != nil {
			return nil, err
		}
		retried = append(retried, c)
	}
	if len(retried) == 0 {
		return nil, &billing.ConflictError{Reason: "the subscription has no failed or retrying charge"}
	}
	return retried, nil
}

// VoidCharge voids a charge for the merchant, with reason (optional), in tx. A failed or retrying
// charge is forgiven at once: it ends canceled (billing.Charge.Forgive), no longer owed, and its
// subscription moves on as when a charge settles (active once it owes nothing more). An
// unfinished one (pending, processing, reconciling) is called off by its worker
// (store.VoidCharge); a captured one, or one in review, is a *billing.ConflictError. It returns
// the charge, and whether it ended now.
func VoidCharge(ctx context.Context, tx pgx.Tx, clock billing.Clock, chargeID uuid.UUID, reason string) (billing.Charge, bool, error) {
	c, err := store.LockCharge(ctx, tx, chargeID)
	if err != nil {
		return c, false, err
	}
	if reason, err = billing.VoidReason(reason); err != nil {
		return c, false, err
	}
	if !c.Retryable() {
		c, err = store.VoidCharge(ctx, tx, chargeID, reason, clock.Now())
		return c, false, err
	}
	now := clock.Now()
	if err := c.Forgive(reason, now); err != nil {
		return c, false, err
	}
	if err := store.SaveForgiven(ctx, tx, c); err != nil {
		return c, false, err
	}
	return c, true, chargeSettled(ctx, tx, c, "", now)
}

// retry makes c, locked in tx, due for another attempt. A charge that cannot be retried is
// refused before pmID's lock is taken: a worker may be working it, holding that lock in
// ReserveCardAttempt while it waits for c's to defer it.
func retry(ctx context.Context, client *Client, tx pgx.Tx, clock billing.Clock, c billing.Charge, pmID *uuid.UUID) (billing.Charge, error) {
	now := clock.Now()
	if !c.Retryable() {
		return c, c.RetryNow(nil, now) // its refusal
	}
	var pm *billing.PaymentMethod
	if pmID != nil {
		got, err := store.LockPaymentMethod(ctx, tx, *pmID)
		if errors.Is(err, billing.ErrNotFound) {
			return c, &billing.ValidationError{Field: "payment_method_id", Reason: "no such payment method"}
		}
		if err != nil {
			return c, err
		}
		pm = &got
	}
	if err := c.RetryNow(pm, now); err != nil {
		return c, err
	}
	if !c.AdHoc() {
		s, err := store.LockSubscription(ctx, tx, *c.SubscriptionID)
		if err != nil {
			return c, err
		}
		if s.Status == billing.SubscriptionCanceled {
			return c, &billing.ConflictError{Reason: "the charge's subscription is canceled"}
		}
		if pm != nil && s.PaymentMethodID != pm.ID {
			if err := s.SetPaymentMethod(*pm, now); err != nil {
				return c, err
			}
			if err := store.UpdateSubscription(ctx, tx, s); err != nil {
				return c, err
			}
		}
	}
	if err := store.SaveRetry(ctx, tx, c); err != nil {
		return c, err
	}
	if _, err := client.InsertTx(ctx, tx, CollectChargeArgs{ChargeID: c.ID}, nil); err != nil {
		return c, err
	}
	return c, nil
}
