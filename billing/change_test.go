package billing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
)

func TestChangePrice(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.January, 31, 9, 0, 0, 0, time.UTC)
	eur := func(n int64) billing.Money { return billing.Money{Amount: n, Currency: "EUR"} }
	s, err := billing.NewSubscription(billing.SubscriptionTerms{UnitPrice: eur(1250), Quantity: 1, Interval: billing.Month, Count: 1}, now)
	require.NoError(t, err)
	first := s.BillNextPeriod(billing.NewID(), now)

	field := func(err error) string {
		var ve *billing.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		return ve.Field
	}
	plan := billing.NewID()
	require.NoError(t, s.ChangePrice(billing.PriceChange{PlanID: &plan, UnitPrice: eur(333), Quantity: 3, Interval: billing.Month, Count: 1}, now))
	require.Equal(t, eur(999), s.Price)
	require.Equal(t, &plan, s.PlanID)
	require.Equal(t, eur(1250), first.Amount, "the billed period keeps its charge")
	require.Equal(t, eur(999), s.BillNextPeriod(billing.NewID(), now).Amount, "the next period bills the new price")

	require.Equal(t, "currency", field(s.ChangePrice(billing.PriceChange{UnitPrice: billing.Money{Amount: 5, Currency: "USD"}, Quantity: 1}, now)))
	require.Equal(t, "plan_id", field(s.ChangePrice(billing.PriceChange{PlanID: &plan, UnitPrice: eur(5), Quantity: 1, Interval: billing.Year, Count: 1}, now)))
	require.Equal(t, "plan_id", field(s.ChangePrice(billing.PriceChange{PlanID: &plan, UnitPrice: eur(5), Quantity: 1, Interval: billing.Month, Count: 2}, now)))
	require.Equal(t, "quantity", field(s.ChangePrice(billing.PriceChange{UnitPrice: eur(5), Quantity: 0}, now)))
	require.Equal(t, "amount", field(s.ChangePrice(billing.PriceChange{UnitPrice: eur(0), Quantity: 1}, now)))
	require.Equal(t, eur(999), s.Price, "a refused change changes nothing")

	// A period that has started and waits for the scheduler is the current one: it keeps its price.
	err = s.ChangePrice(billing.PriceChange{UnitPrice: eur(5), Quantity: 1}, s.NextBillingAt)
	require.ErrorIs(t, err, billing.ErrConflict)
	require.NoError(t, s.Pause(nil, now))
	require.NoError(t, s.ChangePrice(billing.PriceChange{UnitPrice: eur(5), Quantity: 1}, s.NextBillingAt.Add(time.Hour)),
		"a paused subscription bills nothing until resumed")
	require.NoError(t, s.Cancel(now))
	require.ErrorIs(t, s.ChangePrice(billing.PriceChange{UnitPrice: eur(5), Quantity: 1}, now), billing.ErrConflict)
}
