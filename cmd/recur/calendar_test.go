package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway/egwsim"
)

// TestSubscriptionTimeZone: a subscription made at 11:00 in Helsinki is billed at 11:00 there
// every month, which is 09:00 UTC in winter and 08:00 UTC once the clocks have gone forward; the
// time zone is shown, UTC by default, and a bad one is a 422 naming the field.
func TestSubscriptionTimeZone(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t) // its clock starts on 2026-01-31 at 09:00 UTC, 11:00 in Helsinki
	cus, pm := e.customer(egwsim.TokenActive)
	body := map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250, "currency": "EUR",
		"interval": "month", "time_zone": "Europe/Helsinki"}
	var sub struct {
		ID            string    `json:"id"`
		TimeZone      string    `json:"time_zone"`
		NextBillingAt time.Time `json:"next_billing_at"`
	}
	e.post("/v1/subscriptions", body, 201, &sub)
	require.Equal(t, "Europe/Helsinki", sub.TimeZone)
	e.settledCharges(sub.ID, 1)

	e.clock.Set(time.Date(2026, time.February, 28, 9, 0, 0, 0, time.UTC)) // Feb 28, 11:00 EET
	e.settledCharges(sub.ID, 2)
	e.clock.Set(time.Date(2026, time.March, 31, 8, 0, 0, 0, time.UTC)) // Mar 31, 11:00 EEST
	charges := e.settledCharges(sub.ID, 3)
	require.Equal(t, time.Date(2026, time.March, 31, 8, 0, 0, 0, time.UTC), charges[0].Period.Start.UTC())
	require.Equal(t, time.Date(2026, time.April, 30, 8, 0, 0, 0, time.UTC), charges[0].Period.End.UTC())
	require.Equal(t, 200, e.do("GET", "/v1/subscriptions/"+sub.ID, nil, &sub))
	require.Equal(t, "Europe/Helsinki", sub.TimeZone)
	require.Equal(t, time.Date(2026, time.April, 30, 8, 0, 0, 0, time.UTC), sub.NextBillingAt.UTC())

	delete(body, "time_zone")
	e.post("/v1/subscriptions", body, 201, &sub)
	require.Equal(t, "UTC", sub.TimeZone)

	for _, bad := range []any{"Mars/Olympus", "", "Local", 3} {
		body["time_zone"] = bad
		var p problemOut
		e.post("/v1/subscriptions", body, 422, &p)
		require.Len(t, p.Errors, 1, "%v", bad)
		require.Equal(t, "time_zone", p.Errors[0].Field, "%v", bad)
	}
}
