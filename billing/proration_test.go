package billing_test

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/recur-billing/recur/billing"
)

// prorateBig is Prorate's rule written with math/big: price x part / whole, half to even.
func prorateBig(price, part, whole int64) int64 {
	r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(price), big.NewInt(part)), big.NewInt(whole))
	f, _ := new(big.Float).SetPrec(200).SetRat(r).Int(nil) // truncated: r >= 0, so the floor
	frac := new(big.Rat).Sub(r, new(big.Rat).SetInt(f))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		f.Add(f, big.NewInt(1))
	case 0:
		if f.Bit(0) == 1 {
			f.Add(f, big.NewInt(1))
		}
	}
	return f.Int64()
}

func TestProrate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ price, part, whole, want int64 }{
		{1000, 1, 2, 500},
		{1, 1, 2, 0}, // 0.5: to the even 0
		{3, 1, 2, 2}, // 1.5: to the even 2
		{5, 1, 2, 2}, // 2.5: to the even 2
		{2, 1, 3, 1}, // 0.67
		{1000, 0, 2419200, 0},
		{math.MaxInt64, 31_622_400_000, 31_622_400_000, math.MaxInt64}, // 1000 years of seconds: no overflow
		{math.MaxInt64, 1, 2, 4611686018427387904},                     // 2^63 / 2, the .5 rounded to even
	} {
		require.Equal(t, tc.want, billing.Prorate(tc.price, tc.part, tc.whole), "%+v", tc)
	}
	rapid.Check(t, func(t *rapid.T) {
		price := rapid.OneOf(rapid.Int64Range(0, 1_000_000), rapid.Int64Range(0, math.MaxInt64)).Draw(t, "price")
		whole := rapid.OneOf(rapid.Int64Range(1, 100), rapid.Int64Range(1, 31_622_400_000)).Draw(t, "whole")
		part := rapid.Int64Range(0, whole).Draw(t, "part")
		got := billing.Prorate(price, part, whole)
		require.Equal(t, prorateBig(price, part, whole), got)
		require.True(t, got >= 0 && got <= price)
		if part == whole {
			require.Equal(t, price, got)
		}
	})
}

func eur(n int64) billing.Money { return billing.Money{Amount: n, Currency: "EUR"} }

// billedSubscription is an active monthly subscription of price whose first period (February
// 2026, 28 days) has been billed.
func billedSubscription(t require.TestingT, price int64) billing.Subscription {
	anchor := time.Date(2026, time.February, 1, 0, 0, 0, 0, time.UTC)
	s, err := billing.NewSubscription(billing.SubscriptionTerms{UnitPrice: eur(price), Quantity: 1, Interval: billing.Month, Count: 1}, anchor)
	require.NoError(t, err)
	c, _ := s.Renew(billing.NewID(), anchor)
	s.ApplyCredit(&c)
	return s
}

var collected = billing.CurrentCharges{Billed: true, Collected: true}

