package billing

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/google/uuid"
)

// LineKind says which way a charge line goes.
type LineKind string

// Line kinds: a debit adds to what the customer owes (amount >= 0), a credit takes from it
// (amount <= 0).
const (
	LineDebit  LineKind = "debit"
	LineCredit LineKind = "credit"
)

// ChargeLine is one part of a charge: what it is for, its signed amount and the time it covers.
// The lines of a charge sum to its amount.
type ChargeLine struct {
	Kind        LineKind
	Description string
	Amount      Money // > 0 for a debit, < 0 for a credit (0 either way)
	Start, End  time.Time
}

// CheckLines reports an error unless the lines of c are in its currency, signed as their kind
// says, and sum to its amount. A charge without lines is its amount alone.
func CheckLines(c Charge) error {
	if len(c.Lines) == 0 {
		return nil
	}
	var sum int64
	for _, l := range c.Lines {
		switch {
		case l.Amount.Currency != c.Amount.Currency:
			return fmt.Errorf("charge %s: a line in %s on a charge in %s", c.ID, l.Amount.Currency, c.Amount.Currency)
		case l.Kind == LineDebit && l.Amount.Amount < 0, l.Kind == LineCredit && l.Amount.Amount > 0,
			l.Kind != LineDebit && l.Kind != LineCredit:
			return fmt.Errorf("charge %s: a %q line of %d", c.ID, l.Kind, l.Amount.Amount)
		}
		var carry bool
		if sum, carry = addInt64(sum, l.Amount.Amount); carry {
			return fmt.Errorf("charge %s: its lines overflow", c.ID)
		}
	}
	if sum != c.Amount.Amount {
		return fmt.Errorf("charge %s: its lines sum to %d, not its amount %d", c.ID, sum, c.Amount.Amount)
	}
	return nil
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (b > 0 && s < a) || (b < 0 && s > a)
}

// Prorate returns the part of price that part seconds of a whole-second period are worth:
// price x part / whole, computed exactly (in 128 bits, so a large price times the seconds of a
// long period does not overflow) and rounded to the nearest minor unit, a half to the even one
// (banker's rounding: unbiased over many changes, and the same on every machine). It needs
// price >= 0 and 0 <= part <= whole, whole > 0; the result is then between 0 and price.
func Prorate(price, part, whole int64) int64 {
	if price < 0 || part < 0 || whole <= 0 || part > whole {
		panic(fmt.Sprintf("billing: Prorate(%d, %d, %d)", price, part, whole))
	}
	hi, lo := bits.Mul64(uint64(price), uint64(part))
	q, r := bits.Div64(hi, lo, uint64(whole)) // hi < whole since part <= whole: q fits
	// Compare the remainder with half the divisor without overflow: r and whole - r are both < whole.
	if half := uint64(whole) - r; r > half || (r == half && q%2 == 1) {
		q++
	}
	return int64(q)
}

// secondsBetween returns the whole seconds from a to b, rounded down (b >= a).
func secondsBetween(a, b time.Time) int64 {
	d := b.Unix() - a.Unix()
	if b.Nanosecond() < a.Nanosecond() {
		d--
	}
	return d
}

// Proration is what an immediate change of price settles for the rest of the current period: a
// credit for the time left at the price the period was billed at, and a debit for the same time
// at the new price. Its net (the sum of its lines) is charged when positive and kept as credit
// on the subscription when negative.
type Proration struct {
	ChangeID   uuid.UUID
	Period     int       // the index of the period changed
	Start, End time.Time // the rest of the period: from the change to the period's end
	Lines      []ChargeLine
}

// Net returns the sum of the lines: what the change costs (> 0) or gives back (< 0).
func (p Proration) Net() int64 {
	var n int64
	for _, l := range p.Lines {
		n += l.Amount.Amount // each line is within [-price, price]: no overflow
	}
	return n
}

// CurrentCharges is what ChangePriceNow needs to know of the charges of the subscription's
// current period.
type CurrentCharges struct {
	Billed    bool // the period has its period charge (a period skipped by a pause has none)
	Collected bool // every charge of the period succeeded, and none is refunded
}

