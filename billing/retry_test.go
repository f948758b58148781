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

	require.NoError(t, c.RetryNow(&pm, now))
	require.Equal(t, billing.ChargeRetrying, c.Status)
	require.Equal(t, pm.ID, c.PaymentMethodID)
	require.Equal(t, now, *c.NextRetryAt)
}