func TestChangePriceNow(t *testing.T) {
	t.Parallel()
	mid := time.Date(2026, time.February, 15, 0, 0, 0, 0, time.UTC) // half of February left

	up := billedSubscription(t, 1500)
	p, err := up.ChangePriceNow(billing.PriceChange{UnitPrice: eur(2500), Quantity: 1}, collected, mid)
	require.NoError(t, err)
	require.Equal(t, int64(500), p.Net())
	require.Equal(t, []int64{-750, 1250}, []int64{p.Lines[0].Amount.Amount, p.Lines[1].Amount.Amount})
	require.Equal(t, billing.LineCredit, p.Lines[0].Kind)
	require.Equal(t, billing.LineDebit, p.Lines[1].Kind)
	require.True(t, p.Start.Equal(mid) && p.End.Equal(time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, eur(2500), up.Price)
	require.Equal(t, eur(2500), up.PeriodPrice, "a second change credits the time at the new price")
	require.Zero(t, up.Credit.Amount)
	c := up.NewProrationCharge(p, mid)
	require.Equal(t, billing.ChargeProration, c.Kind)
	require.Equal(t, billing.ChannelMerchant, c.Channel)
	require.Equal(t, eur(500), c.Amount)
	require.Equal(t, 0, c.PeriodIndex)
	require.NoError(t, billing.CheckLines(c))

	again, err := up.ChangePriceNow(billing.PriceChange{UnitPrice: eur(2500), Quantity: 1}, collected, mid)
	require.NoError(t, err)
	require.Zero(t, again.Net(), "the same change again costs nothing")

	down := billedSubscription(t, 2500)
	p, err = down.ChangePriceNow(billing.PriceChange{UnitPrice: eur(500), Quantity: 3}, collected, mid)
	require.NoError(t, err)
	require.Equal(t, int64(-500), p.Net())
	require.Equal(t, eur(500), down.Credit)
	require.Equal(t, eur(1500), down.Price)

	// The next period uses the credit; a credit larger than a period's price is carried over.
	next, _ := down.Renew(billing.NewID(), down.NextBillingAt)
	down.ApplyCredit(&next)
	require.Equal(t, eur(1000), next.Amount)
	require.Equal(t, billing.ChargePending, next.Status)
	require.NoError(t, billing.CheckLines(next))
	require.Zero(t, down.Credit.Amount)
	down.Credit = eur(4000)
	next, _ = down.Renew(billing.NewID(), down.NextBillingAt)
	down.ApplyCredit(&next)
	require.Equal(t, eur(0), next.Amount)
	require.Equal(t, billing.ChargeSucceeded, next.Status, "a period paid by credit has nothing to collect")
	require.Equal(t, eur(2500), down.Credit)
	require.Equal(t, eur(1500), down.PeriodPrice, "the period's price is before the credit")

	// Refused: a period not collected, a paused subscription; a trialing one is changed without proration.
	s := billedSubscription(t, 1500)
	_, err = s.ChangePriceNow(billing.PriceChange{UnitPrice: eur(2500), Quantity: 1}, billing.CurrentCharges{Billed: true}, mid)
	require.ErrorIs(t, err, billing.ErrConflict)
	require.Equal(t, eur(1500), s.Price, "a refused change changes nothing")
	require.NoError(t, s.Pause(nil, mid))
	_, err = s.ChangePriceNow(billing.PriceChange{UnitPrice: eur(2500), Quantity: 1}, collected, mid)
	require.ErrorIs(t, err, billing.ErrConflict)
	trial, err := billing.NewSubscription(billing.SubscriptionTerms{UnitPrice: eur(1500), Quantity: 1, Interval: billing.Month, Count: 1, TrialDays: 14}, mid)
	require.NoError(t, err)
	p, err = trial.ChangePriceNow(billing.PriceChange{UnitPrice: eur(2500), Quantity: 1}, billing.CurrentCharges{}, mid)
	require.NoError(t, err)
	require.Empty(t, p.Lines)
	require.Equal(t, eur(2500), trial.Price)
}

// TestChangePriceNowProperties: over random cycles, zones, prices and times of change, the credit
// is the old price's share of the time left and the debit the new one's, each within its price,
// the net is their sum, a negative net becomes credit, and the same price nets zero.
func TestChangePriceNowProperties(t *testing.T) {
	t.Parallel()
	zones := []string{"UTC", "Europe/Helsinki", "America/New_York", "Australia/Lord_Howe"}
	rapid.Check(t, func(t *rapid.T) {
		loc, err := billing.LoadZone(rapid.SampledFrom(zones).Draw(t, "zone"))
		require.NoError(t, err)
		anchor := time.Date(rapid.IntRange(2016, 2032).Draw(t, "year"), time.Month(rapid.IntRange(1, 12).Draw(t, "month")),
			rapid.IntRange(1, 31).Draw(t, "day"), rapid.IntRange(0, 23).Draw(t, "hour"), 0, 0,
			rapid.IntRange(0, 999_999_999).Draw(t, "nanos"), loc)
		s, err := billing.NewSubscription(billing.SubscriptionTerms{
			UnitPrice: eur(rapid.Int64Range(1, 1<<40).Draw(t, "old price")), Quantity: rapid.IntRange(1, 1000).Draw(t, "old quantity"),
			Interval: rapid.SampledFrom([]billing.Interval{billing.Day, billing.Week, billing.Month, billing.Year}).Draw(t, "interval"),
			Count:    rapid.IntRange(1, 1000).Draw(t, "count"), Location: loc}, anchor)
		require.NoError(t, err)
		c, _ := s.Renew(billing.NewID(), anchor)
		s.ApplyCredit(&c)
		start, end, _ := s.CurrentPeriod()
		// Periods of over 292 years do not fit in a time.Duration: the time of change is drawn in seconds.
		now := time.Unix(start.Unix()+rapid.Int64Range(0, end.Unix()-start.Unix()-1).Draw(t, "seconds into the period"),
			int64(rapid.IntRange(0, 999_999_999).Draw(t, "and nanoseconds"))).UTC()
		if now.Before(start) {
			now = start
		}
		old := s.Price
		change := billing.PriceChange{UnitPrice: eur(rapid.Int64Range(1, 1<<40).Draw(t, "new price")), Quantity: rapid.IntRange(1, 1000).Draw(t, "new quantity")}
		p, err := s.ChangePriceNow(change, collected, now)
		require.NoError(t, err)
		credit, debit := p.Lines[0].Amount.Amount, p.Lines[1].Amount.Amount
		require.True(t, -credit >= 0 && -credit <= old.Amount, "credit %d of %s", credit, old)
		require.True(t, debit >= 0 && debit <= s.Price.Amount, "debit %d of %s", debit, s.Price)
		require.Equal(t, credit+debit, p.Net())
		left := new(big.Rat).SetFrac64(end.Unix()-now.Unix()-boolInt(end.Nanosecond() < now.Nanosecond()), 1)
		whole := new(big.Rat).SetFrac64(end.Unix()-start.Unix(), 1)
		share := new(big.Rat).Quo(left, whole)
		for _, l := range []struct {
			got   int64
			price int64
		}{{-credit, old.Amount}, {debit, s.Price.Amount}} {
			exact := new(big.Rat).Mul(share, new(big.Rat).SetInt64(l.price))
			diff := new(big.Rat).Sub(new(big.Rat).SetInt64(l.got), exact)
			require.True(t, diff.Abs(diff).Cmp(big.NewRat(1, 2)) <= 0, "%d is more than half a unit from %s", l.got, exact.FloatString(3))
		}
		require.Equal(t, max(0, -p.Net()), s.Credit.Amount)
		if old == s.Price {
			require.Zero(t, p.Net())
		}
		if p.Net() > 0 {
			require.NoError(t, billing.CheckLines(s.NewProrationCharge(p, now)))
		}
	})
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestCheckLines(t *testing.T) {
	t.Parallel()
	c := billing.Charge{Amount: eur(100), Lines: []billing.ChargeLine{
		{Kind: billing.LineDebit, Amount: eur(150)}, {Kind: billing.LineCredit, Amount: eur(-50)}}}
	require.NoError(t, billing.CheckLines(c))
	c.Amount = eur(101)
	require.Error(t, billing.CheckLines(c), "lines that do not sum to the amount")
	c.Amount, c.Lines[1].Kind = eur(100), billing.LineDebit
	require.Error(t, billing.CheckLines(c), "a debit below zero")
	c.Lines[1] = billing.ChargeLine{Kind: billing.LineCredit, Amount: billing.Money{Amount: -50, Currency: "USD"}}
	require.Error(t, billing.CheckLines(c), "a line in another currency")
}
