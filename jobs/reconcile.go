package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// ReconcileChargesArgs asks for one janitor pass over unfinished charges.
type ReconcileChargesArgs struct{}

// Kind names the job in River.
func (ReconcileChargesArgs) Kind() string { return "reconcile_charges" }

// InsertOpts keeps passes from piling up.
func (ReconcileChargesArgs) InsertOpts() river.InsertOpts {
	return onePassAtATime()
}

// ReconcileChargesWorker is the janitor. It moves charges whose outcome has stayed unknown for
// longer than Config.ReviewAfter to needs_review (with their charge.needs_review events), then
// enqueues a CollectCharge job for every charge due for a look: reconciling ones whose backoff
// has passed, retrying ones whose next attempt is due (in case their scheduled job was lost),
// and pending or processing ones that no run holds and that have not moved for a while (their
// job was lost). The collect job reads the payment at the gateway before doing anything, which
// is the reconciliation.
type ReconcileChargesWorker struct {
	river.WorkerDefaults[ReconcileChargesArgs]
	deps Deps
	cfg  Config
}

// Work runs one janitor pass.
func (w *ReconcileChargesWorker) Work(ctx context.Context, _ *river.Job[ReconcileChargesArgs]) error {
	var reviewed []billing.Charge
	err := store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) (err error) {
		now := w.deps.Clock.Now()
		if reviewed, err = store.ReviewOverdue(ctx, tx, w.cfg.ReviewAfter); err != nil {
			return err
		}
		for _, c := range reviewed {
			if err := chargeSettled(ctx, tx, c, "", now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(reviewed) > 0 {
		w.deps.Logger.WarnContext(ctx, "charges need review: their outcome stayed unknown", slog.Int("charges", len(reviewed)))
	}
	// A charge that has not moved for a lease and a half is not being worked by anyone.
	ids, err := store.DueForReconciliation(ctx, w.deps.Pool, w.cfg.Lease*3/2, w.deps.Clock.Now(), 1000)
	if err != nil || len(ids) == 0 {
		return err
	}
	err = store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) error { return enqueueCharges(ctx, tx, ids) })
	if err != nil {
		return fmt.Errorf("reconcile charges: %w", err)
	}
	w.deps.Logger.InfoContext(ctx, "charges sent for reconciliation", slog.Int("charges", len(ids)))
	return nil
}
