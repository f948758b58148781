package billing

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestMoneyTimes(t *testing.T) {
	t.Parallel()
	eur := func(n int64) Money { return Money{Amount: n, Currency: "EUR"} }
	for _, tc := range []struct {
		price Money
		qty   int
		want  Money
		bad   bool
	}{
		{eur(1250), 1, eur(1250), false},
		{eur(1250), 3, eur(3750), false},
		{eur(1), MaxQuantity, eur(MaxQuantity), false},
		{eur(math.MaxInt64 / 2), 2, eur(math.MaxInt64 - 1), false},
		{eur(math.MaxInt64/2 + 1), 2, Money{}, true},
		{eur(math.MaxInt64), 1, eur(math.MaxInt64), false},
		{eur(1250), 0, Money{}, true},
		{eur(1250), -1, Money{}, true},
		{eur(1250), MaxQuantity + 1, Money{}, true},
	} {
		got, err := tc.price.Times(tc.qty)
		var ve *ValidationError
		if tc.bad {
			if !errors.As(err, &ve) || ve.Field != "quantity" {
				t.Errorf("%v x %d: want a quantity validation error, got %v, %v", tc.price, tc.qty, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v x %d = %v, %v; want %v", tc.price, tc.qty, got, err, tc.want)
		}
	}
}

func TestPlanValidate(t *testing.T) {
	t.Parallel()
	ok := Plan{Name: "Pro", Price: Money{Amount: 900, Currency: "EUR"}, Interval: Month, Count: 1, TrialDays: 14}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, p := range map[string]Plan{
		"name":           {Price: ok.Price, Interval: Month, Count: 1},
		"amount":         {Name: "x", Price: Money{Amount: 0, Currency: "EUR"}, Interval: Month, Count: 1},
		"currency":       {Name: "x", Price: Money{Amount: 1, Currency: "eur"}, Interval: Month, Count: 1},
		"interval":       {Name: "x", Price: ok.Price, Interval: "fortnight", Count: 1},
		"interval_count": {Name: "x", Price: ok.Price, Interval: Month, Count: 0},
		"trial_days":     {Name: "x", Price: ok.Price, Interval: Month, Count: 1, TrialDays: -1},
	} {
		var ve *ValidationError
		if err := p.Validate(); !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestNewSubscription(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.January, 31, 9, 0, 0, 0, time.UTC)
	terms := SubscriptionTerms{UnitPrice: Money{Amount: 333, Currency: "EUR"}, Quantity: 3, Interval: Month, Count: 1}
	s, err := NewSubscription(terms, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Price != (Money{Amount: 999, Currency: "EUR"}) || s.NextBillingAt != now || s.TrialEnd != nil {
		t.Fatalf("without a trial: %+v", s)
	}
	terms.TrialDays = 14
	s, err = NewSubscription(terms, now)
	if err != nil {
		t.Fatal(err)
	}
	trialEnd := time.Date(2026, time.February, 14, 9, 0, 0, 0, time.UTC)
	if s.TrialEnd == nil || !s.TrialEnd.Equal(trialEnd) || !s.NextBillingAt.Equal(trialEnd) {
		t.Fatalf("the first period starts at the trial's end: %+v", s)
	}
	if start, _ := s.Schedule.Period(1); !start.Equal(time.Date(2026, time.March, 14, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("periods follow from the trial's end: %v", start)
	}
	terms.Quantity = 0
	var ve *ValidationError
	if _, err := NewSubscription(terms, now); !errors.As(err, &ve) || ve.Field != "quantity" {
		t.Fatalf("quantity 0: %v", err)
	}
}
