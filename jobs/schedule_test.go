package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
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
// end, resume, cancel now or at period end, undo a cancel, an immediate change of price with
// proration). Before the operations every pending charge is collected, as the charge worker
// would. After every pass each subscription has exactly one period charge per billable period
// that has started (those that started while it was paused or after it ended have none), no
// duplicate, each of its period's price less the credit applied, one proration charge per
// change that cost more, each charge's lines summing to its amount, the sum charged equal to the
// period prices plus the proration nets charged less the credit applied, the credit left as the
// model says, and it is due at the next period. What is billable is told by a model written from
// docs/subscription-states.md.
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
			models[i] = &subModel{sub: sub, status: billing.SubscriptionActive, price: sub.Price.Amount, gross: map[int]int64{}, charged: map[int]int64{}}
		}
		ops := []string{"none", "none", "none", "pause", "pause until", "resume", "cancel at period end", "undo cancel", "cancel",
			"change now", "change now"}
		for range rapid.IntRange(1, 8).Draw(rt, "passes") {
			clock.Advance(rapid.SampledFrom(jumps).Draw(rt, "jump") + time.Duration(rapid.IntRange(0, 3600).Draw(rt, "seconds"))*time.Second)
			for _, m := range models {
				collectAll(rt, pool, m.sub.ID, clock.Now())
				op := rapid.SampledFrom(ops).Draw(rt, "operation")
				until := clock.Now().Add(rapid.SampledFrom(jumps[1:]).Draw(rt, "pause for"))
				price := rapid.Int64Range(1, 1_000_000).Draw(rt, "new price")
				m.apply(rt, pool, op, until, price, clock.Now())
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
	price      int64         // what the next period bills
	periodNow  int64         // what the newest billed period is billed at, changes included
	gross      map[int]int64 // each billed period's price
	charged    map[int]int64 // each billed period's charge: its price less the credit applied
	credit     int64
	prorated   []int64 // the nets of changes that cost more: each a proration charge
	applied    int64   // credit used by period charges
}

// apply performs op on the stored subscription as the API does (lock, change, store, in one
// transaction) and on the model, and checks that the two agree on whether it is allowed.
func (m *subModel) apply(t *rapid.T, pool *pgxpool.Pool, op string, until time.Time, price int64, now time.Time) {
	if op == "none" {
		return
	}
	ctx := context.Background()
	var opErr error
	var p billing.Proration
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
			opErr = s.Resume(now, now, nil)
		case "cancel at period end":
			opErr = s.CancelAtPeriodEnd(now)
		case "undo cancel":
			opErr = s.UndoCancel(now)
		case "cancel":
			opErr = s.Cancel(now)
		case "change now": // as the API does (api/change.go)
			var current billing.CurrentCharges
			if s.NextPeriod > 0 {
				if current, err = store.CurrentCharges(ctx, tx, s.ID, s.NextPeriod-1); err != nil {
					return err
				}
			}
			p, opErr = s.ChangePriceNow(billing.PriceChange{UnitPrice: billing.Money{Amount: price, Currency: "EUR"}, Quantity: 1}, current, now)
			if opErr == nil && p.Net() > 0 {
				if err := store.InsertCharge(ctx, tx, s.NewProrationCharge(p, now)); err != nil {
					return err
				}
			}
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
	case "change now":
		// Every charge is collected before the operations; a period that has started waits
		// for the scheduler.
		if allowed = m.status == billing.SubscriptionActive && m.sub.Schedule.PeriodStart(m.next).After(now); allowed {
			m.changeNow(t, p, price, now)
		}
	}
	require.Equal(t, allowed, opErr == nil, "%s on a %s subscription: %v", op, m.status, opErr)
}

// changeNow makes the model bill price from now on: when the current period was billed, the
// time left of it (in whole seconds) is credited at its price and debited at the new one, each
// rounded half to even; a positive net is a proration charge, a negative one credit.
func (m *subModel) changeNow(t *rapid.T, p billing.Proration, price int64, now time.Time) {
	defer func() { m.price = price }()
	if len(m.billed) == 0 || m.billed[len(m.billed)-1] != m.next-1 {
		require.Empty(t, p.Lines, "a period not billed is not prorated")
		return
	}
	start, end := m.sub.Schedule.Period(m.next - 1)
	whole, left := end.Unix()-start.Unix(), int64(end.Sub(now)/time.Second)
	share := func(amount int64) int64 {
		n, r := amount*left/whole, amount*left%whole // small enough: no overflow
		if 2*r > whole || (2*r == whole && n%2 == 1) {
			n++
		}
		return n
	}
	net := share(price) - share(m.periodNow)
	require.Equal(t, net, p.Net(), "the proration of %d -> %d with %d of %d s left", m.periodNow, price, left, whole)
	if net > 0 {
		m.prorated = append(m.prorated, net)
	} else {
		m.credit -= net
	}
	m.periodNow = price
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
		applied := min(m.credit, m.price)
		m.billed, m.gross[m.next], m.charged[m.next] = append(m.billed, m.next), m.price, m.price-applied
		m.credit, m.applied, m.periodNow = m.credit-applied, m.applied+applied, m.price
		m.next++
	}
}

