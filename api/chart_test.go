package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing/store"
)

func TestRevenueChartFillsEveryPeriod(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2026, time.March, d, 0, 0, 0, 0, time.UTC) }
	rows := []store.RevenueRow{
		{PeriodStart: day(1), Currency: "EUR", Collected: store.Total{Count: 2, Amount: 3000}, Failed: store.Total{Count: 1, Amount: 1500}},
		{PeriodStart: day(3), Currency: "EUR", Collected: store.Total{Count: 1, Amount: 1200}},
		{PeriodStart: day(3), Currency: "SEK", Collected: store.Total{Count: 1, Amount: 900000}},
	}
	c := newRevenueChart(rows, store.RevenueFilter{Interval: store.RevenueByDay, From: day(1), To: day(4)}, "EUR")
	require.Len(t, c.Periods, 3, "March 1 to 3, the empty day included")
	require.False(t, c.Periods[1].HasCharges)
	require.Zero(t, c.Periods[1].Collected.H)
	require.Equal(t, "Mar 2", c.Periods[1].Tick)
	require.Equal(t, "50.00 EUR", c.Ticks[4].Label)
	require.Equal(t, "0.00 EUR", c.Ticks[0].Label)
	plot := float64(c.PlotBottom - c.PlotTop)
	require.InDelta(t, plot*3000/5000, c.Periods[0].Collected.H, 0.01, "bars are to scale")
	require.InDelta(t, plot*1500/5000, c.Periods[0].Failed.H, 0.01)
	require.Equal(t, "30.00 EUR", c.Periods[0].CollectedFormatted)
}

func TestNiceCeiling(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]int64{0: 100, 1: 100, 100: 100, 101: 200, 3000: 5000, 7499: 10000, 15000: 20000} {
		require.Equal(t, want, niceCeiling(n), n)
	}
}
