package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestSchedulerBillsEveryPeriodOnce runs scheduler passes (the worker's Work, as River would)
// while a clock jumps forward at random, over subscriptions with random anchors, cycles, time
// zones and prices, and random lifecycle operations between passes (pause, with or without an
// end, resume, cancel now or at period end, undo a cancel). After every pass each subscription
// has exactly one charge per billable period that has started (those that started while it was
// paused or after it ended have none), no duplicate, each of its period's price, and it is due at
// the next. What is billable is told by a model written from docs/subscription-states.md.
func TestSchedulerBillsEveryPeriodOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewDB(t)
	logger := slog.New(slog.DiscardHandler)
	client, err := NewClient(Deps{Pool: pool, Clock: billing.SystemClock{}, Logger: logger}, Config{InsertOnly: true})
	require.NoError(t, err)
	workCtx := rivertest.WorkContext(ctx, client)
	zones := []string{"UTC", "Europe/Helsinki", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
		"America/Sao_Paulo"}
	jumps := []time.Duration{0, time.Minute, time.Hour, 23 * time.Hour, 24 * time.Hour, 25 * time.Hour,
		7 * 24 * time.Hour, 29 * 24 * time.Hour, 31 * 24 * time.Hour, 92 * 24 * time.Hour}

	rapid.Check(t, func(rt *rapid.T) {
		var subs []billing.Subscription
		var earliest time.Time
		for i := range rapid.IntRange(1, 3).Draw(rt, "subscriptions") {
			loc, err := billing.LoadZone(rapid.SampledFrom(zones).Draw(rt, "zone"))
			require.NoError(rt, err)
			y := rapid.IntRange(2016, 2032).Draw(rt, "year")
			m := time.Month(rapid.IntRange(1, 12).Draw(rt, "month"))
			d := rapid.OneOf(rapid.IntRange(1, 31), rapid.IntRange(28, 31)).Draw(rt, "day") // 31 -> next month's 1st etc.
			anchor := time.Date(y, m, d, rapid.IntRange(0, 23).Draw(rt, "hour"), rapid.IntRange(0, 59).Draw(rt, "minute"),
				0, rapid.IntRange(0, 999_999).Draw(rt, "micros")*1000, loc).UTC()
			sched := billing.Schedule{Anchor: anchor, Location: loc,
				Interval: rapid.SampledFrom([]billing.Interval{billing.Day, billing.Week, billing.Month, billing.Year}).Draw(rt, "interval"),
				Count:    rapid.IntRange(1, 3).Draw(rt, "count")}
			price := billing.Money{Amount: rapid.Int64Range(1, 1_000_000).Draw(rt, "amount"), Currency: "EUR"}
			subs = append(subs, storetest.Subscription(t, pool, storetest.SubscriptionOpts{Start: anchor, Schedule: sched, Price: price}))
			if i == 0 || anchor.Before(earliest) {
				earliest = anchor
			}
		}
		clock := billing.NewManualClock(earliest.Add(-rapid.SampledFrom(jumps).Draw(rt, "start before the first anchor")))
		defer cancelAll(t, pool, subs, clock.Now())
		worker := &BillDueSubscriptionsWorker{
			deps:      Deps{Pool: pool, Clock: clock, Logger: logger, Observer: NopObserver{}},
			batchSize: rapid.IntRange(1, 4).Draw(rt, "batch size"),
		}
		models := make([]*subModel, len(subs))
		for i, sub := range subs {
			models[i] = &subModel{sub: sub, status: billing.SubscriptionActive}
		}
		ops := []string{"none", "none", "none", "pause", "pause until", "resume", "cancel at period end", "undo cancel", "cancel"}
		for range rapid.IntRange(1, 8).Draw(rt, "passes") {
			clock.Advance(rapid.SampledFrom(jumps).Draw(rt, "jump") + time.Duration(rapid.IntRange(0, 3600).Draw(rt, "seconds"))*time.Second)
			for _, m := range models {
				op := rapid.SampledFrom(ops).Draw(rt, "operation")
				until := clock.Now().Add(rapid.SampledFrom(jumps[1:]).Draw(rt, "pause for"))
				m.apply(rt, pool, op, until, clock.Now())
			}
			require.NoError(rt, worker.Work(workCtx, &river.Job[BillDueSubscriptionsArgs]{}))
			for _, m := range models {
				m.pass(clock.Now())
				m.requireBilled(rt, pool)
			}
		}
	})
}

// subModel is what a subscription's billing should be, told from its lifecycle as
// docs/subscription-states.md describes it, independently of billing.Subscription's methods.
type subModel struct {
	sub        billing.Subscription // as created; its schedule
	status     billing.SubscriptionStatus
	next       int // the first period not billed (or skipped)
	cancelAt   *time.Time
	pauseUntil *time.Time
	billed     []int
}

