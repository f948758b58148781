package api

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
)

// TestChargePageShowsItsRetry: a charge in dunning shows when it is retried next, and why.
func TestChargePageShowsItsRetry(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	sub := billing.NewID()
	c := billing.Charge{ID: billing.NewID(), SubscriptionID: &sub, Status: billing.ChargeRetrying, NextRetryAt: &at,
		RetryReason: "soft decline (INSUFFICIENT_FUNDS): retry 1 of 4", Amount: billing.Money{Amount: 1250, Currency: "EUR"}}
	var buf bytes.Buffer
	require.NoError(t, pages["charge.html"].ExecuteTemplate(&buf, "layout", pageData{Title: "Charge", Data: chargeData{Charge: c}}))
	require.Contains(t, buf.String(), "Next retry</dt><dd>2026-03-02 09:00:00 UTC")
	require.Contains(t, buf.String(), "soft decline (INSUFFICIENT_FUNDS): retry 1 of 4")
	require.Contains(t, buf.String(), "status-retrying")
}
