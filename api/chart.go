package api

import (
	"math"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// revenueChart is a bar chart of collected against failed amounts per period in one currency,
// laid out here and drawn as inline SVG by the revenue page: no script, and readable without
// one. Every period of the range has its bars, zero or not; the table lists those with charges.
type revenueChart struct {
	Width, Height int
	PlotTop       int
	PlotBottom    int
	PlotLeft      int
	PlotRight     int
	Currency      string
	Periods       []chartPeriod
	Ticks         []chartTick
}

// chartPeriod is one day or month: its bars, its label and its figures.
type chartPeriod struct {
	Label              string // 2026-03-31, or 2026-03 by month
	Tick               string // the short label under its bars: Mar 31, or Mar 2026
	ShowTick           bool   // ticks are thinned out so that they do not overlap
	TickX              float64
	HasCharges         bool
	Collected, Failed  chartBar
	CollectedTotal     store.Total
	FailedTotal        store.Total
	RefundedTotal      store.Total
	CollectedFormatted string
	FailedFormatted    string
}

type chartBar struct{ X, Y, W, H float64 }

// chartTick is a line across the plot at a round amount.
type chartTick struct {
	Y     float64
	Label string
}

// newRevenueChart lays out the chart of rows in currency over the range of f.
func newRevenueChart(rows []store.RevenueRow, f store.RevenueFilter, currency string) revenueChart {
	c := revenueChart{Width: 800, Height: 320, PlotTop: 16, PlotBottom: 280, PlotLeft: 88, PlotRight: 790, Currency: currency}
	byStart := map[time.Time]store.RevenueRow{}
	for _, r := range rows {
		if r.Currency == currency {
			byStart[r.PeriodStart] = r
		}
	}
	step := func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	if f.Interval == store.RevenueByMonth {
		step = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	}
	var peak int64
	for t := f.From; t.Before(f.To); t = step(t) {
		r, found := byStart[t]
		tick := t.Format("Jan 2")
		if f.Interval == store.RevenueByMonth {
			tick = t.Format("Jan 2006")
		}
		c.Periods = append(c.Periods, chartPeriod{Label: periodLabel(t, f.Interval), Tick: tick, HasCharges: found, CollectedTotal: r.Collected,
			FailedTotal: r.Failed, RefundedTotal: r.Refunded,
			CollectedFormatted: billing.Money{Amount: r.Collected.Amount, Currency: currency}.String(),
			FailedFormatted:    billing.Money{Amount: r.Failed.Amount, Currency: currency}.String()})
		peak = max(peak, r.Collected.Amount, r.Failed.Amount)
	}
	top := niceCeiling(peak)
	height := float64(c.PlotBottom - c.PlotTop)
	y := func(amount int64) float64 { return float64(c.PlotBottom) - height*float64(amount)/float64(top) }
	for i := range 5 {
		amount := top * int64(i) / 4
		c.Ticks = append(c.Ticks, chartTick{Y: y(amount), Label: billing.Money{Amount: amount, Currency: currency}.String()})
	}
	slot := float64(c.PlotRight-c.PlotLeft) / float64(max(1, len(c.Periods)))
	every := max(1, int(math.Ceil(float64(len(c.Periods))/10)))
	bar := slot * 0.38
	for i := range c.Periods {
		p := &c.Periods[i]
		x := float64(c.PlotLeft) + slot*float64(i) + slot*0.1
		p.Collected = chartBar{X: x, Y: y(p.CollectedTotal.Amount), W: bar, H: float64(c.PlotBottom) - y(p.CollectedTotal.Amount)}
		p.Failed = chartBar{X: x + bar, Y: y(p.FailedTotal.Amount), W: bar, H: float64(c.PlotBottom) - y(p.FailedTotal.Amount)}
		p.TickX = x + bar
		p.ShowTick = i%every == 0
	}
	return c
}

// niceCeiling rounds an amount of minor units up to 1, 2 or 5 times a power of ten (at least 100),
// so that the chart's lines fall on round amounts.
func niceCeiling(n int64) int64 {
	for p := int64(100); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if n <= m*p {
				return m * p
			}
		}
	}
}
