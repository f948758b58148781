package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway/egwsim"
)

type frozenClockOut struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	FrozenTime time.Time `json:"frozen_time"`
	Status     string    `json:"status"`
}

// clockCustomer registers a customer on test clock clockID (none when empty) with the token,
// and a monthly subscription of 12.50 EUR (with trialDays of trial) on it.
func (e *testEnv) clockCustomer(clockID, tokenID string, trialDays int) (cusID string, sub subscriptionOut) {
	e.t.Helper()
	body := map[string]any{"external_id": "acct_" + tokenID, "email": "ada@example.com", "name": "Ada"}
	if clockID != "" {
		body["test_clock_id"] = clockID
	}
	var cus struct {
		ID          string  `json:"id"`
		TestClockID *string `json:"test_clock_id"`
	}
	e.post("/v1/customers", body, 201, &cus)
	if clockID == "" {
		require.Nil(e.t, cus.TestClockID)
	} else {
		require.Equal(e.t, clockID, *cus.TestClockID)
	}
	var pm idJSON
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": tokenID}, 201, &pm)
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus.ID, "payment_method_id": pm.ID,
		"amount": 1250, "currency": "EUR", "interval": "month", "trial_days": trialDays}, 201, &sub)
	return cus.ID, sub
}

// advanceClock moves test clock id to to and waits until the passes it caused have run.
func (e *testEnv) advanceClock(id string, to time.Time) {
	e.t.Helper()
	var c frozenClockOut
	e.post("/v1/test_clocks/"+id+"/advance", map[string]any{"frozen_time": to}, 200, &c)
	require.Equal(e.t, to, c.FrozenTime)
	require.Equal(e.t, "advancing", c.Status)
	require.Eventually(e.t, func() bool {
		require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/test_clocks/"+id, nil, &c))
		return c.Status == "ready"
	}, 20*time.Second, 50*time.Millisecond, "test clock %s still advancing", id)
}

