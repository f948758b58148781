package api

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing/store"
)

// cancelSubscription ends a subscription now. Its unfinished charge, if any, is called off: an
// authorization is cancelled at the gateway rather than captured.
func (a *API) cancelSubscription(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	s, err := store.CancelSubscription(ctx, tx, id, a.clock.Now())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, subscriptionOut(s), nil
}

// voidCharge calls off an unfinished charge. The answer is 202: the charge ends canceled once its
// worker has cancelled the payment at the gateway, or succeeded if the capture came first.
func (a *API) voidCharge(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	c, err := store.VoidCharge(ctx, tx, id, a.clock.Now())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, chargeOut(c, nil), nil
}
