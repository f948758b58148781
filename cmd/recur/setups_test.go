package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

type setupOut struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	Purposes        []string `json:"purposes"`
	SubscriptionIDs []string `json:"subscription_ids"`
	Amount          int64    `json:"amount"`
	Currency        string   `json:"currency"`
	CheckoutURL     string   `json:"checkout_url"`
	PaymentMethodID *string  `json:"payment_method_id"`
	Failure         *struct {
		Code string `json:"code"`
	} `json:"failure"`
}

type pmOut struct {
	ID                 string     `json:"id"`
	GatewayTokenID     string     `json:"gateway_token_id"`
	Last4              string     `json:"last4"`
	RemovedAt          *time.Time `json:"removed_at"`
	TokenDeactivatedAt *time.Time `json:"token_deactivated_at"`
}

// redirected sends a request without an API key, as a browser would (those to /v1 checked
// against the API's document), and returns the redirect's status and Location, not following it.
func (e *testEnv) redirected(method, u string) (int, string) {
	t := e.t
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	noRedirect := e.client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// pastDue makes a customer whose subscription's first charge was declined.
func (e *testEnv) pastDue() (cusID, pmID, subID string) {
	e.t.Helper()
	cusID, pmID = e.customer(egwsim.TokenDeclined + "_" + e.t.Name())
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cusID, "payment_method_id": pmID, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &sub)
	require.Equal(e.t, "failed", e.settledCharges(sub.ID, 1)[0].Status)
	require.Equal(e.t, "past_due", e.getSubscription(sub.ID).Status)
	return cusID, pmID, sub.ID
}

// startSetup starts a setup that switches subID, and checks its first answer.
func (e *testEnv) startSetup(cusID, subID string) setupOut {
	e.t.Helper()
	var s setupOut
	e.post("/v1/customers/"+cusID+"/payment_method_setups", map[string]any{"purposes": []string{"SUBSCRIPTION", "UNSCHEDULED"},
		"return_url": "https://shop.example/billing/done?from=recur", "subscription_ids": []string{subID}}, 201, &s)
	require.Equal(e.t, "pending", s.Status)
	require.Equal(e.t, int64(0), s.Amount, "an account verification")
	require.Equal(e.t, "EUR", s.Currency, "the subscription's")
	require.Nil(e.t, s.PaymentMethodID)
	return s
}

func (e *testEnv) getSetup(id string) setupOut {
	e.t.Helper()
	var s setupOut
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/payment_method_setups/"+id, nil, &s))
	return s
}

// subscriptionPaymentMethod reads which payment method the subscription bills.
func (e *testEnv) subscriptionPaymentMethod(subID string) string {
	e.t.Helper()
	var pm string
	require.NoError(e.t, e.db.QueryRow(context.Background(), `SELECT payment_method_id FROM subscriptions WHERE id = $1`, subID).Scan(&pm))
	return pm
}

// countRows answers a count(*) query.
func (e *testEnv) countRows(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.db.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// TestSetupRescuesAPastDueSubscription: the customer of a subscription whose token declines
// completes the hosted checkout; the shop redirect through Recur stores the new payment method,
// switches the subscription to it and retries the failed charge at once, which succeeds and makes
// the subscription active.
func TestSetupRescuesAPastDueSubscription(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, oldPM, sub := e.pastDue()
	s := e.startSetup(cus, sub)

	page, err := http.Get(s.CheckoutURL)
	require.NoError(t, err)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	status, back := e.redirected(http.MethodPost, s.CheckoutURL+"?outcome="+egwsim.CheckoutComplete)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, e.url+"/v1/payment_method_setups/"+s.ID+"/return", back)

	status, merchant := e.redirected(http.MethodGet, back) // the customer's browser: no API key
	require.Equal(t, http.StatusSeeOther, status)
	u, err := url.Parse(merchant)
	require.NoError(t, err)
	require.Equal(t, "shop.example", u.Host)
	require.Equal(t, url.Values{"from": {"recur"}, "setup_id": {s.ID}, "setup_status": {"succeeded"}}, u.Query())

	done := e.getSetup(s.ID)
	require.Equal(t, "succeeded", done.Status)
	require.NotNil(t, done.PaymentMethodID)
	require.Equal(t, *done.PaymentMethodID, e.subscriptionPaymentMethod(sub))
	require.NotEqual(t, oldPM, *done.PaymentMethodID)
	var token string
	require.NoError(t, e.db.QueryRow(context.Background(), `SELECT gateway_token_id FROM payment_methods WHERE id = $1`, *done.PaymentMethodID).Scan(&token))
	tok, ok := e.sim.Token(token)
	require.True(t, ok)
	require.Equal(t, []gateway.Purpose{gateway.PurposeSubscription, gateway.PurposeUnscheduled}, tok.Purposes)

	require.Eventually(t, func() bool { return e.getSubscription(sub).Status == "active" }, 20*time.Second, 50*time.Millisecond)
	charges := e.settledCharges(sub, 1)
	require.Equal(t, "succeeded", charges[0].Status, "the same period's charge, retried")
	require.Len(t, charges[0].Attempts, 2)
	captured := 0
	for _, p := range e.sim.Ledger() {
		if p.TokenID == token && p.Channel == gateway.ChannelRecurring {
			require.Equal(t, int64(1250), p.Captured.Amount)
			captured++
		}
	}
	require.Equal(t, 1, captured)

	// The poll and the return both synced: one payment method, one event.
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 2, e.countRows(`SELECT count(*) FROM payment_methods WHERE customer_id = $1`, cus))
	require.Equal(t, 1, e.countRows(`SELECT count(*) FROM events WHERE type = 'payment_method.updated' AND object_id = $1`, *done.PaymentMethodID))
	status, again := e.redirected(http.MethodGet, back)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, merchant, again, "the return is idempotent")
}