// apply performs op on the stored subscription as the API does (lock, change, store, in one
// transaction) and on the model, and checks that the two agree on whether it is allowed.
func (m *subModel) apply(t *rapid.T, pool *pgxpool.Pool, op string, until, now time.Time) {
	if op == "none" {
		return
	}
	ctx := context.Background()
	var opErr error
	require.NoError(t, store.InTx(ctx, pool, func(tx pgx.Tx) error {
		s, err := store.LockSubscription(ctx, tx, m.sub.ID)
		if err != nil {
			return err
		}
		switch op {
		case "pause":
			opErr = s.Pause(nil, now)
		case "pause until":
			opErr = s.Pause(&until, now)
		case "resume":
			opErr = s.Resume(now, now)
		case "cancel at period end":
			opErr = s.CancelAtPeriodEnd(now)
		case "undo cancel":
			opErr = s.UndoCancel(now)
		case "cancel":
			opErr = s.Cancel(now)
		}
		if opErr != nil {
			return nil
		}
		return store.UpdateSubscription(ctx, tx, s)
	}))
	allowed := true
	switch op {
	case "pause", "pause until":
		if allowed = m.status == billing.SubscriptionActive; allowed {
			m.status, m.pauseUntil = billing.SubscriptionPaused, nil
			if op == "pause until" {
				m.pauseUntil = &until
			}
		}
	case "resume":
		if allowed = m.status == billing.SubscriptionPaused; allowed {
			m.resume(now)
		}
	case "cancel at period end":
		if allowed = m.status != billing.SubscriptionCanceled; allowed {
			at := m.sub.Schedule.PeriodStart(m.next)
			m.cancelAt = &at
		}
	case "undo cancel":
		if allowed = m.status != billing.SubscriptionCanceled && m.cancelAt != nil; allowed {
			m.cancelAt = nil
		}
	case "cancel":
		m.status, m.cancelAt, m.pauseUntil = billing.SubscriptionCanceled, nil, nil
	}
	require.Equal(t, allowed, opErr == nil, "%s on a %s subscription: %v", op, m.status, opErr)
}

// resume bills the model again from the first period that starts at or after at.
func (m *subModel) resume(at time.Time) {
	m.status, m.pauseUntil = billing.SubscriptionActive, nil
	for m.sub.Schedule.PeriodStart(m.next).Before(at) {
		m.next++
	}
}

// pass is a scheduler pass at asOf: a pause that has ended ends, then every period that has
// started is billed, unless a cancel at period end comes first.
func (m *subModel) pass(asOf time.Time) {
	if m.status == billing.SubscriptionPaused && m.pauseUntil != nil && !m.pauseUntil.After(asOf) {
		m.resume(*m.pauseUntil)
	}
	for m.status == billing.SubscriptionActive && !m.sub.Schedule.PeriodStart(m.next).After(asOf) {
		if m.cancelAt != nil && !m.cancelAt.After(m.sub.Schedule.PeriodStart(m.next)) {
			m.status, m.cancelAt = billing.SubscriptionCanceled, nil
			return
		}
		m.billed = append(m.billed, m.next)
		m.next++
	}
}

// requireBilled checks the subscription's charges and state against the model: one charge per
// billed period, of that period and the period's price, and nothing else.
func (m *subModel) requireBilled(t *rapid.T, db store.DBTX) {
	ctx := context.Background()
	sub := m.sub
	charges, err := store.ListCharges(ctx, db, store.ChargeFilter{SubscriptionID: &sub.ID}, len(m.billed)+10)
	require.NoError(t, err)
	require.Len(t, charges, len(m.billed), "periods %v of %+v should be billed", m.billed, sub.Schedule)
	var sum, want int64
	for i, c := range charges { // newest period first
		n := m.billed[len(m.billed)-1-i]
		start, end := sub.Schedule.Period(n)
		require.Equal(t, n, c.PeriodIndex)
		require.True(t, start.Equal(c.PeriodStart) && end.Equal(c.PeriodEnd), "period %d is [%v, %v), charged [%v, %v)",
			n, start, end, c.PeriodStart, c.PeriodEnd)
		require.Equal(t, sub.Price, c.Amount)
		sum, want = sum+c.Amount.Amount, want+sub.Price.Amount
	}
	require.Equal(t, want, sum, "charged in total")
	stored, err := store.GetSubscription(ctx, db, sub.ID)
	require.NoError(t, err)
	require.Equal(t, m.status, stored.Status)
	if m.status != billing.SubscriptionCanceled {
		require.Equal(t, m.next, stored.NextPeriod)
		require.True(t, stored.NextBillingAt.Equal(sub.Schedule.PeriodStart(m.next)), "next billing at %v", stored.NextBillingAt)
	}
	require.Equal(t, sub.Schedule.Location, stored.Schedule.Location)
}

// cancelAll ends a check's subscriptions, so that the next checks' scheduler passes (whose clocks
// may be later) leave them alone.
func cancelAll(t *testing.T, db store.DBTX, subs []billing.Subscription, now time.Time) {
	for _, sub := range subs {
		s, err := store.GetSubscription(context.Background(), db, sub.ID)
		require.NoError(t, err)
		require.NoError(t, s.Cancel(now))
		require.NoError(t, store.UpdateSubscription(context.Background(), db, s))
	}
}
