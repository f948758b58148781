package egwsim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"
)

// DefaultChaosDuration is Chaos.Duration when it is 0.
const DefaultChaosDuration = 100 * time.Millisecond

// Chaos injects faults at random, replayably. Every call to one of Ops that passes the
// authentication and request id checks draws from that operation's own random stream, seeded
// from Seed: with probability Rate it gets a fault of one of Kinds, each as likely, striking
// before or after the effect as likely. The same Seed and the same sequence of calls to an
// operation give that operation the same faults, whatever the calls to other operations do.
//
// Error faults answer 503 before the effect and 500 after it; timeouts hold for DefaultHold;
// declines are INSUFFICIENT_FUNDS.
type Chaos struct {
	Seed int64 `json:"seed"`
	// Rate is the probability that a call gets a fault, from 0 to 1.
	Rate float64 `json:"rate"`
	// Ops are the operations that get faults; default all.
	Ops []Operation `json:"ops,omitempty"`
	// Kinds are the kinds of fault drawn from; default error, timeout and reset. Decline and
	// processing faults go to token sessions only.
	Kinds []FaultKind `json:"kinds,omitempty"`
	// Duration is how long a latency fault delays a call and how long a processing fault keeps
	// its payment SENT_FOR_PROCESSING; default DefaultChaosDuration. In JSON it is a string such
	// as "250ms", or "forever".
	Duration time.Duration `json:"-"`
}

// withDefaults fills in the fields that c leaves to their defaults.
func (c Chaos) withDefaults() Chaos {
	if len(c.Ops) == 0 {
		c.Ops = operations
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []FaultKind{KindError, KindTimeout, KindReset}
	}
	if c.Duration == 0 {
		c.Duration = DefaultChaosDuration
	}
	return c
}

// Validate reports whether c can be set, and if not, why.
func (c Chaos) Validate() error {
	var errs []error
	if !(c.Rate >= 0 && c.Rate <= 1) {
		errs = append(errs, fmt.Errorf("chaos rate %v is not from 0 to 1", c.Rate))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("chaos duration %v is negative", c.Duration))
	}
	for _, op := range c.Ops {
		if !slices.Contains(operations, op) {
			errs = append(errs, fmt.Errorf("unknown operation %q; the operations are %v", op, operations))
		}
	}
	for _, k := range c.Kinds {
		if !slices.Contains(faultKinds, k) {
			errs = append(errs, fmt.Errorf("unknown fault kind %q; the kinds are %v", k, faultKinds))
		}
	}
	return errors.Join(errs...)
}

// UnmarshalJSON reads c with its Duration as a string and rejects unknown fields.
func (c *Chaos) UnmarshalJSON(b []byte) error {
	type plain Chaos // without the methods
	v := struct {
		*plain
		Duration duration `json:"duration"`
	}{plain: (*plain)(c)}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	c.Duration = time.Duration(v.Duration)
	return nil
}

// SetChaos starts injecting faults at random as c says, with fresh random streams, in place of
// earlier chaos. Faults scripted with FailNext and FailAlways take precedence.
func (s *Sim) SetChaos(c Chaos) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c = c.withDefaults()
	ch := &chaos{Chaos: c, streams: map[Operation]*stream{}}
	for _, op := range c.Ops {
		kinds := slices.DeleteFunc(slices.Clone(c.Kinds), func(k FaultKind) bool {
			return k.sessionOnly() && op != OpCreateTokenSession
		})
		if len(kinds) > 0 {
			h := fnv.New64a()
			h.Write([]byte(op))
			ch.streams[op] = &stream{rand.New(rand.NewPCG(uint64(c.Seed), h.Sum64())), kinds}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chaos = ch
	return nil
}

// StopChaos stops injecting faults at random.
func (s *Sim) StopChaos() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chaos = nil
}

// chaos is the Chaos in force, with one random stream per operation that gets faults.
type chaos struct {
	Chaos
	streams map[Operation]*stream
}

// stream is an operation's random numbers and the kinds of fault that it can get.
type stream struct {
	rng   *rand.Rand
	kinds []FaultKind
}

// draw draws the fault of the next call to op, if it gets one. c may be nil: no chaos. The
// caller holds the simulator's lock.
func (c *chaos) draw(op Operation) (Fault, bool) {
	if c == nil || c.streams[op] == nil {
		return Fault{}, false
	}
	st := c.streams[op]
	if st.rng.Float64() >= c.Rate {
		return Fault{}, false
	}
	f := Fault{Kind: st.kinds[st.rng.IntN(len(st.kinds))]}
	switch {
	case f.Kind.strikes():
		f.AfterEffect = st.rng.IntN(2) == 1
	case f.Kind == KindLatency || f.Kind == KindProcessing:
		f.Duration = c.Duration
	}
	return f.withDefaults(), true
}
