package billing

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

// FrozenClock is a per-customer test clock of a sandbox, like Stripe's: the customers created on
// it live at its frozen time, which stands still until the API advances it (forward only).
// Renewals, trial ends, ended pauses, dunning retries and token checks of those customers happen
// at its time; every other customer keeps the instance's Clock.
type FrozenClock struct {
	ID         uuid.UUID
	Name       string
	FrozenTime time.Time
	// Advancing is true while the scheduler and janitor passes enqueued by the last advance have
	// not finished.
	Advancing bool
	CreatedAt time.Time
}

// NewFrozenClock validates a new clock's name and time.
func NewFrozenClock(name string, frozenTime *time.Time, now time.Time) (FrozenClock, error) {
	if len(name) > 255 || strings.TrimSpace(name) != name {
		return FrozenClock{}, &ValidationError{Field: "name", Reason: "must be at most 255 characters, without leading or trailing spaces"}
	}
	if frozenTime == nil {
		return FrozenClock{}, &ValidationError{Field: "frozen_time", Reason: "is required: the clock's time (RFC 3339)"}
	}
	return FrozenClock{ID: NewID(), Name: name, FrozenTime: frozenTime.UTC().Truncate(time.Microsecond), CreatedAt: now}, nil
}

// Advance moves the clock forward to to, which must be after its time and at most
// MaxTestClockAdvance after it.
func (c *FrozenClock) Advance(to *time.Time) error {
	if to == nil {
		return &ValidationError{Field: "frozen_time", Reason: "is required: the time to move to (RFC 3339)"}
	}
	by := to.Sub(c.FrozenTime)
	if by <= 0 || by > MaxTestClockAdvance {
		return &ValidationError{Field: "frozen_time", Reason: "must be after the clock's time, and at most ten years after it"}
	}
	c.FrozenTime = to.UTC().Truncate(time.Microsecond)
	return nil
}

// Stopped is a Clock that always tells t: a customer's test clock as it read when looked up.
type Stopped time.Time

// Now returns the stopped time.
func (s Stopped) Now() time.Time { return time.Time(s) }
