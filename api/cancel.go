package api

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/jobs"
)

// voidCharge voids a charge, with an optional {"reason"}. A failed or retrying charge is forgiven
// at once: 200 with it canceled, and its subscription active if it owes nothing more. An
// unfinished one is called off: 202, and it ends canceled once its worker has cancelled the
// payment at the gateway, or succeeded if the capture came first.
func (a *API) voidCharge(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	clock, err := store.ChargeClock(ctx, tx, id, a.clock)
	if err != nil {
		return 0, nil, err
	}
	c, ended, err := jobs.VoidCharge(ctx, tx, clock, id, in.Reason)
	if err != nil {
		return 0, nil, err
	}
	if ended {
		return http.StatusOK, chargeOut(c, nil, nil), nil
	}
	return http.StatusAccepted, chargeOut(c, nil, nil), nil
}