// TestSetupFailedCheckoutChangesNothing: a declined checkout ends the setup failed, learned from
// EGW's callback or the poll, and leaves the subscription and its charge as they were.
func TestSetupFailedCheckoutChangesNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnvWith(t, egwsim.Options{CallbackURL: ownCallbacks, CallbackDelays: []time.Duration{50 * time.Millisecond}})
	cus, oldPM, sub := e.pastDue()
	s := e.startSetup(cus, sub)
	status, _ := e.redirected(http.MethodPost, s.CheckoutURL+"?outcome="+egwsim.CheckoutFail)
	require.Equal(t, http.StatusSeeOther, status)

	require.Eventually(t, func() bool { return e.getSetup(s.ID).Status == "failed" }, 20*time.Second, 50*time.Millisecond)
	failed := e.getSetup(s.ID)
	require.Equal(t, "checkout_failed", failed.Failure.Code)
	require.Nil(t, failed.PaymentMethodID)
	require.Equal(t, oldPM, e.subscriptionPaymentMethod(sub))
	require.Equal(t, "past_due", e.getSubscription(sub).Status)
	require.Equal(t, "failed", e.settledCharges(sub, 1)[0].Status)
	require.Equal(t, 1, e.countRows(`SELECT count(*) FROM payment_methods WHERE customer_id = $1`, cus))
	require.Zero(t, e.countRows(`SELECT count(*) FROM events WHERE type = 'payment_method.updated' AND customer_id = $1`, cus))
}

// TestSetupLearnedFromACallback: with the poll slowed to an hour, EGW's callback alone ends the
// setup; duplicate and unknown callbacks are answered 204 and change nothing more.
func TestSetupLearnedFromACallback(t *testing.T) {
	t.Parallel()
	e := newTestEnvWith(t, egwsim.Options{CallbackURL: ownCallbacks}, func(c *jobs.Config) { c.PollInterval = time.Hour })
	cus, _ := e.customer(egwsim.TokenActive + "_" + t.Name())
	var s setupOut
	e.post("/v1/customers/"+cus+"/payment_method_setups", map[string]any{"purposes": []string{"UNSCHEDULED"},
		"return_url": "https://shop.example/", "currency": "JPY"}, 201, &s)
	require.Equal(t, "JPY", s.Currency)
	_, err := e.sim.CompleteCheckout(paymentOf(t, s.CheckoutURL), egwsim.CheckoutComplete)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.getSetup(s.ID).Status == "succeeded" }, 20*time.Second, 50*time.Millisecond)

	for range 3 {
		status, _, _ := e.callback(`{"type":"PAYMENT","paymentId":"` + paymentOf(t, s.CheckoutURL) + `"}`)
		require.Equal(t, http.StatusNoContent, status)
	}
	status, _, _ := e.callback(`{"type":"PAYMENT","paymentId":"no-such-payment"}`)
	require.Equal(t, http.StatusNoContent, status, "unknown payments are ignored")
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 2, e.countRows(`SELECT count(*) FROM payment_methods WHERE customer_id = $1`, cus), "the first and the new one, once")
	require.Equal(t, 1, e.countRows(`SELECT count(*) FROM events WHERE type = 'payment_method.updated' AND customer_id = $1`, cus))
}