// ChangePriceNow makes the subscription bill c's unit price x quantity from now on, as
// ChangePrice does, and prorates the current period: with t seconds left (rounded down) of a
// period of w seconds, the period's price P (what it was billed at: its price or variable
// amount, or the price of an earlier immediate change in it) gives a credit of P x t / w, and
// the new price N a debit of N x t / w, each rounded as Prorate says. A negative net is added to
// the subscription's credit, which later period charges use (ApplyCredit); a positive one is for
// the caller to charge (NewProrationCharge); the lines show both either way.
//
// Only an active subscription is changed now. A current period that was billed is prorated only
// when its charges were all collected (a credit is only ever for time paid for), else the change
// is refused (a *ConflictError); one that was not billed (trialing, or skipped by a pause) has
// nothing to prorate: the change applies with no lines. Anything ChangePrice refuses is refused.
func (s *Subscription) ChangePriceNow(c PriceChange, current CurrentCharges, now time.Time) (Proration, error) {
	if s.Status != SubscriptionActive && s.Status != SubscriptionTrialing {
		return Proration{}, &ConflictError{Reason: fmt.Sprintf("a %s subscription cannot be changed now: change it from the next period", s.Status)}
	}
	start, end, _ := s.CurrentPeriod()
	if current.Billed && !current.Collected {
		return Proration{}, &ConflictError{Reason: "the current period's charges are not all collected (pending, failed or refunded): change it from the next period, or once they are"}
	}
	if current.Billed && s.PeriodPrice.Amount <= 0 {
		return Proration{}, &ConflictError{Reason: "the price the current period was billed at is not known: change it from the next period"}
	}
	after := *s
	if err := after.ChangePrice(c, now); err != nil {
		return Proration{}, err
	}
	if !current.Billed {
		*s = after
		return Proration{}, nil
	}
	// ChangePrice refused a change once the period has ended, so now < end.
	old, whole := s.PeriodPrice, secondsBetween(start, end)
	left := min(secondsBetween(now, end), whole)
	p := Proration{ChangeID: NewID(), Period: s.NextPeriod - 1, Start: now, End: end, Lines: []ChargeLine{
		{Kind: LineCredit, Amount: Money{Amount: -Prorate(old.Amount, left, whole), Currency: old.Currency}, Start: now, End: end,
			Description: fmt.Sprintf("Unused time at %s per period", old)},
		{Kind: LineDebit, Amount: Money{Amount: Prorate(after.Price.Amount, left, whole), Currency: old.Currency}, Start: now, End: end,
			Description: fmt.Sprintf("Remaining time at %s per period", after.Price)},
	}}
	if net := p.Net(); net < 0 {
		credit, carry := addInt64(after.Credit.Amount, -net)
		if carry {
			return Proration{}, &ValidationError{Field: "amount", Reason: "the subscription's credit would be too large an amount"}
		}
		after.Credit = Money{Amount: credit, Currency: old.Currency}
	}
	after.PeriodPrice = after.Price
	*s = after
	return p, nil
}

// NewProrationCharge makes the charge of a proration's positive net: ad hoc in the card schemes'
// terms (an unscheduled merchant-initiated payment, channel MERCHANT, which needs a token with
// the UNSCHEDULED purpose: its amount and time follow no schedule), for the rest of the period,
// with the proration's lines.
func (s Subscription) NewProrationCharge(p Proration, now time.Time) Charge {
	sub, change := s.ID, p.ChangeID
	return Charge{
		ID: NewID(), Kind: ChargeProration, ChangeID: &change, CustomerID: s.CustomerID, PaymentMethodID: s.PaymentMethodID,
		SubscriptionID: &sub, PeriodIndex: p.Period, PeriodStart: p.Start, PeriodEnd: p.End,
		Amount: Money{Amount: p.Net(), Currency: s.Price.Currency}, Channel: ChannelMerchant,
		Description: fmt.Sprintf("Change of price in period %d", p.Period), Status: ChargePending, Lines: p.Lines,
		CreatedAt: now, UpdatedAt: now,
	}
}

// ApplyCredit records c, the charge of the subscription's newest period (of its price or
// variable amount), as the period's price, and pays what it can of it from the subscription's
// credit: the charge then has two lines, the period's price and the credit applied, and is for
// the rest, never below zero; what credit is left waits for the next period. A charge paid in
// full by credit (amount 0) is succeeded at once, with nothing to collect; it pays no older
// charge, so the subscription's state stays as it is (see AfterCharge).
func (s *Subscription) ApplyCredit(c *Charge) {
	s.PeriodPrice = c.Amount
	applied := min(s.Credit.Amount, c.Amount.Amount)
	if applied <= 0 {
		return
	}
	c.Lines = []ChargeLine{
		{Kind: LineDebit, Amount: c.Amount, Start: c.PeriodStart, End: c.PeriodEnd,
			Description: fmt.Sprintf("Period %d", c.PeriodIndex)},
		{Kind: LineCredit, Amount: Money{Amount: -applied, Currency: c.Amount.Currency}, Start: c.PeriodStart, End: c.PeriodEnd,
			Description: "Credit applied"},
	}
	c.Amount.Amount -= applied
	s.Credit.Amount -= applied
	if c.Amount.Amount == 0 {
		c.Status = ChargeSucceeded
	}
}