// requireBilled checks the subscription's charges and state against the model: one period
// charge per billed period, of that period and of the period's price less the credit applied,
// one proration charge per change that cost more, of its net, every charge's lines summing to
// its amount, and nothing else.
func (m *subModel) requireBilled(t *rapid.T, db store.DBTX) {
	ctx := context.Background()
	sub := m.sub
	charges, err := store.ListCharges(ctx, db, store.ChargeFilter{SubscriptionID: &sub.ID}, len(m.billed)+len(m.prorated)+10)
	require.NoError(t, err)
	ids := make([]uuid.UUID, len(charges))
	for i, c := range charges {
		ids[i] = c.ID
	}
	lines, err := store.ListLines(ctx, db, ids...)
	require.NoError(t, err)
	var periods []billing.Charge
	var sum, prorated int64
	for _, c := range charges {
		c.Lines = lines[c.ID]
		require.NoError(t, billing.CheckLines(c))
		sum += c.Amount.Amount
		if c.Kind == billing.ChargeProration {
			prorated += c.Amount.Amount
			continue
		}
		require.Equal(t, billing.ChargePeriod, c.Kind)
		periods = append(periods, c)
	}
	require.Len(t, periods, len(m.billed), "periods %v of %+v should be billed", m.billed, sub.Schedule)
	require.Len(t, charges, len(m.billed)+len(m.prorated), "a proration charge per change that cost more: %v", m.prorated)
	var want int64
	for i, c := range periods { // newest period first
		n := m.billed[len(m.billed)-1-i]
		start, end := sub.Schedule.Period(n)
		require.Equal(t, n, c.PeriodIndex)
		require.True(t, start.Equal(c.PeriodStart) && end.Equal(c.PeriodEnd), "period %d is [%v, %v), charged [%v, %v)",
			n, start, end, c.PeriodStart, c.PeriodEnd)
		require.Equal(t, m.charged[n], c.Amount.Amount, "period %d of price %d", n, m.gross[n])
		want += m.gross[n]
	}
	var nets int64
	for _, n := range m.prorated {
		nets += n
	}
	require.Equal(t, nets, prorated, "the proration charges")
	require.Equal(t, want+nets-m.applied, sum, "charged in total: period prices + proration charges - credit applied")
	stored, err := store.GetSubscription(ctx, db, sub.ID)
	require.NoError(t, err)
	require.Equal(t, m.status, stored.Status)
	require.Equal(t, m.credit, stored.Credit.Amount, "the credit balance")
	if m.status != billing.SubscriptionCanceled {
		require.Equal(t, m.next, stored.NextPeriod)
		require.True(t, stored.NextBillingAt.Equal(sub.Schedule.PeriodStart(m.next)), "next billing at %v", stored.NextBillingAt)
	}
	require.Equal(t, sub.Schedule.Location, stored.Schedule.Location)
}

// collectAll collects the subscription's pending charges, as the charge worker would when the
// gateway captures them.
func collectAll(t *rapid.T, pool *pgxpool.Pool, subID uuid.UUID, now time.Time) {
	ctx := context.Background()
	charges, err := store.ListCharges(ctx, pool, store.ChargeFilter{SubscriptionID: &subID}, 1000)
	require.NoError(t, err)
	for _, c := range charges {
		if c.Status != billing.ChargePending {
			continue
		}
		run := uuid.New()
		_, claimed, err := store.ClaimCharge(ctx, pool, c.ID, run, time.Minute, now)
		require.NoError(t, err)
		require.True(t, claimed)
		a, err := store.OpenAttempt(ctx, pool, c.ID, now)
		require.NoError(t, err)
		require.NoError(t, store.InTx(ctx, pool, func(tx pgx.Tx) error {
			c, err := store.FinishAttempt(ctx, tx, run, a.ID, store.AttemptEnd{Attempt: billing.AttemptSucceeded, Charge: billing.ChargeSucceeded}, now)
			if err != nil {
				return err
			}
			return chargeSettled(ctx, tx, c, "", now)
		}))
	}
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
