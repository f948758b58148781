package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// captured returns the simulator's captured payments.
func captured(sim *egwsim.Sim) []egwsim.Entry {
	var out []egwsim.Entry
	for _, e := range sim.Ledger() {
		if e.Status == gateway.PaymentCaptured {
			out = append(out, e)
		}
	}
	return out
}

// TestMonthlySubscriptionChargedOncePerPeriod walks the core loop: a customer, a stored token
// and a monthly subscription over REST; the first period is captured once at the gateway; a month
// later on the injected clock, exactly one more.
func TestMonthlySubscriptionChargedOncePerPeriod(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	start := e.clock.Now()
	subID := e.subscribe(egwsim.TokenActive)

	first := e.settledCharges(subID, 1)
	require.Equal(t, "succeeded", first[0].Status)
	require.Equal(t, int64(1250), first[0].Amount)
	require.Equal(t, start, first[0].Period.Start)
	require.Equal(t, time.Date(2026, time.February, 28, 9, 0, 0, 0, time.UTC), first[0].Period.End, "Jan 31 + 1 month")
	ledger := captured(e.sim)
	require.Len(t, ledger, 1)
	require.Equal(t, billing.Money{Amount: 1250, Currency: "EUR"}, ledger[0].Captured)
	require.Equal(t, gateway.ChannelRecurring, ledger[0].Channel)
	require.Equal(t, egwsim.TokenActive, ledger[0].TokenID)
	require.Equal(t, ledger[0].PaymentID, *first[0].GatewayPaymentID)

	var steps []string
	for _, s := range first[0].Attempts[0].Steps {
		require.Equal(t, "ok", s.Outcome, s.Step)
		steps = append(steps, s.Step)
	}
	require.Equal(t, []string{"check_token", "create_payment", "start_session", "get_payment", "capture"}, steps)

	var sub struct {
		CurrentPeriod struct{ Index int } `json:"current_period"`
		NextBillingAt time.Time           `json:"next_billing_at"`
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions/"+subID, nil, &sub))
	require.Equal(t, 0, sub.CurrentPeriod.Index)
	require.Equal(t, first[0].Period.End, sub.NextBillingAt)

	// Scheduler passes before the next period is due charge nothing more.
	e.clock.Set(sub.NextBillingAt.Add(-time.Second))
	e.waitSchedulerPasses(3)
	require.Len(t, captured(e.sim), 1)

	// One month on: exactly one more charge, for the second period.
	e.clock.Set(sub.NextBillingAt)
	both := e.settledCharges(subID, 2)
	require.Equal(t, "succeeded", both[0].Status)
	require.Equal(t, 1, both[0].Period.Index)
	require.Equal(t, time.Date(2026, time.March, 31, 9, 0, 0, 0, time.UTC), both[0].Period.End, "back to the 31st")
	e.waitSchedulerPasses(3)
	ledger = captured(e.sim)
	require.Len(t, ledger, 2)
	require.NotEqual(t, ledger[0].PaymentID, ledger[1].PaymentID)
	require.Len(t, e.sim.Ledger(), 2, "no other payment was even created")
}
