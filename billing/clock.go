package billing

import (
	"sync"
	"time"
)

// Clock tells the time. Everything that depends on "now" takes a Clock so that tests (and, later,
// sandbox test clocks) can move time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// ManualClock is a Clock that only moves when told to. It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t.UTC()} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// OffsetClock is the wall clock moved by a fixed offset: a process started with one lives at a
// simulated time (soak tests run whole billing periods this way).
type OffsetClock struct{ Offset time.Duration }

// Now returns the current UTC time plus the offset.
func (c OffsetClock) Now() time.Time { return time.Now().UTC().Add(c.Offset) }

// TestClock is a sandbox's clock, like Stripe's test clocks: the wall clock moved forward by
// Advance, so that a developer sees renewals, trial ends and dunning without waiting for them. It
// runs on from where it was moved, never goes back, and starts at the wall-clock time. It is safe
// for concurrent use. Only `recur dev` with its built-in gateway simulator runs on one: a real
// gateway's payments must happen at the real time.
type TestClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// MaxTestClockAdvance bounds one Advance: ten years of billing are enough to look at.
const MaxTestClockAdvance = 10 * 366 * 24 * time.Hour

// NewTestClock returns a TestClock at the wall-clock time.
func NewTestClock() *TestClock { return &TestClock{} }

// Now returns the wall-clock time plus how far the clock was advanced, in UTC, to the
// microsecond that PostgreSQL keeps (so that an answer shows the times as they are stored).
func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset).Truncate(time.Microsecond)
}

// Advance moves the clock forward to to, which must be after its current time and at most
// MaxTestClockAdvance ahead of it; the clock runs on from there.
func (c *TestClock) Advance(to time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	by := to.Sub(time.Now().UTC().Add(c.offset))
	if by <= 0 || by > MaxTestClockAdvance {
		return &ValidationError{Field: "to", Reason: "must be after the clock's time, and at most ten years after it"}
	}
	c.offset += by
	return nil
}
