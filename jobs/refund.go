package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
)

// RefundChargeArgs asks for a refund to be sent to the gateway.
type RefundChargeArgs struct {
	RefundID uuid.UUID `json:"refund_id"`
}

// Kind names the job in River.
func (RefundChargeArgs) Kind() string { return "refund_charge" }

// InsertOpts keeps one unfinished job per refund.
func (RefundChargeArgs) InsertOpts() river.InsertOpts {
	return oneUnfinishedPerArgs()
}

// RefundChargeWorker sends a refund to the gateway: one call, made at most once.
//
// The refund is marked sending, and committed, before the call; its request id was recorded when
// it was created. The gateway's answer decides the rest: a refund id makes it succeeded; a
// refusal, failed (its amount is refundable again); a gateway that did not take it (Transient),
// pending again, for River to retry. An answer that is lost (UnknownOutcome), or a run that
// stopped while sending (the next run finds the refund sending), puts it in needs_review: EGW
// documents no way to read a refund back, nor whether a repeated X-Request-Id is de-duplicated,
// so sending it again could refund twice. A person looks it up at the gateway instead.
type RefundChargeWorker struct {
	river.WorkerDefaults[RefundChargeArgs]
	deps Deps
	cfg  Config
}

// NextRetry retries a refund that the gateway did not take soon, as CollectChargeWorker does.
func (w *RefundChargeWorker) NextRetry(job *river.Job[RefundChargeArgs]) time.Time {
	return retrySoon(job.Attempt)
}

// Work sends one refund.
func (w *RefundChargeWorker) Work(ctx context.Context, job *river.Job[RefundChargeArgs]) error {
	db, clock := w.deps.Pool, w.deps.Clock
	log := w.deps.Logger.With(slog.String("refund_id", job.Args.RefundID.String()))
	r, started, err := store.StartRefund(ctx, db, job.Args.RefundID, clock.Now())
	if err != nil {
		return err
	}
	if !started {
		// Finished, or left sending by a run that stopped without knowing whether it was sent.
		stopped, err := finishRefund(ctx, db, job.Args.RefundID, billing.RefundNeedsReview, "", &billing.Failure{
			Code: billing.FailureRefundUnknown, Reason: "a run stopped while sending the refund: look it up at the gateway"}, clock.Now())
		if stopped {
			log.WarnContext(ctx, "refund left sending: needs review")
		}
		return err
	}
	log = log.With(slog.String("charge_id", r.ChargeID.String()), slog.String("request_id", r.RequestID.String()))
	w.faultPoint("before:" + billing.StepRefund)
	res, callErr := w.deps.Gateway.Refund(gateway.WithRequestID(ctx, r.RequestID.String()), r.GatewayPaymentID, r.Amount)
	w.faultPoint("after:" + billing.StepRefund)
	status, failure := billing.RefundSucceeded, (*billing.Failure)(nil)
	var ge *gateway.Error
	switch class := gateway.ClassOf(callErr); {
	case callErr == nil:
	case class == gateway.Transient && job.Attempt < job.MaxAttempts:
		if _, _, err := store.FinishRefund(context.WithoutCancel(ctx), db, r.ID, billing.RefundPending, "", nil, clock.Now()); err != nil {
			return err
		}
		return callErr // River retries: the gateway did not take it
	case class == gateway.Transient:
		status, failure = billing.RefundFailed, &billing.Failure{Code: billing.FailureGatewayUnavailable, Reason: callErr.Error()}
	case class == gateway.Declined && errors.As(callErr, &ge):
		status, failure = billing.RefundFailed, &billing.Failure{Code: ge.Code, Reason: ge.Text}
	case class == gateway.Permanent:
		status, failure = billing.RefundFailed, &billing.Failure{Code: billing.FailureRejected, Reason: callErr.Error()}
	default:
		status, failure = billing.RefundNeedsReview, &billing.Failure{Code: billing.FailureRefundUnknown,
			Reason: "the gateway's answer was lost (" + callErr.Error() + "): look the refund up at the gateway"}
	}
	if _, err := finishRefund(context.WithoutCancel(ctx), db, r.ID, status, res.ID, failure, clock.Now()); err != nil {
		return err
	}
	log.InfoContext(ctx, "refund finished", slog.String("status", string(status)))
	return nil
}

// finishRefund records how the sending of refund id ended and, when it succeeded or needs
// review, appends charge.refunded or refund.needs_review, in one transaction. It reports whether
// the refund was being sent.
func finishRefund(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, status billing.RefundStatus, gatewayRefundID string,
	failure *billing.Failure, now time.Time) (finished bool, err error) {
	err = store.InTx(ctx, pool, func(tx pgx.Tx) error {
		var r billing.Refund
		r, finished, err = store.FinishRefund(ctx, tx, id, status, gatewayRefundID, failure, now)
		if err != nil || !finished {
			return err
		}
		t, ok := refundEvents[status]
		if !ok {
			return nil
		}
		c, err := store.GetCharge(ctx, tx, r.ChargeID)
		if err != nil {
			return err
		}
		refunds, err := store.ListRefunds(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		return store.AppendEvent(ctx, tx, billing.ChargeRefundEvent(t, c, refunds[c.ID], r, now))
	})
	return finished, err
}

// refundEvents are the events of a refund's ends that the merchant hears of.
var refundEvents = map[billing.RefundStatus]billing.EventType{
	billing.RefundSucceeded:   billing.EventChargeRefunded,
	billing.RefundNeedsReview: billing.EventRefundNeedsReview,
}

func (w *RefundChargeWorker) faultPoint(point string) {
	if w.cfg.FaultPoint != nil {
		w.cfg.FaultPoint(point)
	}
}
