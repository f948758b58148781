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

// settledCharge waits until the charge is finished (see billing.ChargeStatus.Terminal) and
// returns it.
func (e *testEnv) settledCharge(id string) chargeOut {
	e.t.Helper()
	var c chargeOut
	require.Eventually(e.t, func() bool {
		c = chargeOut{}
		require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/charges/"+id, nil, &c))
		return billing.ChargeStatus(c.Status).Terminal()
	}, 20*time.Second, 50*time.Millisecond, "waiting for charge %s to settle", id)
	return c
}

// ledgerFor returns the simulator's payments made for a charge.
func (e *testEnv) ledgerFor(chargeID string) []egwsim.Entry {
	var out []egwsim.Entry
	for _, p := range e.sim.Ledger() {
		if p.MerchantReference == "recur charge "+chargeID {
			out = append(out, p)
		}
	}
	return out
}

// TestAdHocCharge: an ad-hoc charge is paid once on channel MERCHANT by the charge worker; a
// token without the UNSCHEDULED purpose, or another customer's, is refused; an Idempotency-Key
// replays the answer without a second charge.
func TestAdHocCharge(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cusID, pmID := e.customer(egwsim.TokenActive)
	body := `{"amount":4200,"currency":"EUR","description":"onboarding workshop","payment_method_id":"` + pmID + `"}`

	first := e.postKeyed(e.key, "/v1/customers/"+cusID+"/charges", body, "adhoc-1")
	require.Equal(t, http.StatusCreated, first.status, first.body)
	again := e.postKeyed(e.key, "/v1/customers/"+cusID+"/charges", body, "adhoc-1")
	requireReplay(t, first, again)
	id := first.id(t)

	c := e.settledCharge(id)
	require.Equal(t, "succeeded", c.Status, "%+v", c)
	require.Equal(t, int64(4200), c.Amount)
	var shown struct {
		SubscriptionID *string   `json:"subscription_id"`
		Period         *struct{} `json:"period"`
		Channel        string    `json:"channel"`
		Description    string    `json:"description"`
		BillingRunID   *string   `json:"billing_run_id"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/charges/"+id, nil, &shown))
	require.Nil(t, shown.SubscriptionID)
	require.Nil(t, shown.Period)
	require.Nil(t, shown.BillingRunID)
	require.Equal(t, "MERCHANT", shown.Channel)
	require.Equal(t, "onboarding workshop", shown.Description)

	payments := e.ledgerFor(id)
	requireCapturedOnce(t, payments, billing.Money{Amount: 4200, Currency: "EUR"})
	require.Equal(t, gateway.ChannelMerchant, payments[0].Channel)
	require.Equal(t, 1, e.count("charges"), "the replay made no second charge")

	// A token that may only be charged on a schedule is refused for an ad-hoc charge.
	e.sim.AddToken(egwsim.Token{Token: gateway.Token{ID: "tok_subscription_only", Status: gateway.TokenActive,
		Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "0070", ExpiryMonth: 12, ExpiryYear: 2099}})
	var pm idJSON
	e.post("/v1/customers/"+cusID+"/payment_methods", map[string]any{"gateway_token_id": "tok_subscription_only"}, 201, &pm)
	var p problemOut
	require.Equal(t, 422, e.do(http.MethodPost, "/v1/customers/"+cusID+"/charges",
		map[string]any{"amount": 100, "currency": "EUR", "payment_method_id": pm.ID}, &p))
	require.Equal(t, "payment_method_id", p.Errors[0].Field, "%+v", p)
	require.Contains(t, p.Errors[0].Reason, "UNSCHEDULED")

	// Another customer's payment method is refused too.
	other, _ := e.customer(egwsim.TokenDeclined)
	p = problemOut{}
	require.Equal(t, 422, e.do(http.MethodPost, "/v1/customers/"+other+"/charges",
		map[string]any{"amount": 100, "currency": "EUR", "payment_method_id": pmID}, &p))
	require.Equal(t, "payment_method_id", p.Errors[0].Field, "%+v", p)
	require.Equal(t, 1, e.count("charges"))
}