// callback posts an EGW callback as EGW does: JSON, with an X-Request-Id, no API key.
func (e *testEnv) callback(body string) (int, string, problemOut) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/egw/callbacks", strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "0193b6a4-7c1e-7d2a-9f6e-2b8c4d1a5e70")
	resp, err := e.client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var p problemOut
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, resp.Header.Get("Content-Type"), p
}

func paymentOf(t *testing.T, checkoutURL string) string {
	t.Helper()
	i := strings.LastIndex(checkoutURL, "/")
	require.Positive(t, i)
	return checkoutURL[i+1:]
}

func TestEGWCallbackInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cases := []struct {
		body   string
		status int
		field  string
	}{
		{`{"type":`, 400, "body"},
		{`[1]`, 400, "body"},
		{`{"type":"PAYMENT"}`, 400, "paymentId"},
		{`{"type":"PAYMENT","paymentId":"` + strings.Repeat("p", 65) + `"}`, 400, "paymentId"},
		{`{"type":"REFUND","paymentId":"p1"}`, 204, ""},
	}
	for _, c := range cases {
		status, ctype, p := e.callback(c.body)
		require.Equal(t, c.status, status, c.body)
		if c.field != "" {
			require.Equal(t, "application/problem+json", ctype)
			require.Equal(t, c.field, p.Errors[0].Field, c.body)
		}
	}

	// A callback for a charge's payment nudges its collect job, which reads the payment first.
	sub := e.subscribe(egwsim.TokenActive + "_" + t.Name())
	charge := e.settledCharges(sub, 1)[0]
	collected := func(n int) func() bool {
		return func() bool {
			return e.countRows(`SELECT count(*) FROM river_job WHERE kind = 'collect_charge' AND args->>'charge_id' = $1 AND state = 'completed'`, charge.ID) == n
		}
	}
	require.Eventually(t, collected(1), 20*time.Second, 20*time.Millisecond) // a nudge while it runs is one job with it
	status, _, _ := e.callback(`{"type":"PAYMENT","paymentId":"` + *charge.GatewayPaymentID + `"}`)
	require.Equal(t, http.StatusNoContent, status)
	require.Eventually(t, collected(2), 20*time.Second, 20*time.Millisecond)
	require.Equal(t, "succeeded", e.settledCharges(sub, 1)[0].Status)
	require.Len(t, e.settledCharges(sub, 1)[0].Attempts, 1, "nothing charged again")
}

func TestSetupInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, pm := e.customer(egwsim.TokenActive + "_" + t.Name())
	other := e.subscribe(egwsim.TokenActive + "_other_" + t.Name())
	var metered subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &metered)
	e.post("/v1/subscriptions/"+metered.ID+"/periods/1/amount", map[string]any{"amount": 999}, 200, nil)
	cases := []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"return_url": "https://shop.example/"}, "purposes"},
		{map[string]any{"purposes": []string{"CIT"}, "return_url": "https://shop.example/"}, "purposes"},
		{map[string]any{"purposes": []string{"SUBSCRIPTION", "SUBSCRIPTION"}, "return_url": "https://shop.example/"}, "purposes"},
		{map[string]any{"purposes": []string{"BOGUS"}, "return_url": "https://shop.example/"}, "purposes"},
		{map[string]any{"purposes": []string{"UNSCHEDULED"}, "return_url": "https://shop.example/", "subscription_ids": []string{other}}, "purposes"},
		{map[string]any{"purposes": []string{"SUBSCRIPTION"}, "return_url": "https://shop.example/", "subscription_ids": []string{metered.ID}}, "purposes"},
		{map[string]any{"purposes": []string{"SUBSCRIPTION"}, "return_url": "/relative"}, "return_url"},
		{map[string]any{"purposes": []string{"SUBSCRIPTION"}, "return_url": "https://shop.example/", "subscription_ids": []string{other}}, "subscription_ids"},
		{map[string]any{"purposes": []string{"SUBSCRIPTION"}, "return_url": "https://shop.example/", "subscription_ids": []string{"x"}}, "subscription_ids"},
		{map[string]any{"purposes": []string{"SUBSCRIPTION"}, "return_url": "https://shop.example/", "currency": "XXXX"}, "currency"},
	}
	for _, c := range cases {
		var p problemOut
		e.post("/v1/customers/"+cus+"/payment_method_setups", c.body, 422, &p)
		require.Equal(t, c.field, p.Errors[0].Field, "%v", c.body)
	}
	var p problemOut
	e.post("/v1/customers/00000000-0000-0000-0000-000000000000/payment_method_setups",
		map[string]any{"purposes": []string{"SUBSCRIPTION"}, "return_url": "https://shop.example/"}, 404, &p)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/payment_method_setups/00000000-0000-0000-0000-000000000000", nil, nil))
	status, _ := e.redirected(http.MethodGet, e.url+"/v1/payment_method_setups/00000000-0000-0000-0000-000000000000/return")
	require.Equal(t, http.StatusNotFound, status)
	for _, p := range e.sim.Ledger() {
		require.NotEqual(t, gateway.ChannelBrowser, p.Channel, "no setup reached the gateway")
	}
}

