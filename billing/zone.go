package billing

import (
	"strings"
	"sync"
	"time"
)

// zones caches loaded time zones by name: a location is immutable once loaded, and the scheduler
// reads one per subscription.
var zones sync.Map // string -> *time.Location

// LoadZone returns the IANA time zone named name ("Europe/Helsinki", "UTC"). The names that Go
// would read from the process's environment ("Local", and "" for UTC) are refused: a
// subscription's billing day must not depend on the machine it is computed on.
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || name == "Local" || strings.TrimSpace(name) != name || len(name) > 64 {
		return nil, &ValidationError{Field: "time_zone", Reason: "must be an IANA time zone name such as Europe/Helsinki or UTC"}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &ValidationError{Field: "time_zone", Reason: "must be an IANA time zone name such as Europe/Helsinki or UTC"}
	}
	zones.Store(name, loc)
	return loc, nil
}

// wallTime returns the instant at which the clocks of loc show the given date and time (out of
// range values are normalized, as by time.Date). Where the clocks show it twice (the hour repeated
// when they go back), it is the first time; where they never show it (the hour skipped when they
// go forward), it is the time that many minutes after the jump: 03:30 on a day that jumps from
// 03:00 to 04:00 becomes 04:30. That is the "compatible" rule of RFC 5545 and JavaScript's
// Temporal. It assumes the zone changes its offset at most once within a day either side, which
// every zone in the tz database does for recent years.
func wallTime(year int, month time.Month, day, hour, minute, sec, nsec int, loc *time.Location) time.Time {
	w := time.Date(year, month, day, hour, minute, sec, nsec, time.UTC) // the wall clock, read as UTC
	_, before := w.Add(-24 * time.Hour).In(loc).Zone()
	_, after := w.Add(24 * time.Hour).In(loc).Zone()
	early := w.Add(-time.Duration(before) * time.Second).In(loc) // if the earlier offset applies
	late := w.Add(-time.Duration(after) * time.Second).In(loc)   // if the later one does
	switch {
	case sameWall(early, w):
		return early // also the first of two in an overlap: the earlier offset is the larger
	case sameWall(late, w):
		return late
	default:
		return early // in a gap: the earlier offset, which puts it after the jump
	}
}

func sameWall(t, w time.Time) bool {
	y, m, d := t.Date()
	wy, wm, wd := w.Date()
	return y == wy && m == wm && d == wd && t.Hour() == w.Hour() && t.Minute() == w.Minute() &&
		t.Second() == w.Second() && t.Nanosecond() == w.Nanosecond()
}
