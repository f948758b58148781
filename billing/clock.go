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
