package billing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
)

// TestRetryNow: only a failed or retrying charge is retried, and only with one of its customer's
// payment methods that is not removed.
func TestRetryNow(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	customer := billing.NewID()
	pm := billing.PaymentMethod{ID: billing.NewID(), CustomerID: customer}
	c := billing.Charge{ID: billing.NewID(), CustomerID: customer, PaymentMethodID: billing.NewID(), Status: billing.ChargeFailed}

	succeeded := c
	succeeded.Status = billing.ChargeSucceeded
	var ce *billing.ConflictError
	require.ErrorAs(t, succeeded.RetryNow(nil, now), &ce)

	other := pm
	other.CustomerID = billing.NewID()
	removed := pm
	removed.RemovedAt = &now
	for _, bad := range []billing.PaymentMethod{other, removed} {
		try := c
		var ve *billing.ValidationError
		require.ErrorAs(t, try.RetryNow(&bad, now), &ve)
		require.Equal(t, "payment_method_id", ve.Field)
		require.Equal(t, c.PaymentMethodID, try.PaymentMethodID)
	}

	// A hard decline is never tried again on the same payment method (card-scheme rules): only
	// with another one. A soft one may be.
	hard := c
	hard.Failure = &billing.Failure{Code: "AUTHORIZATION_DECLINED"}
	require.ErrorAs(t, hard.RetryNow(nil, now), &ce)
	same := pm
	same.ID = hard.PaymentMethodID
	require.ErrorAs(t, hard.RetryNow(&same, now), &ce)
	require.NoError(t, hard.RetryNow(&pm, now))
	soft := c
	soft.Failure = &billing.Failure{Code: "INSUFFICIENT_FUNDS"}
	require.NoError(t, soft.RetryNow(nil, now))

	require.NoError(t, c.RetryNow(&pm, now))
	require.Equal(t, billing.ChargeRetrying, c.Status)
	require.Equal(t, pm.ID, c.PaymentMethodID)
	require.Equal(t, now, *c.NextRetryAt)
}

// TestRetryNowWithAnotherCardRestartsDunning: a retry with another payment method counts the
// dunning schedule from the retry; one with the same payment method, or none, keeps it.
func TestRetryNowWithAnotherCardRestartsDunning(t *testing.T) {
	first := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := first.AddDate(0, 0, 10)
	customer, sub := billing.NewID(), billing.NewID()
	old := billing.PaymentMethod{ID: billing.NewID(), CustomerID: customer}
	fresh := billing.PaymentMethod{ID: billing.NewID(), CustomerID: customer}
	declined := billing.Charge{ID: billing.NewID(), SubscriptionID: &sub, CustomerID: customer, PaymentMethodID: old.ID,
		Status: billing.ChargeFailed, FirstFailedAt: &first}
	soft := billing.Failure{Code: "INSUFFICIENT_FUNDS"}

	for _, same := range []*billing.PaymentMethod{nil, &old} {
		c := declined
		require.NoError(t, c.RetryNow(same, now))
		require.Equal(t, first, *c.FirstFailedAt)
		require.True(t, billing.DefaultDunning().AfterDecline(c, soft, *c.FirstFailedAt, now).EndsDunning)
	}
	c := declined
	require.NoError(t, c.RetryNow(&fresh, now))
	require.Equal(t, now, *c.FirstFailedAt)
	v := billing.DefaultDunning().AfterDecline(c, soft, *c.FirstFailedAt, now.Add(time.Minute))
	require.Equal(t, billing.ChargeRetrying, v.Status)
	require.Equal(t, now.AddDate(0, 0, 1), *v.NextRetryAt)

	undeclined := declined
	undeclined.FirstFailedAt = nil // retrying only because the card's caps deferred it
	require.NoError(t, undeclined.RetryNow(&fresh, now))
	require.Nil(t, undeclined.FirstFailedAt, "never declined: not owed")
}
