package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChangePrice: a change of plan, price or quantity leaves the period already billed (and its
// charge) alone and is billed from the next period on; a change of currency or billing cycle, an
// inactive plan and a canceled subscription are refused.
func TestChangePrice(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var pro, yearly, old, usd idJSON
	e.post("/v1/plans", map[string]any{"name": "Pro", "amount": 333, "currency": "EUR", "interval": "month"}, 201, &pro)
	e.post("/v1/plans", map[string]any{"name": "Yearly", "amount": 9000, "currency": "EUR", "interval": "year"}, 201, &yearly)
	e.post("/v1/plans", map[string]any{"name": "Old", "amount": 100, "currency": "EUR", "interval": "month", "active": false}, 201, &old)
	e.post("/v1/plans", map[string]any{"name": "US", "amount": 100, "currency": "USD", "interval": "month"}, 201, &usd)
	subID := e.subscribe("tok_sim_active")
	first := e.settledCharges(subID, 1)[0]
	require.Equal(t, int64(1250), first.Amount)

	var s subscriptionOut
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"plan_id": pro.ID, "quantity": 3}, 200, &s)
	require.Equal(t, pro.ID, *s.PlanID)
	require.Equal(t, int64(333), s.UnitAmount)
	require.Equal(t, 3, s.Quantity)
	require.Equal(t, int64(999), s.Amount)
	require.Equal(t, 0, s.CurrentPeriod.Index, "the current period stays")

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"plan_id": yearly.ID}, "plan_id"},
		{map[string]any{"plan_id": old.ID}, "plan_id"},
		{map[string]any{"plan_id": usd.ID}, "plan_id"},
		{map[string]any{"plan_id": pro.ID, "amount": 5}, "amount"},
		{map[string]any{"amount": 500, "currency": "USD"}, "currency"},
		{map[string]any{"amount": 0}, "amount"},
		{map[string]any{"quantity": 0}, "quantity"},
		{map[string]any{}, "plan_id"},
		{map[string]any{"plan_id": pro.ID, "prorate": true}, "prorate"},
	} {
		var p problemOut
		e.post("/v1/subscriptions/"+subID+"/change", tc.body, 422, &p)
		require.Equal(t, tc.field, p.Errors[0].Field, "%v: %+v", tc.body, p)
	}

	var charges struct {
		Data []chargeOut `json:"data"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID+"/charges", nil, &charges))
	require.Len(t, charges.Data, 1, "a change makes no charge")
	require.Equal(t, int64(1250), charges.Data[0].Amount, "the billed period keeps its charge")

	e.clock.Set(s.NextBillingAt)
	second := e.settledCharges(subID, 2)[0]
	require.Equal(t, 1, second.Period.Index)
	require.Equal(t, "succeeded", second.Status)
	require.Equal(t, int64(999), second.Amount)

	// Quantity alone keeps the plan's unit price; an inline price drops the plan.
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"quantity": 2}, 200, &s)
	require.Equal(t, int64(666), s.Amount)
	require.Equal(t, pro.ID, *s.PlanID)
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 700, "currency": "EUR"}, 200, &s)
	require.Nil(t, s.PlanID)
	require.Equal(t, int64(1400), s.Amount, "the quantity is kept")
	e.clock.Set(s.NextBillingAt)
	require.Equal(t, int64(1400), e.settledCharges(subID, 3)[0].Amount)

	e.post("/v1/subscriptions/"+subID+"/cancel", nil, 200, nil)
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"quantity": 1}, 409, nil)
}
