package main

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway/egwsim"
)

// customer registers a customer with the token and returns its id and the payment method's.
func (e *testEnv) customer(tokenID string) (cusID, pmID string) {
	e.t.Helper()
	var cus, pm idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_" + tokenID, "email": "ada@example.com", "name": "Ada"}, 201, &cus)
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": tokenID}, 201, &pm)
	return cus.ID, pm.ID
}

type subscriptionOut struct {
	ID            string     `json:"id"`
	CustomerID    string     `json:"customer_id"`
	PlanID        *string    `json:"plan_id"`
	UnitAmount    int64      `json:"unit_amount"`
	Quantity      int        `json:"quantity"`
	Amount        int64      `json:"amount"`
	Currency      string     `json:"currency"`
	Status        string     `json:"status"`
	TrialEnd      *time.Time `json:"trial_end"`
	CancelAt      *time.Time `json:"cancel_at"`
	CanceledAt    *time.Time `json:"canceled_at"`
	PauseUntil    *time.Time `json:"pause_until"`
	NextBillingAt time.Time  `json:"next_billing_at"`
	CurrentPeriod *struct {
		Index int       `json:"index"`
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"current_period"`
}

// TestPlansAndQuantities: plans are created and listed; a subscription made from a plan copies
// its price and cycle and is billed unit price x quantity; one made inline likewise.
func TestPlansAndQuantities(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var pro, old struct {
		ID        string `json:"id"`
		Amount    int64  `json:"amount"`
		Interval  string `json:"interval"`
		TrialDays int    `json:"trial_days"`
		Active    bool   `json:"active"`
	}
	e.post("/v1/plans", map[string]any{"name": "Pro", "amount": 333, "currency": "EUR", "interval": "month"}, 201, &pro)
	require.True(t, pro.Active)
	require.Equal(t, 0, pro.TrialDays)
	e.post("/v1/plans", map[string]any{"name": "Legacy", "amount": 100, "currency": "EUR", "interval": "year", "active": false}, 201, &old)

	var plans struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/plans?limit=1", nil, &plans))
	require.True(t, plans.HasMore)
	require.Equal(t, old.ID, plans.Data[0].ID, "newest first")
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/plans?starting_after="+old.ID, nil, &plans))
	require.Len(t, plans.Data, 1)
	require.Equal(t, pro.ID, plans.Data[0].ID)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/plans?active=false", nil, &plans))
	require.Len(t, plans.Data, 1)
	require.Equal(t, old.ID, plans.Data[0].ID)

	cus, pm := e.customer(egwsim.TokenActive)
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "plan_id": pro.ID, "quantity": 3}, 201, &sub)
	require.Equal(t, pro.ID, *sub.PlanID)
	require.Equal(t, int64(333), sub.UnitAmount)
	require.Equal(t, 3, sub.Quantity)
	require.Equal(t, int64(999), sub.Amount)
	charges := e.settledCharges(sub.ID, 1)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Equal(t, int64(999), charges[0].Amount)

	var inline subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
		"currency": "EUR", "interval": "week", "quantity": 2}, 201, &inline)
	require.Nil(t, inline.PlanID)
	require.Equal(t, int64(2500), inline.Amount)
	require.Equal(t, int64(2500), e.settledCharges(inline.ID, 1)[0].Amount)

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"plan_id": pro.ID, "amount": 5}, "amount"},
		{map[string]any{"plan_id": old.ID}, "plan_id"},
		{map[string]any{"plan_id": "00000000-0000-0000-0000-000000000000"}, "plan_id"},
		{map[string]any{"plan_id": pro.ID, "quantity": 0}, "quantity"},
		{map[string]any{"amount": math.MaxInt64 / 2, "currency": "EUR", "interval": "month", "quantity": 3}, "quantity"},
		{map[string]any{"currency": "EUR", "interval": "month"}, "amount"},
		{map[string]any{"plan_id": pro.ID, "trial_days": -1}, "trial_days"},
	} {
		tc.body["customer_id"], tc.body["payment_method_id"] = cus, pm
		var p problemOut
		e.post("/v1/subscriptions", tc.body, 422, &p)
		require.Equal(t, tc.field, p.Errors[0].Field, "%v: %+v", tc.body, p)
	}
	var p problemOut
	e.post("/v1/plans", map[string]any{"name": "Bad", "amount": 100, "currency": "EUR", "interval": "fortnight"}, 422, &p)
	require.Equal(t, "interval", p.Errors[0].Field)
}

// TestTrialFromPlan: a plan's trial delays the first period to the trial's end; nothing is
// billed before it, and the first charge covers the period that starts there.
func TestTrialFromPlan(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	start := e.clock.Now()
	var plan idJSON
	e.post("/v1/plans", map[string]any{"name": "Trial", "amount": 900, "currency": "EUR", "interval": "month", "trial_days": 14}, 201, &plan)
	cus, pm := e.customer(egwsim.TokenActive)
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "plan_id": plan.ID}, 201, &sub)
	trialEnd := start.AddDate(0, 0, 14)
	require.Equal(t, trialEnd, *sub.TrialEnd)
	require.Equal(t, trialEnd, sub.NextBillingAt)
	require.Equal(t, "trialing", sub.Status)

	e.waitSchedulerPasses(3)
	require.Empty(t, e.sim.Ledger(), "nothing is charged during the trial")

	e.clock.Set(trialEnd)
	charges := e.settledCharges(sub.ID, 1)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Equal(t, trialEnd, charges[0].Period.Start)
	require.Equal(t, trialEnd.AddDate(0, 1, 0), charges[0].Period.End)
	require.Equal(t, "active", e.getSubscription(sub.ID).Status)
}
