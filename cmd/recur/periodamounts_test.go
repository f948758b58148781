package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

type periodAmountOut struct {
	SubscriptionID string `json:"subscription_id"`
	PeriodIndex    int    `json:"period_index"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
}

// TestVariablePeriodAmount: the amount set for an upcoming period of a STANDING_ORDER
// subscription is what that period is billed, captured once; the periods around it bill the
// subscription's price. A billed period, a SUBSCRIPTION-only token (for the subscription or as
// its new payment method) and a bad amount are refused, naming the field.
func TestVariablePeriodAmount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	subID := e.subscribe(egwsim.TokenActive)
	require.Equal(t, int64(1250), e.settledCharges(subID, 1)[0].Amount)

	var set periodAmountOut
	e.post("/v1/subscriptions/"+subID+"/periods/1/amount", map[string]any{"amount": 999}, 200, nil)
	e.post("/v1/subscriptions/"+subID+"/periods/1/amount", map[string]any{"amount": 4321}, 200, &set)
	require.Equal(t, periodAmountOut{SubscriptionID: subID, PeriodIndex: 1, Amount: 4321, Currency: "EUR"}, set)
	var got struct {
		UpcomingAmounts []periodAmountOut `json:"upcoming_amounts"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID, nil, &got))
	require.Equal(t, []periodAmountOut{set}, got.UpcomingAmounts, "setting it again replaced it")

	// The list shows each subscription as GET does, its upcoming amounts (read for the whole page
	// at once) with it and no other's.
	other := e.subscribe(egwsim.TokenActive + "_other")
	e.settledCharges(other, 1) // its first period billed: nothing changes while the test reads
	var page struct {
		Data []map[string]any `json:"data"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions", nil, &page))
	require.Len(t, page.Data, 2)
	for _, id := range []string{subID, other} {
		var one map[string]any
		require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+id, nil, &one))
		require.Contains(t, page.Data, one)
	}

	for _, tc := range []struct {
		index string
		body  map[string]any
		field string
	}{
		{"0", map[string]any{"amount": 100}, "index"}, // billed already
		{"-1", map[string]any{"amount": 100}, "index"},
		{"2", map[string]any{"amount": 0}, "amount"},
		{"2", map[string]any{}, "amount"},
	} {
		var p problemOut
		e.post("/v1/subscriptions/"+subID+"/periods/"+tc.index+"/amount", tc.body, 422, &p)
		require.Equal(t, tc.field, p.Errors[0].Field, "%s %v: %+v", tc.index, tc.body, p)
	}

	// SUBSCRIPTION tokens are for fixed amounts: refused for a variable one, and as the new
	// payment method of a subscription with amounts set.
	for _, id := range []string{"tok_fixed_only", "tok_fixed_only_2"} {
		e.sim.AddToken(egwsim.Token{Token: gateway.Token{ID: id, Status: gateway.TokenActive,
			Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "0070", ExpiryMonth: 12, ExpiryYear: 2099}})
	}
	fixedSub := e.subscribe("tok_fixed_only")
	var p problemOut
	e.post("/v1/subscriptions/"+fixedSub+"/periods/1/amount", map[string]any{"amount": 100}, 422, &p)
	require.Equal(t, "payment_method_id", p.Errors[0].Field)
	require.Contains(t, p.Errors[0].Reason, "STANDING_ORDER")
	cus := e.getSubscriptionCustomer(subID)
	var fixedPM idJSON
	e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": "tok_fixed_only_2"}, 201, &fixedPM)
	p = problemOut{}
	e.post("/v1/subscriptions/"+subID+"/payment_method", map[string]any{"payment_method_id": fixedPM.ID}, 422, &p)
	require.Equal(t, "payment_method_id", p.Errors[0].Field)

	e.clock.Set(e.getSubscription(subID).NextBillingAt)
	second := e.settledCharges(subID, 2)[0]
	require.Equal(t, 1, second.Period.Index)
	require.Equal(t, "succeeded", second.Status)
	require.Equal(t, int64(4321), second.Amount)
	requireCapturedOnce(t, e.ledgerFor(second.ID), billing.Money{Amount: 4321, Currency: "EUR"})
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID, nil, &got))
	require.Empty(t, got.UpcomingAmounts, "a billed period's amount is no longer upcoming")
	p = problemOut{}
	e.post("/v1/subscriptions/"+subID+"/periods/1/amount", map[string]any{"amount": 100}, 422, &p)
	require.Equal(t, "index", p.Errors[0].Field)

	e.clock.Set(e.getSubscription(subID).NextBillingAt)
	third := e.settledCharges(subID, 3)[0]
	require.Equal(t, 2, third.Period.Index)
	require.Equal(t, int64(1250), third.Amount, "without an amount set, the subscription's price")
}

// getSubscriptionCustomer returns the subscription's customer id.
func (e *testEnv) getSubscriptionCustomer(id string) string {
	e.t.Helper()
	var s struct {
		CustomerID string `json:"customer_id"`
	}
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions/"+id, nil, &s))
	return s.CustomerID
}
