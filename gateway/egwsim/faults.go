package egwsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/recur-billing/recur/gateway/egw"
)

// FaultKind says how a call goes wrong.
type FaultKind string

// The kinds of fault.
const (
	// KindError answers Status with an ErrorResponse, before the call takes effect or, with
	// AfterEffect, after it (the lost answer).
	KindError FaultKind = "error"
	// KindLatency delays the call by Duration before it is carried out; a client that gives up
	// meanwhile does not stop it.
	KindLatency FaultKind = "latency"
	// KindTimeout holds the request without an answer until the client gives up, the simulator is
	// closed or Duration has passed (default DefaultHold; then it answers 504). Without
	// AfterEffect the call is not carried out; with it, it is, and only the answer is held back.
	KindTimeout FaultKind = "timeout"
	// KindReset closes the connection with a TCP RST and no answer, before the call takes effect
	// or, with AfterEffect, after it.
	KindReset FaultKind = "reset"
	// KindDecline makes the issuer decline a token session with Code (default
	// INSUFFICIENT_FUNDS), as a token's DeclineCode does. Token sessions only.
	KindDecline FaultKind = "decline"
	// KindProcessing keeps the payment of a token session SENT_FOR_PROCESSING for Duration on the
	// simulator's clock (Forever: for good) instead of the token's or the simulator's delay.
	// Token sessions only.
	KindProcessing FaultKind = "processing"
)

var faultKinds = []FaultKind{KindError, KindLatency, KindTimeout, KindReset, KindDecline, KindProcessing}

// strikes reports whether the kind makes the call fail rather than change its outcome.
func (k FaultKind) strikes() bool { return k == KindError || k == KindTimeout || k == KindReset }

// sessionOnly reports whether the kind applies to token sessions alone.
func (k FaultKind) sessionOnly() bool { return k == KindDecline || k == KindProcessing }

const (
	// Forever as a Duration keeps a payment SENT_FOR_PROCESSING for good (Fault, Token) or holds
	// a request until its client gives up or the simulator is closed.
	Forever time.Duration = math.MaxInt64
	// DefaultHold is how long a timeout fault holds a request when its Duration is 0: longer
	// than the EGW client's default timeout, so that the client gives up first.
	DefaultHold = time.Minute
)

// Fault makes a call to an operation go wrong. The zero Fault answers 503 before the call takes
// effect.
type Fault struct {
	// Kind is how the call goes wrong; default KindError.
	Kind FaultKind `json:"kind"`
	// Status is the HTTP status of a KindError answer (400 to 599); default 503 before the
	// effect, 500 after it.
	Status int `json:"status,omitempty"`
	// AfterEffect carries the call out before an error, timeout or reset strikes: the caller
	// cannot tell whether the call took effect.
	AfterEffect bool `json:"after_effect,omitempty"`
	// Duration is a latency's delay, a timeout's longest hold (default DefaultHold) or how long
	// a processing fault's payment stays SENT_FOR_PROCESSING. Latency and holds are real time.
	// In JSON it is a string such as "250ms", or "forever".
	Duration time.Duration `json:"-"`
	// Code is a decline fault's decline code (see egw.IsDeclineCode).
	Code string `json:"code,omitempty"`
}

// withDefaults fills in the fields that f leaves to their defaults.
func (f Fault) withDefaults() Fault {
	if f.Kind == "" {
		f.Kind = KindError
	}
	switch {
	case f.Kind == KindError && f.Status == 0 && f.AfterEffect:
		f.Status = http.StatusInternalServerError
	case f.Kind == KindError && f.Status == 0:
		f.Status = http.StatusServiceUnavailable
	case f.Kind == KindTimeout && f.Duration == 0:
		f.Duration = DefaultHold
	case f.Kind == KindDecline && f.Code == "":
		f.Code = egw.CodeInsufficientFunds
	}
	return f
}

// strikes reports whether f makes the call fail; the zero Fault of a call without one does not.
func (f Fault) strikes() bool { return f.Kind.strikes() }

// Validate reports whether f can be injected into calls to op, and if not, why.
func (f Fault) Validate(op Operation) error {
	if !slices.Contains(operations, op) {
		return fmt.Errorf("unknown operation %q; the operations are %v", op, operations)
	}
	f = f.withDefaults()
	if !slices.Contains(faultKinds, f.Kind) {
		return fmt.Errorf("unknown fault kind %q; the kinds are %v", f.Kind, faultKinds)
	}
	var problem string
	switch k := f.Kind; {
	case k.sessionOnly() && op != OpCreateTokenSession:
		problem = "it applies to " + string(OpCreateTokenSession) + " only"
	case k == KindError && (f.Status < 400 || f.Status > 599):
		problem = fmt.Sprintf("status %d is not from 400 to 599", f.Status)
	case k != KindError && f.Status != 0:
		problem = "only an error fault has a status"
	case f.AfterEffect && !k.strikes():
		problem = "only error, timeout and reset faults strike after the effect"
	case f.Duration < 0:
		problem = "the duration is negative"
	case (k == KindLatency || k == KindProcessing) && f.Duration == 0:
		problem = "it needs a duration"
	case (k == KindError || k == KindReset || k == KindDecline) && f.Duration != 0:
		problem = "it takes no duration"
	case k == KindDecline && !egw.IsDeclineCode(f.Code):
		problem = fmt.Sprintf("%q is not a decline code", f.Code)
	case k != KindDecline && f.Code != "":
		problem = "only a decline fault has a code"
	default:
		return nil
	}
	return fmt.Errorf("%s fault on %s: %s", f.Kind, op, problem)
}

