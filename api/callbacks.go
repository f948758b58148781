package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/jobs"
)

// egwCallback serves POST /v1/egw/callbacks: EGW says that a payment changed. Callbacks are not
// signed and EGW cannot send an API key, so the body is trusted for nothing: it only names a
// payment, and the answer is at most a read of that payment at the gateway, by a job (never
// inline: the answer comes fast). A setup's payment enqueues a sync of the setup, a charge's a
// run of its collect job, which reads the payment before acting; River's unique jobs make
// duplicate callbacks one job while it is unfinished, so a flood of callbacks costs at most one
// gateway read per known payment at a time. An unknown payment is logged and answered 204 too,
// so that EGW does not send it again; a body that is not a callback is a 400.
func (a *API) egwCallback(w http.ResponseWriter, r *http.Request) {
	var cb struct {
		Type      string `json:"type"`
		PaymentID string `json:"paymentId"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &cb)
	}
	switch {
	case err != nil:
		writeProblem(w, Problem{Status: http.StatusBadRequest, Detail: "the body is not a JSON callback",
			Errors: []FieldProblem{{Field: "body", Reason: "must be a JSON object {type, paymentId} of at most 64 KiB"}}})
		return
	case cb.Type != "PAYMENT":
		a.log.InfoContext(r.Context(), "egw callback of another type ignored", slog.String("type", cb.Type))
		w.WriteHeader(http.StatusNoContent)
		return
	case cb.PaymentID == "" || len(cb.PaymentID) > 64:
		writeProblem(w, Problem{Status: http.StatusBadRequest, Detail: "the callback names no payment",
			Errors: []FieldProblem{{Field: "paymentId", Reason: "is required, at most 64 characters"}}})
		return
	}
	ctx := r.Context()
	log := a.log.With(slog.String("payment_id", cb.PaymentID), slog.String("egw_request_id", r.Header.Get("X-Request-Id")))
	owner, err := store.FindPaymentOwner(ctx, a.db, cb.PaymentID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var args river.JobArgs
	switch {
	case owner.SetupID != nil:
		args = jobs.SyncSetupArgs{SetupID: *owner.SetupID, Source: jobs.SyncByCallback}
	case owner.ChargeID != nil:
		args = jobs.CollectChargeArgs{ChargeID: *owner.ChargeID}
	default:
		log.WarnContext(ctx, "egw callback for a payment that Recur does not know: ignored")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	res, err := a.jobs.Insert(ctx, args, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	log.InfoContext(ctx, "egw callback", slog.String("job", args.Kind()), slog.Bool("duplicate", res.UniqueSkippedAsDuplicate))
	w.WriteHeader(http.StatusNoContent)
}