// TestRemovePaymentMethod: a payment method that a subscription uses is not removed (409 naming
// it); once the subscription is canceled, it is removed, its token deactivated at the gateway
// (through an answer lost after the effect and a 503: the job tries again), and it can be neither
// attached nor charged any more.
func TestRemovePaymentMethod(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, pm := e.customer(egwsim.TokenActive + "_" + t.Name())
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &sub)
	path := "/v1/customers/" + cus + "/payment_methods/" + pm

	var p problemOut
	require.Equal(t, http.StatusConflict, e.do(http.MethodDelete, path, nil, &p))
	require.Contains(t, p.Detail, sub.ID)
	e.post("/v1/subscriptions/"+sub.ID+"/cancel", nil, 200, nil)

	e.sim.FailNext(egwsim.OpDeactivateToken, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true})
	e.sim.FailNext(egwsim.OpDeactivateToken, egwsim.Fault{Status: http.StatusServiceUnavailable})
	var removed pmOut
	require.Equal(t, http.StatusOK, e.do(http.MethodDelete, path, nil, &removed))
	require.NotNil(t, removed.RemovedAt)
	require.Eventually(t, func() bool {
		tok, _ := e.sim.Token(removed.GatewayTokenID)
		return tok.Status == gateway.TokenSuspended
	}, 20*time.Second, 50*time.Millisecond, "deactivated at the gateway")
	require.Eventually(t, func() bool {
		var again pmOut
		require.Equal(t, http.StatusOK, e.do(http.MethodDelete, path, nil, &again))
		return again.TokenDeactivatedAt != nil && again.RemovedAt.Equal(*removed.RemovedAt)
	}, 20*time.Second, 50*time.Millisecond)
	require.Len(t, e.sim.Faults(), 2, "both faults struck, and the removal outlived them")

	e.post("/v1/customers/"+cus+"/charges", map[string]any{"amount": 500, "currency": "EUR", "payment_method_id": pm}, 422, &p)
	require.Equal(t, "payment_method_id", p.Errors[0].Field)
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 422, &p)
	require.Equal(t, "payment_method_id", p.Errors[0].Field)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/customers/"+cus+"/payment_methods/00000000-0000-0000-0000-000000000000", nil, nil))
	other, _ := e.customer(egwsim.TokenActive + "_other_" + t.Name())
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/customers/"+other+"/payment_methods/"+pm, nil, nil), "another customer's")
}

func TestConfigPublicURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "https://billing.example.com/": "https://billing.example.com",
		"http://localhost:8080": "http://localhost:8080", "https://example.com/recur": "https://example.com/recur"} {
		cfg, err := loadConfig(env(map[string]string{"RECUR_PUBLIC_URL": in}))
		require.NoError(t, err, in)
		require.Equal(t, want, cfg.PublicURL, in)
	}
	for _, bad := range []string{"billing.example.com", "ftp://example.com", "https://example.com/?a=1", "https://u:p@example.com", "https://"} {
		_, err := loadConfig(env(map[string]string{"RECUR_PUBLIC_URL": bad}))
		require.ErrorContains(t, err, "RECUR_PUBLIC_URL", bad)
		require.NotContains(t, err.Error(), "u:p", "credentials are not repeated")
	}
}

