package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// TestTestClock: on a test clock (as `recur dev` with its simulator runs), advancing the clock
// through the API renews a subscription and ends a trial at once; it never goes back, and the
// endpoints do not exist on any other clock.
func TestTestClock(t *testing.T) {
	t.Parallel()
	e := newTestEnvOn(t, billing.NewTestClock(), egwsim.Options{})
	cus, pm := e.customer(egwsim.TokenActive)
	var sub, trial subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &sub)
	monthly := sub.ID
	e.settledCharges(monthly, 1)
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 900,
		"currency": "EUR", "interval": "month", "trial_days": 14}, 201, &trial)
	require.Equal(t, "trialing", trial.Status)

	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+monthly, nil, &sub))
	var clock struct {
		Now time.Time `json:"now"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/test_clock", nil, &clock))
	require.WithinDuration(t, time.Now(), clock.Now, 5*time.Second)

	to := sub.NextBillingAt.Add(time.Minute) // past the trial's end too
	e.post("/v1/test_clock/advance", map[string]any{"to": to}, 200, &clock)
	require.False(t, clock.Now.Before(to))
	charges := e.settledCharges(monthly, 2)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Equal(t, 1, charges[0].Period.Index)
	trialCharges := e.settledCharges(trial.ID, 1)
	require.Equal(t, trial.TrialEnd.UTC(), trialCharges[0].Period.Start.UTC())
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+trial.ID, nil, &trial))
	require.Equal(t, "active", trial.Status)

	var p problemOut
	e.post("/v1/test_clock/advance", map[string]any{"to": to.Add(-time.Hour)}, 422, &p)
	require.Equal(t, "to", p.Errors[0].Field)
	e.post("/v1/test_clock/advance", map[string]any{}, 422, &p)
	require.Equal(t, "to", p.Errors[0].Field)
	e.post("/v1/test_clock/advance", map[string]any{"to": "tomorrow"}, 422, &p)
	require.Equal(t, "to", p.Errors[0].Field)

	finance, err := api.CreateAPIKeyWithRole(context.Background(), e.db, "finance", api.RoleFinance, billing.SystemClock{})
	require.NoError(t, err)
	e.key = finance
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/test_clock", nil, nil))
	require.Equal(t, http.StatusForbidden, e.do(http.MethodPost, "/v1/test_clock/advance", map[string]any{"to": to.Add(time.Hour)}, nil))

	// The wall clock (and a real gateway) has no test clock.
	plain := newTestEnv(t)
	require.Equal(t, http.StatusNotFound, plain.do(http.MethodGet, "/v1/test_clock", nil, nil))
	require.Equal(t, http.StatusNotFound, plain.do(http.MethodPost, "/v1/test_clock/advance", map[string]any{"to": to}, nil))
}

// TestTestClockAdvanceWhilePassWaits: an advance of the instance's test clock bills what fell due
// even when a scheduler pass is already waiting or running (read the clock before the advance),
// which the scheduler pass's uniqueness would otherwise let stand in for the advance's own.
func TestTestClockAdvanceWhilePassWaits(t *testing.T) {
	t.Parallel()
	e := newTestEnvOn(t, billing.NewTestClock(), egwsim.Options{}, func(c *jobs.Config) { c.BillingInterval = time.Hour })
	cus, pm := e.customer(egwsim.TokenActive)
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 900,
		"currency": "EUR", "interval": "month", "trial_days": 14}, 201, &sub)
	require.Equal(t, "trialing", sub.Status)
	require.Eventually(t, func() bool { // a pass that is not the advance's, once the first has run
		res, err := e.river.Insert(context.Background(), jobs.BillDueSubscriptionsArgs{},
			&river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		return !res.UniqueSkippedAsDuplicate
	}, 10*time.Second, 20*time.Millisecond)

	e.post("/v1/test_clock/advance", map[string]any{"to": sub.TrialEnd.Add(time.Minute)}, 200, nil)
	charges := e.settledCharges(sub.ID, 1)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+sub.ID, nil, &sub))
	require.Equal(t, "active", sub.Status)
}
