package billing

import (
	"fmt"
	"time"
)

// Interval is the unit of a billing cycle.
type Interval string

// Billing intervals.
const (
	Day   Interval = "day"
	Week  Interval = "week"
	Month Interval = "month"
	Year  Interval = "year"
)

// MaxIntervalCount bounds interval_count (1000 days is under three years; 1000 years is silly but
// harmless).
const MaxIntervalCount = 1000

// Schedule is a recurring billing cycle: period n starts at Anchor + n*Count*Interval.
type Schedule struct {
	Anchor   time.Time
	Interval Interval
	Count    int
}

// Validate checks the interval and count.
func (s Schedule) Validate() error {
	switch s.Interval {
	case Day, Week, Month, Year:
	default:
		return &ValidationError{Field: "interval", Reason: "must be one of day, week, month, year"}
	}
	if s.Count < 1 || s.Count > MaxIntervalCount {
		return &ValidationError{Field: "interval_count", Reason: fmt.Sprintf("must be between 1 and %d", MaxIntervalCount)}
	}
	return nil
}

// PeriodStart returns when period n begins. It is computed from the anchor each time, never by
// adding to the previous period, so month ends hold: a Jan 31 anchor gives Feb 28 (or 29), then
// Mar 31. Times are computed in UTC.
func (s Schedule) PeriodStart(n int) time.Time {
	a := s.Anchor.UTC()
	k := n * s.Count
	switch s.Interval {
	case Day:
		return a.AddDate(0, 0, k)
	case Week:
		return a.AddDate(0, 0, 7*k)
	case Month:
		return addMonthsClamped(a, k)
	case Year:
		return addMonthsClamped(a, 12*k)
	}
	panic("billing: unknown interval " + string(s.Interval))
}

// Period returns the start and end of period n; the end is the next period's start.
func (s Schedule) Period(n int) (start, end time.Time) {
	return s.PeriodStart(n), s.PeriodStart(n + 1)
}

// addMonthsClamped adds months to t, keeping t's day of month unless the target month is shorter,
// in which case the last day of that month is used.
func addMonthsClamped(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	if last := daysIn(first.Year(), first.Month()); d > last {
		d = last
	}
	return first.AddDate(0, 0, d-1)
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