// TestPerCustomerTestClocks: in a sandbox, customers on two test clocks and one on the
// instance's clock. Advancing one clock renews its customer's subscription and ends its trial,
// at the clock's time; advancing the other day by day walks its customer's declined charge
// through dunning, one retry per due day; the other customers are untouched. Without the
// simulator there are no test clocks.
func TestPerCustomerTestClocks(t *testing.T) {
	t.Parallel()
	e := newTestEnvOn(t, billing.NewTestClock(), egwsim.Options{})
	t0 := time.Date(2030, time.January, 15, 10, 0, 0, 0, time.UTC)
	var renewing, dunning frozenClockOut
	e.post("/v1/test_clocks", map[string]any{"name": "renewals", "frozen_time": t0}, 201, &renewing)
	e.post("/v1/test_clocks", map[string]any{"name": "dunning", "frozen_time": t0}, 201, &dunning)
	require.Equal(t, "ready", renewing.Status)
	require.Equal(t, t0, renewing.FrozenTime)

	// Subscriptions start at their customer's time: a's at the clock's, c's at the instance's.
	a, monthly := e.clockCustomer(renewing.ID, egwsim.TokenActive+"_a", 0)
	_, trial := e.clockCustomer(renewing.ID, egwsim.TokenActive+"_trial", 7)
	_, declining := e.clockCustomer(dunning.ID, egwsim.TokenRecovering+"_b", 0)
	_, plain := e.clockCustomer("", egwsim.TokenActive+"_c", 0)
	require.Equal(t, "trialing", trial.Status)
	require.Equal(t, t0.AddDate(0, 0, 7), *trial.TrialEnd)
	require.Equal(t, t0, e.settledCharges(monthly.ID, 1)[0].Period.Start)
	require.WithinDuration(t, time.Now(), e.settledCharges(plain.ID, 1)[0].Period.Start, time.Minute)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+plain.ID, nil, &plain))
	first := e.restingCharges(declining.ID, 1)[0]
	require.Equal(t, "retrying", first.Status)
	require.Len(t, first.Attempts, 1)

	// A month on, on a's clock: the renewal and the trial's first charge, at the clock's time.
	e.advanceClock(renewing.ID, t0.AddDate(0, 1, 0).Add(time.Minute))
	renewed := e.settledCharges(monthly.ID, 2)
	require.Equal(t, "succeeded", renewed[0].Status)
	require.Equal(t, t0.AddDate(0, 1, 0), renewed[0].Period.Start)
	ended := e.settledCharges(trial.ID, 1)
	require.Equal(t, t0.AddDate(0, 0, 7), ended[0].Period.Start)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+trial.ID, nil, &trial))
	require.Equal(t, "active", trial.Status)
	var events struct {
		Data []struct {
			Type      string    `json:"type"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"data"`
	}
	require.Eventually(t, func() bool {
		require.Equal(t, 200, e.do(http.MethodGet, "/v1/events?type=subscription.renewed&customer_id="+a, nil, &events))
		return len(events.Data) == 1
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, t0.AddDate(0, 1, 0).Add(time.Minute), events.Data[0].CreatedAt)
	// Lifecycle operations happen at the clock's time too.
	var canceled subscriptionOut
	e.post("/v1/subscriptions/"+monthly.ID+"/cancel", nil, 200, &canceled)
	require.Equal(t, t0.AddDate(0, 1, 0).Add(time.Minute), *canceled.CanceledAt)

	// b's clock did not move: its charge waits for the retry due a day after the decline.
	require.Len(t, e.restingCharges(declining.ID, 1)[0].Attempts, 1)
	// Day by day on b's clock (dunning retries 1, 3, 5 and 7 days after the first decline).
	e.advanceClock(dunning.ID, t0.AddDate(0, 0, 1).Add(time.Minute))
	require.Eventually(t, func() bool { return len(e.restingCharges(declining.ID, 1)[0].Attempts) == 2 }, 20*time.Second, 50*time.Millisecond)
	e.advanceClock(dunning.ID, t0.AddDate(0, 0, 2).Add(time.Minute))
	retrying := e.restingCharges(declining.ID, 1)[0]
	require.Equal(t, "retrying", retrying.Status)
	require.Len(t, retrying.Attempts, 2, "no retry is due on day 2")
	var sub subscriptionOut
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+declining.ID, nil, &sub))
	require.Equal(t, "past_due", sub.Status)
	e.advanceClock(dunning.ID, t0.AddDate(0, 0, 3).Add(time.Minute))
	recovered := e.settledCharges(declining.ID, 1)[0]
	require.Equal(t, "succeeded", recovered.Status)
	require.Len(t, recovered.Attempts, 3)
	require.Eventually(t, func() bool {
		require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+declining.ID, nil, &sub))
		return sub.Status == "active"
	}, 20*time.Second, 50*time.Millisecond)

	// The instance's customer was untouched by both clocks.
	require.Len(t, e.settledCharges(plain.ID, 1), 1)
	var still subscriptionOut
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+plain.ID, nil, &still))
	require.Equal(t, plain.NextBillingAt, still.NextBillingAt)

	// Clocks only move forward, by at most ten years; a deleted clock is gone, and takes no
	// new customers.
	var p problemOut
	e.post("/v1/test_clocks/"+dunning.ID+"/advance", map[string]any{"frozen_time": t0}, 422, &p)
	require.Equal(t, "frozen_time", p.Errors[0].Field)
	e.post("/v1/test_clocks/"+dunning.ID+"/advance", map[string]any{"frozen_time": t0.AddDate(11, 0, 0)}, 422, &p)
	require.Equal(t, "frozen_time", p.Errors[0].Field)
	e.post("/v1/test_clocks", map[string]any{"name": "no time"}, 422, &p)
	require.Equal(t, "frozen_time", p.Errors[0].Field)
	var page struct {
		Data    []frozenClockOut `json:"data"`
		HasMore bool             `json:"has_more"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/test_clocks?limit=1", nil, &page))
	require.Equal(t, []string{dunning.ID}, []string{page.Data[0].ID})
	require.True(t, page.HasMore)
	require.Equal(t, 200, e.do(http.MethodDelete, "/v1/test_clocks/"+dunning.ID, nil, nil))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/test_clocks/"+dunning.ID, nil, nil))
	e.post("/v1/customers", map[string]any{"external_id": "acct_late", "email": "ada@example.com", "name": "Ada",
		"test_clock_id": dunning.ID}, 422, &p)
	require.Equal(t, "test_clock_id", p.Errors[0].Field)

	// Without the simulator (the wall clock, a real gateway): no test clocks.
	real := newTestEnv(t)
	require.Equal(t, http.StatusNotFound, real.do(http.MethodGet, "/v1/test_clocks", nil, nil))
	require.Equal(t, http.StatusNotFound, real.do(http.MethodPost, "/v1/test_clocks", map[string]any{"frozen_time": t0}, nil))
	require.Equal(t, http.StatusNotFound, real.do(http.MethodPost, "/v1/test_clocks/"+renewing.ID+"/advance", map[string]any{"frozen_time": t0}, nil))
	real.post("/v1/customers", map[string]any{"external_id": "acct_real", "email": "ada@example.com", "name": "Ada",
		"test_clock_id": renewing.ID}, 422, &p)
	require.Equal(t, "test_clock_id", p.Errors[0].Field)
}
