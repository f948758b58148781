package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/jobs"
)

// removePaymentMethod serves DELETE /v1/customers/{id}/payment_methods/{pm}: the payment method
// is marked removed (no longer attached nor charged) and its token's deactivation at the gateway
// enqueued, in one transaction, unless subscriptions that are not canceled use it (409 naming
// them). The gateway call is a job: it is retried until the gateway confirms (deactivation is
// idempotent), and a gateway that fails or does not answer loses nothing. Removing it again
// answers the same payment method.
func (a *API) removePaymentMethod(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	customerID, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := parseID("pm", chi.URLParam(r, "pm"))
	if err != nil {
		return 0, nil, err
	}
	pm, removed, err := store.RemovePaymentMethod(ctx, tx, customerID, id, a.clock.Now())
	if err != nil {
		return 0, nil, err
	}
	if removed {
		if _, err := a.jobs.InsertTx(ctx, tx, jobs.DeactivateTokenArgs{PaymentMethodID: pm.ID}, nil); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, paymentMethodOut(pm), nil
}
