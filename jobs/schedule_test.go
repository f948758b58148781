package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

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
// zones and prices. After every pass each subscription has exactly one charge per period that
// has started, no gap and no duplicate, each of its period's price, and it is due at the next.
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
		for range rapid.IntRange(1, 6).Draw(rt, "passes") {
			clock.Advance(rapid.SampledFrom(jumps).Draw(rt, "jump") + time.Duration(rapid.IntRange(0, 3600).Draw(rt, "seconds"))*time.Second)
			require.NoError(rt, worker.Work(workCtx, &river.Job[BillDueSubscriptionsArgs]{}))
			for _, sub := range subs {
				requireBilledOnce(rt, pool, sub, clock.Now())
			}
		}
	})
}

// requireBilledOnce checks that sub has one charge for each period that started by now, and none
// for any other.
func requireBilledOnce(t *rapid.T, db store.DBTX, sub billing.Subscription, now time.Time) {
	ctx := context.Background()
	started := 0
	for !sub.Schedule.PeriodStart(started).After(now) {
		started++
	}
	charges, err := store.ListCharges(ctx, db, store.ChargeFilter{SubscriptionID: &sub.ID}, started+10)
	require.NoError(t, err)
	require.Len(t, charges, started, "at %v, %d periods of %+v have started", now, started, sub.Schedule)
	var sum, want int64
	for i, c := range charges { // newest period first
		n := started - 1 - i
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
	require.Equal(t, started, stored.NextPeriod)
	require.True(t, stored.NextBillingAt.Equal(sub.Schedule.PeriodStart(started)), "next billing at %v", stored.NextBillingAt)
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
