package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	require.NoError(t, err)
	return loc
}

func TestLoadZone(t *testing.T) {
	t.Parallel()
	loc := zone(t, "Europe/Helsinki")
	require.Equal(t, "Europe/Helsinki", loc.String())
	require.Same(t, loc, zone(t, "Europe/Helsinki"), "cached")
	require.Equal(t, time.UTC, zone(t, "UTC"))
	for _, bad := range []string{"", "Local", "Mars/Olympus", " UTC", "../etc/passwd"} {
		_, err := LoadZone(bad)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, "%q", bad)
		require.Equal(t, "time_zone", ve.Field)
	}
}

// utc is a time in UTC, for expectations.
func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

func TestPeriodStartKeepsLocalTimeAcrossDST(t *testing.T) {
	t.Parallel()
	hel := zone(t, "Europe/Helsinki")
	// 09:00 in Helsinki is 07:00 UTC in winter (EET, +2) and 06:00 UTC in summer (EEST, +3).
	s := Schedule{Anchor: time.Date(2026, time.January, 31, 9, 0, 0, 0, hel), Interval: Month, Count: 1, Location: hel}
	require.Equal(t, utc(2026, time.January, 31, 7, 0), s.PeriodStart(0))
	require.Equal(t, utc(2026, time.February, 28, 7, 0), s.PeriodStart(1))
	require.Equal(t, utc(2026, time.March, 31, 6, 0), s.PeriodStart(2), "after the clocks went forward on March 29")
	require.Equal(t, utc(2026, time.October, 31, 7, 0), s.PeriodStart(9), "after they went back on October 25")

	// The month end is the local one: 00:30 on the 1st in Helsinki is still the 31st (or 30th) in UTC.
	s.Anchor = time.Date(2026, time.January, 31, 0, 30, 0, 0, hel)
	require.Equal(t, time.Date(2026, time.February, 28, 0, 30, 0, 0, hel).UTC(), s.PeriodStart(1))
	require.Equal(t, time.Date(2026, time.April, 30, 0, 30, 0, 0, hel).UTC(), s.PeriodStart(3))

	// Without a zone, and in UTC, nothing moves with DST.
	s = Schedule{Anchor: utc(2026, time.January, 31, 7, 0), Interval: Month, Count: 1}
	require.Equal(t, utc(2026, time.March, 31, 7, 0), s.PeriodStart(2))
	s.Location = time.UTC
	require.Equal(t, utc(2026, time.March, 31, 7, 0), s.PeriodStart(2))
}

func TestPeriodStartInSkippedAndRepeatedHours(t *testing.T) {
	t.Parallel()
	hel := zone(t, "Europe/Helsinki")
	// On 2026-03-29 Helsinki's clocks jump from 03:00 to 04:00: 03:30 does not exist that day and
	// becomes 04:30 (01:30 UTC); the next day is 03:30 again.
	s := Schedule{Anchor: time.Date(2026, time.March, 28, 3, 30, 0, 0, hel), Interval: Day, Count: 1, Location: hel}
	require.Equal(t, utc(2026, time.March, 28, 1, 30), s.PeriodStart(0))
	require.Equal(t, utc(2026, time.March, 29, 1, 30), s.PeriodStart(1))
	require.Equal(t, "04:30", s.PeriodStart(1).In(hel).Format("15:04"))
	require.Equal(t, utc(2026, time.March, 30, 0, 30), s.PeriodStart(2))

	// On 2026-10-25 they go back from 04:00 to 03:00: 03:30 happens twice, and the first is used.
	s.Anchor = time.Date(2026, time.October, 24, 3, 30, 0, 0, hel)
	require.Equal(t, utc(2026, time.October, 25, 0, 30), s.PeriodStart(1), "03:30 EEST, the first one")
	require.Equal(t, utc(2026, time.October, 26, 1, 30), s.PeriodStart(2), "03:30 EET")

	// An anchor at the second 03:30 is period 0 as it is; the next periods are at 03:30.
	s.Anchor = utc(2026, time.October, 25, 1, 30)
	require.Equal(t, "03:30 EET", s.PeriodStart(0).In(hel).Format("15:04 MST"))
	require.Equal(t, utc(2026, time.October, 25, 1, 30), s.PeriodStart(0))
	require.Equal(t, utc(2026, time.October, 26, 1, 30), s.PeriodStart(1))

	// Lord Howe Island moves its clocks by half an hour: 02:15 is skipped on 2026-10-04.
	lh := zone(t, "Australia/Lord_Howe")
	s = Schedule{Anchor: time.Date(2026, time.September, 4, 2, 15, 0, 0, lh), Interval: Month, Count: 1, Location: lh}
	require.Equal(t, "2026-10-04 02:45 +11", s.PeriodStart(1).In(lh).Format("2006-01-02 15:04 -07"))
	require.Equal(t, "2026-11-04 02:15 +11", s.PeriodStart(2).In(lh).Format("2006-01-02 15:04 -07"))
}