// MarshalJSON writes f with its Duration as a string.
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault // without the methods
	return json.Marshal(struct {
		plain
		Duration duration `json:"duration,omitempty"`
	}{plain(f), duration(f.Duration)})
}

// UnmarshalJSON reads what MarshalJSON writes and rejects unknown fields.
func (f *Fault) UnmarshalJSON(b []byte) error {
	type plain Fault
	v := struct {
		*plain
		Duration duration `json:"duration"`
	}{plain: (*plain)(f)}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	f.Duration = time.Duration(v.Duration)
	return nil
}

// duration is a time.Duration in JSON: a string that time.ParseDuration reads, or "forever".
type duration time.Duration

func (d duration) MarshalText() ([]byte, error) {
	if time.Duration(d) == Forever {
		return []byte("forever"), nil
	}
	return []byte(time.Duration(d).String()), nil
}

func (d *duration) UnmarshalText(b []byte) error {
	if string(b) == "forever" {
		*d = duration(Forever)
		return nil
	}
	v, err := time.ParseDuration(string(b))
	*d = duration(v)
	return err
}

// decodeStrict decodes one JSON value from b into v, rejecting unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// FaultSource says what injected a fault.
type FaultSource string

// The sources of faults.
const (
	FromNext   FaultSource = "next"   // FailNext
	FromAlways FaultSource = "always" // FailAlways
	FromChaos  FaultSource = "chaos"  // SetChaos
)

// Injection is the record of one fault injected into a call.
type Injection struct {
	Op     Operation   `json:"op"`
	Source FaultSource `json:"source"`
	Fault  Fault       `json:"fault"` // with its defaults filled in
	// RequestID is the call's X-Request-Id.
	RequestID string `json:"request_id"`
	// PaymentID is the payment in the call's path, if any.
	PaymentID string `json:"payment_id,omitempty"`
	// At is when the fault was picked, on the simulator's clock.
	At time.Time `json:"at"`
}

// FailNext makes the next call to op that passes the authentication and request id checks go
// wrong as f says. Faults for one operation queue up, and take precedence over FailAlways and
// chaos. It panics if f.Validate(op) fails: that is a mistake in the test.
func (s *Sim) FailNext(op Operation, f Fault) {
	mustValidate(op, f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[op] = append(s.next[op], f.withDefaults())
}

// FailAlways makes every call to op that FailNext does not script go wrong as f says, until
// ClearFaults; it replaces an earlier FailAlways for op and takes precedence over chaos. It
// panics if f.Validate(op) fails.
func (s *Sim) FailAlways(op Operation, f Fault) {
	mustValidate(op, f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[op] = f.withDefaults()
}

func mustValidate(op Operation, f Fault) {
	if err := f.Validate(op); err != nil {
		panic("egwsim: " + err.Error())
	}
}

// ClearFaults drops the faults that FailNext and FailAlways scripted. Chaos goes on (see
// StopChaos), and the record of injected faults stays.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.next)
	clear(s.always)
}

// Faults returns the record of every fault injected so far, oldest first.
func (s *Sim) Faults() []Injection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Injection{}, s.injected...)
}

// pickFault returns the fault of a call to op that passed the checks, with its defaults, and
// records it: the next scripted one, else the standing one, else chaos's; the zero Fault when
// none. Chaos draws on every such call, so that op's random stream follows op's calls alone.
// The caller holds s.mu.
func (s *Sim) pickFault(op Operation, r *http.Request) Fault {
	random, drawn := s.chaos.draw(op)
	var f Fault
	var src FaultSource
	if q := s.next[op]; len(q) > 0 {
		f, src, s.next[op] = q[0], FromNext, q[1:]
	} else if always, found := s.always[op]; found {
		f, src = always, FromAlways
	} else if drawn {
		f, src = random, FromChaos
	} else {
		return Fault{}
	}
	s.injected = append(s.injected, Injection{Op: op, Source: src, Fault: f,
		RequestID: r.Header.Get("X-Request-Id"), PaymentID: r.PathValue("paymentId"), At: s.opts.Clock.Now()})
	return f
}

// wait waits d of real time, or less if r's client gives up or the simulator is closed.
func (s *Sim) wait(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-s.closed:
	}
}

// Close ends at once every wait for a latency or a held request, now and later, so that a server
// can shut down while faults hold requests: http.Server.RegisterOnShutdown(sim.Close). The
// simulator goes on serving.
func (s *Sim) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}
