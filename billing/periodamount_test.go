package billing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
)

func TestNewPeriodAmount(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.January, 31, 9, 0, 0, 0, time.UTC)
	s, err := billing.NewSubscription(billing.SubscriptionTerms{UnitPrice: billing.Money{Amount: 1250, Currency: "EUR"},
		Quantity: 1, Interval: billing.Month, Count: 1}, now)
	require.NoError(t, err)
	s.BillNextPeriod(billing.NewID(), now)

	p, err := s.NewPeriodAmount(1, 4321, now)
	require.NoError(t, err)
	require.Equal(t, billing.Money{Amount: 4321, Currency: "EUR"}, p.Amount)
	require.Equal(t, time.Date(2026, time.February, 28, 9, 0, 0, 0, time.UTC), p.Start, "the month-end calendar")
	require.Equal(t, time.Date(2026, time.March, 31, 9, 0, 0, 0, time.UTC), p.End)

	field := func(err error) string {
		var ve *billing.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		return ve.Field
	}
	_, err = s.NewPeriodAmount(0, 100, now)
	require.Equal(t, "index", field(err), "billed")
	_, err = s.NewPeriodAmount(1, 100, p.Start)
	require.Equal(t, "index", field(err), "started, though the scheduler has not billed it yet")
	_, err = s.NewPeriodAmount(2, -5, now)
	require.Equal(t, "amount", field(err))
	require.NoError(t, s.Cancel(now))
	_, err = s.NewPeriodAmount(2, 100, now)
	require.ErrorIs(t, err, billing.ErrConflict)
}