func TestTrialEndsAtTheSameLocalTime(t *testing.T) {
	t.Parallel()
	ny := zone(t, "America/New_York")
	now := time.Date(2026, time.March, 1, 9, 0, 0, 0, ny) // EST, -5
	s, err := NewSubscription(SubscriptionTerms{UnitPrice: Money{Amount: 100, Currency: "USD"}, Quantity: 1,
		Interval: Month, Count: 1, TrialDays: 14, Location: ny}, now.UTC())
	require.NoError(t, err)
	require.Equal(t, "2026-03-15 09:00 EDT", s.TrialEnd.In(ny).Format("2006-01-02 15:04 MST"))
	require.Equal(t, *s.TrialEnd, s.NextBillingAt)
	require.Equal(t, ny, s.Schedule.Location)
}

// calendarZones are real zones with and without daylight saving time: Lord Howe moves its clocks
// by 30 minutes, Kolkata keeps a +05:30 offset all year, São Paulo had DST (starting at midnight)
// until 2019 and Sydney's is in the southern summer.
var calendarZones = []string{"UTC", "Europe/Helsinki", "America/New_York", "Australia/Lord_Howe",
	"Asia/Kolkata", "America/Sao_Paulo", "Australia/Sydney", "Europe/London", "America/Los_Angeles"}

// genSchedule draws a schedule in one of calendarZones, anchored at a local time on a random date
// (month ends and Feb 29 often), or, half the time, so that one of its first periods is meant to
// start at a local time that the clocks skip or repeat.
func genSchedule(t *rapid.T) Schedule {
	loc, err := LoadZone(rapid.SampledFrom(calendarZones).Draw(t, "zone"))
	if err != nil {
		t.Fatal(err)
	}
	s := Schedule{
		Interval: rapid.SampledFrom([]Interval{Day, Week, Month, Year}).Draw(t, "interval"),
		Count:    rapid.OneOf(rapid.IntRange(1, 3), rapid.IntRange(1, 40)).Draw(t, "count"),
		Location: loc,
	}
	y := rapid.IntRange(2012, 2036).Draw(t, "year")
	ns := rapid.OneOf(rapid.Just(0), rapid.IntRange(0, 999_999)).Draw(t, "micros") * 1000
	if wall, ok := drawTransitionWall(t, loc, y); ok {
		// Go back from that wall time by n periods, on the calendar, to find the anchor.
		n := rapid.IntRange(1, 3).Draw(t, "periods before") * s.Count
		wy, wm, wd := wall.Date()
		switch s.Interval {
		case Day:
			wd -= n
		case Week:
			wd -= 7 * n
		case Month:
			wm -= time.Month(n)
		case Year:
			wy -= n
		}
		// A day past 28 would be clamped in a shorter month and miss the transition; that's fine.
		s.Anchor = time.Date(wy, wm, wd, wall.Hour(), wall.Minute(), wall.Second(), ns, loc).UTC()
		return s
	}
	m := time.Month(rapid.IntRange(1, 12).Draw(t, "month"))
	d := rapid.OneOf(rapid.IntRange(1, 31), rapid.IntRange(28, 31)).Draw(t, "day")
	d = min(d, daysIn(y, m))
	h := rapid.OneOf(rapid.IntRange(0, 23), rapid.SampledFrom([]int{0, 1, 2, 3, 23})).Draw(t, "hour")
	mi := rapid.SampledFrom([]int{0, 15, 30, 45, 59}).Draw(t, "minute")
	s.Anchor = time.Date(y, m, d, h, mi, 0, ns, loc).UTC()
	return s
}

