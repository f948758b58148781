package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
)

// pageOf is a page of a list: the ids of its items, in order, and whether there are more.
type pageOf struct {
	Data []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"data"`
	HasMore bool `json:"has_more"`
}

// list GETs a page of a list, requires a 200, and returns its ids and has_more.
func (e *testEnv) list(path string) ([]string, bool) {
	e.t.Helper()
	var p pageOf
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, path, nil, &p), path)
	ids := make([]string, len(p.Data))
	for i, d := range p.Data {
		ids[i] = d.ID
	}
	return ids, p.HasMore
}

// TestListsPageAndFilter walks the lists of customers, payment methods, subscriptions and
// charges: newest first, paged with limit and starting_after, filtered, and a bad limit, filter
// or cursor is a 422 naming it.
func TestListsPageAndFilter(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	later := func() { e.clock.Advance(time.Second) } // so that each record is newer than the last

	customer := func(name string) string {
		later()
		var c idJSON
		e.post("/v1/customers", map[string]any{"external_id": "acct_" + name, "email": name + "@example.com", "name": name}, 201, &c)
		return c.ID
	}
	paymentMethod := func(cus, token string) string {
		later()
		var pm idJSON
		e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": token}, 201, &pm)
		return pm.ID
	}
	subscribe := func(body map[string]any) string {
		later()
		var s idJSON
		e.post("/v1/subscriptions", body, 201, &s)
		return s.ID
	}
	var plan idJSON
	e.post("/v1/plans", map[string]any{"name": "Basic", "amount": 1500, "currency": "EUR", "interval": "month"}, 201, &plan)

	ada, bob, cy := customer("ada"), customer("bob"), customer("cy")
	adaCard, adaCard2 := paymentMethod(ada, "tok_sim_active_ada"), paymentMethod(ada, "tok_sim_active_ada2")
	bobCard, cyCard := paymentMethod(bob, "tok_sim_declined_bob"), paymentMethod(cy, "tok_sim_active_cy")
	adaSub := subscribe(map[string]any{"customer_id": ada, "payment_method_id": adaCard, "plan_id": plan.ID})
	bobSub := subscribe(map[string]any{"customer_id": bob, "payment_method_id": bobCard, "amount": 990, "currency": "EUR", "interval": "month"})
	cySub := subscribe(map[string]any{"customer_id": cy, "payment_method_id": cyCard, "amount": 500, "currency": "EUR", "interval": "week", "trial_days": 7})
	e.post("/v1/subscriptions/"+cySub+"/cancel", nil, 200, nil)
	adaSubCharge := e.settledCharges(adaSub, 1)[0]
	bobSubCharge := e.settledCharges(bobSub, 1)[0]
	require.Equal(t, string(billing.ChargeSucceeded), adaSubCharge.Status)
	require.Equal(t, string(billing.ChargeFailed), bobSubCharge.Status)
	later()
	var adHoc idJSON
	e.post("/v1/customers/"+ada+"/charges", map[string]any{"amount": 700, "currency": "EUR", "description": "Setup", "payment_method_id": adaCard2}, 201, &adHoc)

	t.Run("customers", func(t *testing.T) {
		ids, more := e.list("/v1/customers?limit=2")
		require.Equal(t, []string{cy, bob}, ids)
		require.True(t, more)
		ids, more = e.list("/v1/customers?limit=2&starting_after=" + bob)
		require.Equal(t, []string{ada}, ids)
		require.False(t, more)
		ids, _ = e.list("/v1/customers?external_id=acct_bob")
		require.Equal(t, []string{bob}, ids)
		ids, _ = e.list("/v1/customers?external_id=acct_nobody")
		require.Empty(t, ids)
	})
	t.Run("payment methods", func(t *testing.T) {
		ids, more := e.list("/v1/customers/" + ada + "/payment_methods")
		require.Equal(t, []string{adaCard2, adaCard}, ids)
		require.False(t, more)
		ids, more = e.list("/v1/customers/" + ada + "/payment_methods?limit=1")
		require.Equal(t, []string{adaCard2}, ids)
		require.True(t, more)
		ids, _ = e.list("/v1/customers/" + ada + "/payment_methods?starting_after=" + adaCard2)
		require.Equal(t, []string{adaCard}, ids)
		status, _, _ := e.rawRequest(http.MethodGet, "/v1/customers/"+billing.NewID().String()+"/payment_methods", "", e.key)
		require.Equal(t, http.StatusNotFound, status)
	})
	t.Run("subscriptions", func(t *testing.T) {
		ids, more := e.list("/v1/subscriptions")
		require.Equal(t, []string{cySub, bobSub, adaSub}, ids)
		require.False(t, more)
		ids, more = e.list("/v1/subscriptions?limit=1&starting_after=" + cySub)
		require.Equal(t, []string{bobSub}, ids)
		require.True(t, more)
		ids, _ = e.list("/v1/subscriptions?customer_id=" + ada)
		require.Equal(t, []string{adaSub}, ids)
		ids, _ = e.list("/v1/subscriptions?plan_id=" + plan.ID)
		require.Equal(t, []string{adaSub}, ids)
		ids, _ = e.list("/v1/subscriptions?status=canceled")
		require.Equal(t, []string{cySub}, ids)
		ids, _ = e.list("/v1/subscriptions?status=past_due&customer_id=" + bob)
		require.Equal(t, []string{bobSub}, ids)
		ids, _ = e.list("/v1/subscriptions?status=active&customer_id=" + bob)
		require.Empty(t, ids)
	})
	t.Run("charges", func(t *testing.T) {
		ids, more := e.list("/v1/charges")
		require.Equal(t, []string{adHoc.ID, bobSubCharge.ID, adaSubCharge.ID}, ids)
		require.False(t, more)
		ids, more = e.list("/v1/charges?limit=2")
		require.Equal(t, []string{adHoc.ID, bobSubCharge.ID}, ids)
		require.True(t, more)
		ids, _ = e.list("/v1/charges?starting_after=" + bobSubCharge.ID)
		require.Equal(t, []string{adaSubCharge.ID}, ids)
		ids, _ = e.list("/v1/charges?customer_id=" + ada)
		require.Equal(t, []string{adHoc.ID, adaSubCharge.ID}, ids)
		ids, _ = e.list("/v1/charges?subscription_id=" + bobSub)
		require.Equal(t, []string{bobSubCharge.ID}, ids)
		ids, _ = e.list("/v1/charges?status=failed")
		require.Equal(t, []string{bobSubCharge.ID}, ids)
		ids, _ = e.list("/v1/charges?status=succeeded&customer_id=" + bob)
		require.Empty(t, ids)
	})
	t.Run("a subscription's charges page too", func(t *testing.T) {
		ids, more := e.list("/v1/subscriptions/" + adaSub + "/charges?limit=1")
		require.Equal(t, []string{adaSubCharge.ID}, ids)
		require.False(t, more)
		ids, _ = e.list("/v1/subscriptions/" + adaSub + "/charges?starting_after=" + adaSubCharge.ID)
		require.Empty(t, ids)
	})
	t.Run("a billing run's charges page too", func(t *testing.T) {
		var c struct {
			BillingRunID string `json:"billing_run_id"`
		}
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/charges/"+adaSubCharge.ID, nil, &c))
		ids, _ := e.list("/v1/billing_runs/" + c.BillingRunID + "/charges")
		require.Contains(t, ids, adaSubCharge.ID)
		first, more := e.list("/v1/billing_runs/" + c.BillingRunID + "/charges?limit=1")
		require.Equal(t, ids[:1], first)
		require.Equal(t, len(ids) > 1, more)
		rest, _ := e.list("/v1/billing_runs/" + c.BillingRunID + "/charges?starting_after=" + first[0])
		require.Equal(t, ids[1:], rest)
	})
	t.Run("a plan", func(t *testing.T) {
		var p struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/plans/"+plan.ID, nil, &p))
		require.Equal(t, "Basic", p.Name)
		ids, _ := e.list("/v1/plans?active=true")
		require.Equal(t, []string{plan.ID}, ids)
	})
	t.Run("bad parameters", func(t *testing.T) {
		lists := []string{"/v1/customers", "/v1/customers/" + ada + "/payment_methods", "/v1/subscriptions", "/v1/charges",
			"/v1/plans", "/v1/billing_runs", "/v1/subscriptions/" + adaSub + "/charges", "/v1/reports/subscriptions_at_risk"}
		for _, path := range lists {
			for query, field := range map[string]string{"limit=0": "limit", "limit=101": "limit", "limit=ten": "limit",
				"starting_after=42": "starting_after"} {
				status, contentType, p := e.rawRequest(http.MethodGet, path+"?"+query, "", e.key)
				require.Equal(t, http.StatusUnprocessableEntity, status, "%s?%s", path, query)
				require.Equal(t, "application/problem+json", contentType)
				require.Len(t, p.Errors, 1, "%s?%s", path, query)
				require.Equal(t, field, p.Errors[0].Field, "%s?%s", path, query)
			}
		}
		for path, field := range map[string]string{
			"/v1/subscriptions?status=late":     "status",
			"/v1/subscriptions?customer_id=ada": "customer_id",
			"/v1/subscriptions?plan_id=basic":   "plan_id",
			"/v1/charges?status=paid":           "status",
			"/v1/charges?customer_id=1":         "customer_id",
			"/v1/charges?subscription_id=2":     "subscription_id",
			"/v1/customers/ada/payment_methods": "id",
		} {
			status, _, p := e.rawRequest(http.MethodGet, path, "", e.key)
			require.Equal(t, http.StatusUnprocessableEntity, status, path)
			require.Equal(t, field, p.Errors[0].Field, path)
		}
	})
}
