package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// BillDueSubscriptionsArgs asks for one scheduler pass: bill every subscription whose next period
// has started (by its customer's test clock, if it has one).
type BillDueSubscriptionsArgs struct{}

// Kind names the job in River.
func (BillDueSubscriptionsArgs) Kind() string { return "bill_due_subscriptions" }

// InsertOpts keeps passes from piling up: while one waits or runs, another is not enqueued.
// (Passes running at once would still be safe: they lock disjoint subscriptions.)
func (BillDueSubscriptionsArgs) InsertOpts() river.InsertOpts {
	return onePassAtATime()
}

// BillDueSubscriptionsWorker makes the charges of due periods. Each batch of subscriptions is one
// transaction: it resumes the subscriptions whose pause has ended, ends those whose cancel at
// period end has come (without a charge), creates one charge per (subscription, period) of the
// others, of the amount set for the period if there is one, else of the subscription's price (a
// trialing one becomes active with its first), less what the subscription's credit pays of it
// (a charge paid in full by credit is succeeded at once, with the events of a success), moves
// the subscriptions on, counts them into the billing run and enqueues the charges' jobs, so that
// a crash leaves either all of it or none.
type BillDueSubscriptionsWorker struct {
	river.WorkerDefaults[BillDueSubscriptionsArgs]
	deps      Deps
	batchSize int
}

// Work runs one scheduler pass. A subscription several periods behind gets one charge per period.
// A pass that finds nothing due records no billing run.
func (w *BillDueSubscriptionsWorker) Work(ctx context.Context, _ *river.Job[BillDueSubscriptionsArgs]) error {
	asOf, started := w.deps.Clock.Now(), time.Now()
	var run *uuid.UUID
	var due, created int
	for {
		n, c, resumed, err := w.billBatch(ctx, asOf, &run)
		if err != nil {
			return fmt.Errorf("bill due subscriptions: %w", err)
		}
		if n == 0 && resumed == 0 {
			break
		}
		due, created = due+n, created+c
	}
	if run == nil {
		return nil
	}
	if err := store.FinishBillingRun(ctx, w.deps.Pool, *run, w.deps.Clock.Now()); err != nil {
		return err
	}
	w.deps.Observer.BillingRunFinished(due, created, time.Since(started))
	w.deps.Logger.InfoContext(ctx, "billing run finished", slog.String("billing_run_id", run.String()),
		slog.Time("as_of", asOf))
	return nil
}

// billBatch resumes up to a batch of subscriptions whose pause has ended and bills up to a batch
// of due ones, in one transaction, and returns how many it billed, how many charges it created and
// how many it resumed. The first batch that finds any due creates the billing run.
func (w *BillDueSubscriptionsWorker) billBatch(ctx context.Context, asOf time.Time, run **uuid.UUID) (billed, made, resumed int, err error) {
	err = store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) error {
		now := w.deps.Clock.Now()
		if resumed, err = w.resumePausesEnded(ctx, tx, asOf, now); err != nil {
			return err
		}
		subs, err := store.LockDueSubscriptions(ctx, tx, asOf, w.batchSize)
		if err != nil || len(subs) == 0 {
			return err
		}
		if *run == nil {
			r := billing.BillingRun{ID: billing.NewID(), AsOf: asOf, StartedAt: now}
			if err := store.CreateBillingRun(ctx, tx, r); err != nil {
				return err
			}
			*run = &r.ID
		}
		at, err := subscriptionTimes(ctx, tx, subs, now)
		if err != nil {
			return err
		}
		charges := make([]billing.Charge, 0, len(subs))
		owners := make([]*billing.Subscription, 0, len(subs)) // of each charge
		for i := range subs {
			from := subs[i].Status
			if c, billed := subs[i].Renew(**run, at(subs[i].CustomerID)); billed {
				charges, owners = append(charges, c), append(owners, &subs[i])
			}
			if t, ok := billing.StatusEvent(from, subs[i].Status); ok { // a cancel at period end
				if err := store.AppendEvent(ctx, tx, billing.SubscriptionEvent(t, subs[i], at(subs[i].CustomerID))); err != nil {
					return err
				}
			}
		}
		if err := applyPeriodAmounts(ctx, tx, charges); err != nil {
			return err
		}
		credits := make([]billing.Money, len(charges))
		for i := range charges {
			credits[i] = owners[i].Credit
			owners[i].ApplyCredit(&charges[i])
		}
		created, err := store.InsertCharges(ctx, tx, charges)
		if err != nil {
			return err
		}
		toCollect, paid := keepCreated(charges, created, owners, credits)
		if err := store.AdvanceSubscriptions(ctx, tx, subs, now); err != nil {
			return err
		}
		for _, c := range paid { // the events of a success, as when the charge worker collects one
			if err := chargeSettled(ctx, tx, c, "", at(c.CustomerID)); err != nil {
				return err
			}
		}
		if err := store.AddToBillingRun(ctx, tx, **run, len(subs), len(created)); err != nil {
			return err
		}
		if err := enqueueCharges(ctx, tx, toCollect); err != nil {
			return err
		}
		billed, made = len(subs), len(created)
		return nil
	})
	return billed, made, resumed, err
}