// drawTransitionWall draws, half the time, a local wall time (read as UTC) in year y that loc's
// clocks skip or show twice; it reports false for the other half, and for zones without changes.
func drawTransitionWall(t *rapid.T, loc *time.Location, y int) (time.Time, bool) {
	if !rapid.Bool().Draw(t, "near a transition") {
		return time.Time{}, false
	}
	var changes []time.Time
	for at, end := time.Date(y, time.January, 1, 0, 0, 0, 0, loc), time.Date(y+1, time.January, 1, 0, 0, 0, 0, loc); at.Before(end); {
		_, next := at.ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			break
		}
		changes = append(changes, next)
		at = next
	}
	if len(changes) == 0 {
		return time.Time{}, false
	}
	at := rapid.SampledFrom(changes).Draw(t, "transition")
	_, before := at.Add(-time.Second).In(loc).Zone()
	_, after := at.In(loc).Zone()
	// The wall times from at+min(before, after) to at+max(before, after) are skipped (clocks go
	// forward) or repeated (they go back).
	width := abs(after - before)
	into := rapid.IntRange(0, width/60-1).Draw(t, "minutes into the change")
	return at.Add(time.Duration(min(before, after)+60*into) * time.Second).UTC(), true
}

func abs(x int) int { return max(x, -x) }

// periodsToCheck is how many periods of s cover about two years (and at least 3).
func periodsToCheck(s Schedule) int {
	days := map[Interval]int{Day: 1, Week: 7, Month: 30, Year: 365}[s.Interval] * s.Count
	return max(3, 800/days)
}

// intendedWall is the local date and time (read as UTC) that period n is meant to start at: the
// anchor's local date moved by n*Count intervals, the day clamped to the month's last, at the
// anchor's local time of day. It is written independently of PeriodStart.
func intendedWall(s Schedule, n int) time.Time {
	a := s.Anchor.In(s.Zone())
	y, m, d := a.Date()
	k := n * s.Count
	switch s.Interval {
	case Day, Week:
		if s.Interval == Week {
			k *= 7
		}
		return time.Date(y, m, d+k, a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
	case Year:
		k *= 12
	}
	months := int(m) - 1 + k
	ty, tm := y+months/12, time.Month(months%12+1)
	return time.Date(ty, tm, min(d, daysIn(ty, tm)), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
}

// wallOf reads t's local date and time in loc as if it were UTC.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

func TestCalendarProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := genSchedule(t)
		loc := s.Zone()
		if got := s.PeriodStart(0); !got.Equal(s.Anchor) {
			t.Fatalf("period 0 starts at %v, not at the anchor %v", got, s.Anchor)
		}
		for n := range periodsToCheck(s) {
			start, end := s.Period(n)
			next, _ := s.Period(n + 1)
			if !end.Equal(next) || !start.Before(end) {
				t.Fatalf("period %d is [%v, %v), period %d starts at %v", n, start, end, n+1, next)
			}
			if start.Location() != time.UTC {
				t.Fatalf("period %d starts at %v, not in UTC", n, start)
			}
			if n == 0 {
				continue // the anchor itself, whichever of two equal wall times it is
			}
			want, got := intendedWall(s, n), wallOf(start, loc)
			// Every instant whose local wall time is the intended one, among the offsets that the
			// zone uses around then.
			var exists []time.Time
			for _, probe := range []time.Duration{-36 * time.Hour, -12 * time.Hour, 0, 12 * time.Hour, 36 * time.Hour} {
				_, off := want.Add(probe).In(loc).Zone()
				if at := want.Add(-time.Duration(off) * time.Second); wallOf(at, loc).Equal(want) {
					exists = append(exists, at)
				}
			}
			if len(exists) > 0 {
				// The intended local time exists: it is used, and the first of two.
				if !got.Equal(want) {
					t.Fatalf("period %d starts at local %v, want %v", n, got, want)
				}
				for _, at := range exists {
					if at.Before(start) {
						t.Fatalf("period %d starts at %v, but %v has the same local time earlier", n, start, at)
					}
				}
				if s.Interval == Month || s.Interval == Year {
					ad := s.Anchor.In(loc).Day()
					if d := start.In(loc).Day(); d != min(ad, daysIn(got.Year(), got.Month())) {
						t.Fatalf("period %d starts on day %d of the month, anchor day %d", n, d, ad)
					}
				}
				continue
			}
			// The clocks skip it: it starts as much later as they jumped.
			_, before := start.Add(-24 * time.Hour).In(loc).Zone()
			_, after := start.In(loc).Zone()
			if jump := time.Duration(after-before) * time.Second; jump <= 0 || !got.Equal(want.Add(jump)) {
				t.Fatalf("period %d: local %v does not exist; starts at local %v, jump %v", n, want, got, jump)
			}
		}
	})
}