// Without a public URL, setups cannot be made: their routes are not served.
func TestSetupsNeedAPublicURL(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	url := startApp(t, e.db, nil, slog.New(slog.DiscardHandler), modeAPI)
	cus, _ := e.customer(egwsim.TokenActive + "_" + t.Name())
	req, err := http.NewRequest(http.MethodPost, url+"/v1/customers/"+cus+"/payment_method_setups", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestSetupExpires: a checkout not completed within the setup's hour ends the setup expired, and
// its payment is cancelled at the gateway, so that the customer can no longer complete it.
func TestSetupExpires(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, pm, sub := e.pastDue()
	s := e.startSetup(cus, sub)
	e.clock.Advance(time.Hour)
	require.Eventually(t, func() bool { return e.getSetup(s.ID).Status == "expired" }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, "expired", e.getSetup(s.ID).Failure.Code)
	p, ok := e.sim.Payment(paymentOf(t, s.CheckoutURL))
	require.True(t, ok)
	require.Equal(t, gateway.PaymentCancelled, p.Status)
	_, err := e.sim.CompleteCheckout(p.PaymentID, egwsim.CheckoutComplete)
	require.Error(t, err)
	require.Equal(t, pm, e.subscriptionPaymentMethod(sub))
}

// TestSetupRetriesADeclinedProration: a subscription past due because an immediate change's
// proration charge was soft-declined (retrying on dunning's schedule) is active again once a
// setup's new card has paid that charge, at once rather than at the next retry.
func TestSetupRetriesADeclinedProration(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	sub := e.subscribe(egwsim.TokenActive + "_" + t.Name())
	e.settledCharges(sub, 1)
	e.sim.FailNext(egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindDecline, Code: egw.CodeInsufficientFunds})
	e.post("/v1/subscriptions/"+sub+"/change", map[string]any{"quantity": 2, "effective": "now"}, 200, nil)
	require.Equal(t, "retrying", e.restingCharges(sub, 2)[0].Status)
	require.Equal(t, "past_due", e.getSubscription(sub).Status)

	var cus string
	require.NoError(t, e.db.QueryRow(context.Background(), `SELECT customer_id FROM subscriptions WHERE id = $1`, sub).Scan(&cus))
	s := e.startSetup(cus, sub)
	status, back := e.redirected(http.MethodPost, s.CheckoutURL+"?outcome="+egwsim.CheckoutComplete)
	require.Equal(t, http.StatusSeeOther, status)
	status, _ = e.redirected(http.MethodGet, back)
	require.Equal(t, http.StatusSeeOther, status)

	require.Eventually(t, func() bool { return e.getSubscription(sub).Status == "active" }, 20*time.Second, 50*time.Millisecond)
	charges := e.settledCharges(sub, 2)
	for _, c := range charges {
		require.Equal(t, "succeeded", c.Status)
	}
}

// TestSetupRescuesAPastDueSubscriptionOnATestClock: a customer on a test clock behind the
// instance's time fixes their card: the declined charge is retried at once, at the customer's
// time, and paid; it does not wait for the test clock to reach the instance's time.
func TestSetupRescuesAPastDueSubscriptionOnATestClock(t *testing.T) {
	t.Parallel()
	e := newTestEnvOn(t, billing.NewTestClock(), egwsim.Options{}) // a sandbox, with test clocks
	behind := time.Now().UTC().AddDate(0, 0, -20).Truncate(time.Second)
	var clock frozenClockOut
	e.post("/v1/test_clocks", map[string]any{"name": "behind", "frozen_time": behind}, 201, &clock)
	var cus, pm idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_behind", "email": "ada@example.com", "name": "Ada",
		"test_clock_id": clock.ID}, 201, &cus)
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenDeclined + "_behind"}, 201, &pm)
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus.ID, "payment_method_id": pm.ID, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &sub)
	require.Equal(t, "failed", e.settledCharges(sub.ID, 1)[0].Status)
	require.Equal(t, "past_due", e.getSubscription(sub.ID).Status)

	s := e.startSetup(cus.ID, sub.ID)
	status, back := e.redirected(http.MethodPost, s.CheckoutURL+"?outcome="+egwsim.CheckoutComplete)
	require.Equal(t, http.StatusSeeOther, status)
	status, _ = e.redirected(http.MethodGet, back)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "succeeded", e.getSetup(s.ID).Status)

	require.Eventually(t, func() bool { return e.getSubscription(sub.ID).Status == "active" }, 20*time.Second, 50*time.Millisecond,
		"the retry waits for the customer's clock to reach the instance's time")
	charges := e.settledCharges(sub.ID, 1)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Len(t, charges[0].Attempts, 2)
}
