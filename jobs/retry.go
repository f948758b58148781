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

// RetryPastDue makes the latest failed or retrying charge of a subscription due for another
// attempt at once, with payment method pmID when it is not nil, which the subscription then
// bills from now on too; see RetryCharge. A subscription without such a charge is a
// *billing.ConflictError. Call it once a customer has fixed their card.
func RetryPastDue(ctx context.Context, client *Client, tx pgx.Tx, clock billing.Clock, subscriptionID uuid.UUID, pmID *uuid.UUID) (billing.Charge, error) {
	c, err := store.LockLatestUnpaidCharge(ctx, tx, subscriptionID)
	if errors.Is(err, billing.ErrNotFound) {
		return c, &billing.ConflictError{Reason: "the subscription has no failed or retrying charge"}
	}
	if err != nil {
		return c, err
	}
	return retry(ctx, client, tx, clock, c, pmID)
}

func retry(ctx context.Context, client *Client, tx pgx.Tx, clock billing.Clock, c billing.Charge, pmID *uuid.UUID) (billing.Charge, error) {
	now := clock.Now()
	var pm *billing.PaymentMethod
	if pmID != nil {
		got, err := store.GetPaymentMethod(ctx, tx, *pmID)
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
