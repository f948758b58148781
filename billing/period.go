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

// Schedule is a recurring billing cycle: period n starts at Anchor + n*Count*Interval, counted on
// the calendar and clocks of Location.
type Schedule struct {
	Anchor   time.Time
	Interval Interval
	Count    int
	// Location is the time zone whose calendar the periods follow (nil is UTC): a subscription
	// anchored at 09:00 in Europe/Helsinki is billed at 09:00 there, in winter and in summer.
	Location *time.Location
}

// Zone returns the schedule's time zone: Location, or UTC when it is nil.
func (s Schedule) Zone() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
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

// PeriodStart returns when period n begins, in UTC. It is computed from the anchor each time,
// never by adding to the previous period, so month ends hold: a Jan 31 anchor gives Feb 28 (or 29),
// then Mar 31. The days, months and years are those of the schedule's time zone, and so is the
// time of day, whatever the zone's offset from UTC on the day: a period starts at the anchor's
// local time on the local date anchor + n*Count*Interval (with the day clamped to the end of a
// shorter month). A local time that the clocks skip or repeat on that date is resolved as
// wallTime says: a skipped 03:30 becomes 04:30 after a one-hour jump, and a repeated one is the
// first of the two. Period 0 is the anchor itself.
func (s Schedule) PeriodStart(n int) time.Time {
	k := n * s.Count
	if k == 0 {
		return s.Anchor.UTC()
	}
	a := s.Anchor.In(s.Zone())
	y, m, d := a.Date()
	switch s.Interval {
	case Day:
		d += k
	case Week:
		d += 7 * k
	case Month:
		y, m, d = addMonthsClamped(y, m, d, k)
	case Year:
		y, m, d = addMonthsClamped(y, m, d, 12*k)
	default:
		panic("billing: unknown interval " + string(s.Interval))
	}
	return wallTime(y, m, d, a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), s.Zone()).UTC()
}

// Period returns the start and end of period n; the end is the next period's start.
func (s Schedule) Period(n int) (start, end time.Time) {
	return s.PeriodStart(n), s.PeriodStart(n + 1)
}

// addMonthsClamped adds months to a date, keeping its day of month unless the target month is
// shorter, in which case the last day of that month is used.
func addMonthsClamped(y int, m time.Month, d, months int) (int, time.Month, int) {
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	return first.Year(), first.Month(), min(d, daysIn(first.Year(), first.Month()))
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
