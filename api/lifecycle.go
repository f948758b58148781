package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
)

// changeSubscription locks the subscription named in the path, applies op to it at its customer's
// time (a test clock's, if it has one) and stores it, with the event of its change of state if it
// has one (billing.StatusEvent), in tx. op's errors (a state that does not allow the change is a
// 409) are the answer.
func (a *API) changeSubscription(ctx context.Context, tx pgx.Tx, r *http.Request,
	op func(s *billing.Subscription, now time.Time) error) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	s, err := store.LockSubscription(ctx, tx, id)
	if err != nil {
		return 0, nil, err
	}
	clock, err := a.clockOf(ctx, tx, s.CustomerID)
	if err != nil {
		return 0, nil, err
	}
	from, now := s.Status, clock.Now()
	if err := op(&s, now); err != nil {
		return 0, nil, err
	}
	if err := store.UpdateSubscription(ctx, tx, s); err != nil {
		return 0, nil, err
	}
	if t, ok := billing.StatusEvent(from, s.Status); ok {
		if err := store.AppendEvent(ctx, tx, billing.SubscriptionEvent(t, s, now)); err != nil {
			return 0, nil, err
		}
	}
	out, err := subscriptionWithAmounts(ctx, tx, s)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// cancelSubscription ends a subscription now, or with {"at_period_end": true} when its current
// period (or trial) ends, that end not billed. Ended now, its unfinished charge, if any, is called
// off: an authorization is cancelled at the gateway rather than captured.
func (a *API) cancelSubscription(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		AtPeriodEnd bool `json:"at_period_end"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	return a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) error {
		if in.AtPeriodEnd {
			return s.CancelAtPeriodEnd(now)
		}
		return s.Cancel(now)
	})
}

// undoCancel withdraws a pending cancel at period end.
func (a *API) undoCancel(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	return a.changeSubscription(ctx, tx, r, (*billing.Subscription).UndoCancel)
}

// pauseSubscription stops billing until the subscription is resumed, or until {"until": time}.
func (a *API) pauseSubscription(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		Until *time.Time `json:"until"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Until != nil {
		u := in.Until.UTC()
		in.Until = &u
	}
	return a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) error {
		return s.Pause(in.Until, now)
	})
}

// resumeSubscription bills a paused or unpaid subscription again from the next period that
// starts from now on: active, or past due while it owes charges.
func (a *API) resumeSubscription(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	return a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) error {
		owed, err := store.OwedCharges(ctx, tx, *s)
		if err != nil {
			return err
		}
		return s.Resume(now, now, owed)
	})
}

// setSubscriptionPaymentMethod bills another of the customer's payment methods from the next
// charge on; it must carry a purpose for recurring charges, and STANDING_ORDER when amounts are
// set for upcoming periods.
func (a *API) setSubscriptionPaymentMethod(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		PaymentMethodID string `json:"payment_method_id"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	pmID, err := parseID("payment_method_id", in.PaymentMethodID)
	if err != nil {
		return 0, nil, err
	}
	pm, err := store.LockPaymentMethod(ctx, tx, pmID)
	if err != nil {
		return 0, nil, asFieldError(err, "payment_method_id", "no such payment method")
	}
	if err := checkPurpose(pm, gateway.ChannelRecurring); err != nil {
		return 0, nil, err
	}
	return a.changeSubscription(ctx, tx, r, func(s *billing.Subscription, now time.Time) error {
		if err := s.SetPaymentMethod(pm, now); err != nil {
			return err
		}
		// Amounts set for upcoming periods are variable: the new token must take them too.
		amounts, err := store.UpcomingPeriodAmounts(ctx, tx, *s)
		if err != nil || len(amounts) == 0 {
			return err
		}
		return checkVariableAmounts(pm)
	})
}

// checkPurpose says, as a problem of payment_method_id, when the payment method was removed or
// its token carries none of the purposes that a charge through channel needs.
func checkPurpose(pm billing.PaymentMethod, channel gateway.Channel) error {
	if err := pm.Attachable(); err != nil {
		return err
	}
	purposes := gateway.PurposesFor(channel)
	if gateway.Carries(pm.Purposes, purposes...) {
		return nil
	}
	names := make([]string, len(purposes))
	for i, p := range purposes {
		names[i] = string(p)
	}
	return &billing.ValidationError{Field: "payment_method_id", Reason: "the token has no " + strings.Join(names, " or ") + " purpose"}
}

// decodeOptional is decode for a body that may be left out (or empty): then dst keeps its zero
// values.
func decodeOptional(r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return &billing.ValidationError{Field: "body", Reason: "must be at most 1 MiB"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(r, dst)
}
