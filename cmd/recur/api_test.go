package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

type problemOut struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// rawRequest sends a request with a raw body and optional key, and returns the status, the content
// type and the decoded problem.
func (e *testEnv) rawRequest(method, path, body, key string) (int, string, problemOut) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var p problemOut
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, resp.Header.Get("Content-Type"), p
}

func TestBadRequestsGetProblemsNamingTheField(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var cus idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_1", "email": "a@example.com", "name": "A"}, 201, &cus)
	var pm idJSON
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive}, 201, &pm)
	sub := func(fields string) string {
		return `{"customer_id":"` + cus.ID + `","payment_method_id":"` + pm.ID + `",` + fields + `}`
	}
	cases := []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"bad email", "/v1/customers", `{"external_id":"x","email":"not-an-email","name":"A"}`, 422, "email"},
		{"missing name", "/v1/customers", `{"external_id":"x","email":"a@example.com"}`, 422, "name"},
		{"unknown field", "/v1/customers", `{"external_id":"x","email":"a@example.com","name":"A","card_number":"4111"}`, 422, "card_number"},
		{"not json", "/v1/customers", `{"external_id":`, 422, "body"},
		{"empty body", "/v1/customers", ``, 422, "body"},
		{"duplicate external id", "/v1/customers", `{"external_id":"acct_1","email":"b@example.com","name":"B"}`, 409, ""},
		{"fractional amount", "/v1/subscriptions", sub(`"amount":12.5,"currency":"EUR","interval":"month"`), 422, "amount"},
		{"amount as string", "/v1/subscriptions", sub(`"amount":"1250","currency":"EUR","interval":"month"`), 422, "amount"},
		{"negative amount", "/v1/subscriptions", sub(`"amount":-5,"currency":"EUR","interval":"month"`), 422, "amount"},
		{"unknown currency", "/v1/subscriptions", sub(`"amount":1250,"currency":"EUX","interval":"month"`), 422, "currency"},
		{"lower-case currency", "/v1/subscriptions", sub(`"amount":1250,"currency":"eur","interval":"month"`), 422, "currency"},
		{"bad interval", "/v1/subscriptions", sub(`"amount":1250,"currency":"EUR","interval":"fortnight"`), 422, "interval"},
		{"zero interval count", "/v1/subscriptions", sub(`"amount":1250,"currency":"EUR","interval":"week","interval_count":0`), 422, "interval_count"},
		{"unknown customer", "/v1/subscriptions", `{"customer_id":"` + billing.NewID().String() + `","payment_method_id":"` + pm.ID + `","amount":1,"currency":"EUR","interval":"day"}`, 422, "customer_id"},
		{"customer id not a uuid", "/v1/subscriptions", `{"customer_id":"cus_1","payment_method_id":"` + pm.ID + `","amount":1,"currency":"EUR","interval":"day"}`, 422, "customer_id"},
		{"suspended token", "/v1/customers/" + cus.ID + "/payment_methods", `{"gateway_token_id":"tok_sim_suspended"}`, 422, "gateway_token_id"},
		{"expired card", "/v1/customers/" + cus.ID + "/payment_methods", `{"gateway_token_id":"tok_sim_expired"}`, 422, "gateway_token_id"},
		{"unknown token", "/v1/customers/" + cus.ID + "/payment_methods", `{"gateway_token_id":"tok_nobody"}`, 422, "gateway_token_id"},
		{"unknown customer path", "/v1/customers/" + billing.NewID().String() + "/payment_methods", `{"gateway_token_id":"tok_sim_active"}`, 404, ""},
	}
	for _, c := range cases {
		status, ctype, p := e.rawRequest(http.MethodPost, c.path, c.body, e.key)
		require.Equal(t, c.status, status, "%s: %+v", c.name, p)
		require.Equal(t, "application/problem+json", ctype, c.name)
		require.Equal(t, c.status, p.Status, c.name)
		if c.field != "" {
			require.Len(t, p.Errors, 1, c.name)
			require.Equal(t, c.field, p.Errors[0].Field, "%s: %+v", c.name, p)
			require.NotEmpty(t, p.Errors[0].Reason, c.name)
		}
	}
	// The reasons say why a token was refused.
	_, _, p := e.rawRequest(http.MethodPost, "/v1/customers/"+cus.ID+"/payment_methods", `{"gateway_token_id":"tok_sim_suspended"}`, e.key)
	require.Contains(t, p.Errors[0].Reason, "SUSPENDED")
	_, _, p = e.rawRequest(http.MethodPost, "/v1/customers/"+cus.ID+"/payment_methods", `{"gateway_token_id":"tok_sim_expired"}`, e.key)
	require.Contains(t, p.Errors[0].Reason, "card_expired")
	require.Empty(t, e.sim.Ledger(), "no bad request reached the payments")
}

func TestAPIKeyRequired(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, key := range []string{"", "rk_notakey", e.key + "x"} {
		status, ctype, p := e.rawRequest(http.MethodGet, "/v1/billing_runs", "", key)
		require.Equal(t, http.StatusUnauthorized, status, key)
		require.Equal(t, "application/problem+json", ctype)
		require.NotContains(t, p.Detail, e.key)
	}
	status, _, _ := e.rawRequest(http.MethodGet, "/v1/billing_runs", "", e.key)
	require.Equal(t, http.StatusOK, status)
}

func TestRegisteringTheSameTokenAgainReturnsIt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var cus, other, pm, again idJSON
	e.post("/v1/customers", map[string]any{"external_id": "a", "email": "a@example.com", "name": "A"}, 201, &cus)
	e.post("/v1/customers", map[string]any{"external_id": "b", "email": "b@example.com", "name": "B"}, 201, &other)
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive}, 201, &pm)
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive}, 200, &again)
	require.Equal(t, pm.ID, again.ID)
	e.post("/v1/customers/"+other.ID+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive}, 409, nil)
}

func TestDeclinedChargeFailsWithTheGatewaysReason(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	subID := e.subscribe(egwsim.TokenDeclined)
	c := e.settledCharges(subID, 1)[0]
	require.Equal(t, "failed", c.Status)
	require.NotNil(t, c.Failure)
	require.Equal(t, "AUTHORIZATION_DECLINED", c.Failure.Code)
	require.Empty(t, captured(e.sim))
	entries := e.sim.Ledger()
	require.Len(t, entries, 1)
	require.Equal(t, gateway.PaymentFailed, entries[0].Status)

	var run struct {
		SubscriptionsDue int `json:"subscriptions_due"`
		ChargesCreated   int `json:"charges_created"`
		Charges          []struct {
			Status string `json:"status"`
			Count  int    `json:"count"`
			Amount int64  `json:"amount"`
		} `json:"charges"`
	}
	var runs struct {
		Data []idJSON `json:"data"`
	}
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/billing_runs", nil, &runs))
	require.Len(t, runs.Data, 1)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/billing_runs/"+runs.Data[0].ID, nil, &run))
	require.Equal(t, 1, run.SubscriptionsDue)
	require.Equal(t, 1, run.ChargesCreated)
	require.Len(t, run.Charges, 1)
	require.Equal(t, "failed", run.Charges[0].Status)
	require.Equal(t, int64(1250), run.Charges[0].Amount)
}
