package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }

func TestPeriodStartMonthEnds(t *testing.T) {
	t.Parallel()
	s := Schedule{Anchor: date(2024, time.January, 31), Interval: Month, Count: 1}
	want := []time.Time{
		date(2024, time.January, 31), date(2024, time.February, 29), date(2024, time.March, 31),
		date(2024, time.April, 30), date(2024, time.May, 31),
	}
	for n, w := range want {
		require.Equal(t, w, s.PeriodStart(n), "period %d", n)
	}
	// Non-leap year, and across a year boundary.
	s.Anchor = date(2022, time.December, 31)
	require.Equal(t, date(2023, time.February, 28), s.PeriodStart(2))
}

func TestPeriodStartOtherIntervals(t *testing.T) {
	t.Parallel()
	anchor := date(2024, time.February, 29)
	cases := []struct {
		interval Interval
		count, n int
		want     time.Time
	}{
		{Day, 1, 1, date(2024, time.March, 1)},
		{Day, 10, 3, date(2024, time.March, 30)},
		{Week, 2, 1, date(2024, time.March, 14)},
		{Month, 3, 1, date(2024, time.May, 29)},
		{Year, 1, 1, date(2025, time.February, 28)},
		{Year, 1, 4, date(2028, time.February, 29)},
	}
	for _, c := range cases {
		s := Schedule{Anchor: anchor, Interval: c.interval, Count: c.count}
		require.Equal(t, c.want, s.PeriodStart(c.n), "%d %s x%d", c.n, c.interval, c.count)
	}
}

func TestPeriodsAreContiguous(t *testing.T) {
	t.Parallel()
	s := Schedule{Anchor: date(2023, time.August, 31), Interval: Month, Count: 1}
	for n := 0; n < 48; n++ {
		start, end := s.Period(n)
		require.True(t, end.After(start))
		next, _ := s.Period(n + 1)
		require.Equal(t, end, next)
	}
}

func TestScheduleValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Schedule{Interval: Month, Count: 1}.Validate())
	var ve *ValidationError
	require.ErrorAs(t, Schedule{Interval: "fortnight", Count: 1}.Validate(), &ve)
	require.Equal(t, "interval", ve.Field)
	require.ErrorAs(t, Schedule{Interval: Week, Count: 0}.Validate(), &ve)
	require.Equal(t, "interval_count", ve.Field)
}