// applyPeriodAmounts makes each charge bill the amount set for its period through the API (a
// variable amount), where there is one, instead of its subscription's price.
func applyPeriodAmounts(ctx context.Context, tx pgx.Tx, charges []billing.Charge) error {
	if len(charges) == 0 {
		return nil
	}
	keys := make([]billing.PeriodKey, len(charges))
	for i, c := range charges {
		keys[i] = billing.PeriodKey{SubscriptionID: *c.SubscriptionID, Index: c.PeriodIndex}
	}
	amounts, err := store.PeriodAmounts(ctx, tx, keys)
	if err != nil {
		return err
	}
	for i, k := range keys {
		if m, ok := amounts[k]; ok {
			charges[i].Amount = m
		}
	}
	return nil
}

// keepCreated returns the ids of the created charges that have something to collect and the
// created charges that credit paid in full (succeeded already), and gives the credit that a
// charge not created (its period had one already) would have used back to its subscription.
func keepCreated(charges []billing.Charge, created []uuid.UUID, owners []*billing.Subscription, credits []billing.Money) (collect []uuid.UUID, paid []billing.Charge) {
	made := make(map[uuid.UUID]bool, len(created))
	for _, id := range created {
		made[id] = true
	}
	for i, c := range charges {
		switch {
		case !made[c.ID]:
			owners[i].Credit = credits[i]
		case c.Status == billing.ChargePending:
			collect = append(collect, c.ID)
		default:
			paid = append(paid, c)
		}
	}
	return collect, paid
}

// resumePausesEnded resumes the paused subscriptions whose pause has ended by asOf, in tx: each is
// billed again from the first period that starts at or after the end of its pause (which the
// batch then bills, if it has started).
func (w *BillDueSubscriptionsWorker) resumePausesEnded(ctx context.Context, tx pgx.Tx, asOf, now time.Time) (int, error) {
	subs, err := store.LockPausesEnded(ctx, tx, asOf, w.batchSize)
	if err != nil || len(subs) == 0 {
		return 0, err
	}
	at, err := subscriptionTimes(ctx, tx, subs, now)
	if err != nil {
		return 0, err
	}
	for i := range subs {
		owed, err := store.OwedCharges(ctx, tx, subs[i])
		if err != nil {
			return 0, err
		}
		if err := subs[i].Resume(*subs[i].PauseUntil, at(subs[i].CustomerID), owed); err != nil {
			return 0, err
		}
		if err := store.AppendEvent(ctx, tx, billing.SubscriptionEvent(billing.EventSubscriptionResumed, subs[i], at(subs[i].CustomerID))); err != nil {
			return 0, err
		}
	}
	return len(subs), store.AdvanceSubscriptions(ctx, tx, subs, now)
}

// subscriptionTimes tells the time of each of subs' customers: its test clock's, else now.
func subscriptionTimes(ctx context.Context, tx pgx.Tx, subs []billing.Subscription, now time.Time) (func(uuid.UUID) time.Time, error) {
	ids := make([]uuid.UUID, len(subs))
	for i, s := range subs {
		ids[i] = s.CustomerID
	}
	return store.ClockTimes(ctx, tx, ids, now)
}

// enqueueCharges inserts a CollectCharge job per charge in tx.
func enqueueCharges(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: CollectChargeArgs{ChargeID: id}}
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue charges: %w", err)
	}
	return nil
}
