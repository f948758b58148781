package api

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing/store"
)

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
	return http.StatusAccepted, chargeOut(c, nil, nil), nil
}
