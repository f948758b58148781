package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

type lineOut struct {
	Kind        string    `json:"kind"`
	Description string    `json:"description"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

// changeOut is the answer to a change: the subscription and what was prorated.
type changeOut struct {
	subscriptionOut
	CreditBalance int64 `json:"credit_balance"`
	Proration     *struct {
		ChangeID *string   `json:"change_id"`
		Lines    []lineOut `json:"lines"`
		Net      int64     `json:"net"`
		ChargeID *string   `json:"charge_id"`
		Credited int64     `json:"credited"`
	} `json:"proration"`
}

type linedChargeOut struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Status   string    `json:"status"`
	Amount   int64     `json:"amount"`
	Channel  string    `json:"channel"`
	ChangeID *string   `json:"change_id"`
	Lines    []lineOut `json:"lines"`
}

// prorationEnv is a test env with a monthly plan subscription on the token whose first period
// (2026-01-31 09:00 to 2026-02-28 09:00 UTC, 28 days) is charged, and its clock half-way through
// that period.
func prorationEnv(t *testing.T, tokenID string, body map[string]any) (*testEnv, string) {
	e := newTestEnv(t)
	var cus, pm, sub idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_" + tokenID, "email": "ada@example.com", "name": "Ada"}, 201, &cus)
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": tokenID}, 201, &pm)
	body["customer_id"], body["payment_method_id"] = cus.ID, pm.ID
	e.post("/v1/subscriptions", body, 201, &sub)
	require.Equal(t, "succeeded", e.settledCharges(sub.ID, 1)[0].Status)
	e.clock.Set(time.Date(2026, time.February, 14, 9, 0, 0, 0, time.UTC))
	return e, sub.ID
}

func (e *testEnv) charge(id string) linedChargeOut {
	e.t.Helper()
	var c linedChargeOut
	require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/charges/"+id, nil, &c))
	return c
}

// captured sums what the simulator captured.
func (e *testEnv) captured() int64 {
	var sum int64
	for _, p := range e.sim.Ledger() {
		sum += p.Captured.Amount
	}
	return sum
}

func lineAmounts(lines []lineOut) []int64 {
	out := make([]int64, len(lines))
	for i, l := range lines {
		out[i] = l.Amount
	}
	return out
}

// TestChangeNowUpgrade: an upgrade half-way through a period charges, at once and once, the new
// price's half less the old price's half, as a proration charge with both as lines; the same
// request again (replayed by its Idempotency-Key, or sent anew) charges nothing more, and the
// next period is billed at the new price.
func TestChangeNowUpgrade(t *testing.T) {
	t.Parallel()
	e, subID := prorationEnv(t, egwsim.TokenActive, map[string]any{"amount": 1500, "currency": "EUR", "interval": "month"})
	var pro idJSON
	e.post("/v1/plans", map[string]any{"name": "Pro", "amount": 2500, "currency": "EUR", "interval": "month"}, 201, &pro)

	body := `{"plan_id":"` + pro.ID + `","effective":"now"}`
	first := e.postKeyed(e.key, "/v1/subscriptions/"+subID+"/change", body, "upgrade-1")
	require.Equal(t, 200, first.status, first.body)
	requireReplay(t, first, e.postKeyed(e.key, "/v1/subscriptions/"+subID+"/change", body, "upgrade-1"))
	charges := e.settledCharges(subID, 2)
	// Sent anew (once the proration is collected: until then it is a 409), the change is made
	// already: it costs nothing.
	var ch changeOut
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"plan_id": pro.ID, "effective": "now"}, 200, &ch)
	require.Zero(t, ch.Proration.Net)
	require.Nil(t, ch.Proration.ChargeID)
	require.Len(t, e.settledCharges(subID, 2), 2)
	require.Equal(t, "succeeded", charges[0].Status)
	c := e.charge(charges[0].ID)
	require.Equal(t, "proration", c.Kind)
	require.Equal(t, "MERCHANT", c.Channel, "an unscheduled charge")
	require.Equal(t, int64(500), c.Amount)
	require.Equal(t, []int64{-750, 1250}, lineAmounts(c.Lines))
	require.Equal(t, []string{"credit", "debit"}, []string{c.Lines[0].Kind, c.Lines[1].Kind})
	require.True(t, c.Lines[0].Start.Equal(time.Date(2026, time.February, 14, 9, 0, 0, 0, time.UTC)))
	require.True(t, c.Lines[0].End.Equal(time.Date(2026, time.February, 28, 9, 0, 0, 0, time.UTC)))
	require.NotNil(t, c.ChangeID)
	require.Equal(t, "period", e.charge(charges[1].ID).Kind)
	require.Equal(t, int64(1500+500), e.captured(), "the first period and the difference, once")

	e.clock.Set(time.Date(2026, time.February, 28, 9, 0, 0, 0, time.UTC))
	next := e.charge(e.settledCharges(subID, 3)[0].ID)
	require.Equal(t, "period", next.Kind)
	require.Equal(t, int64(2500), next.Amount)
	require.Empty(t, next.Lines)
	require.Equal(t, int64(1500+500+2500), e.captured())
}

// TestChangeNowDowngrade: a downgrade half-way leaves the difference as credit, charges nothing,
// and the next period's charge is its price less the credit, shown as lines; a credit larger
// than a period is carried over, and a period it pays in full is a succeeded charge of 0 that
// the gateway never sees.
func TestChangeNowDowngrade(t *testing.T) {
	t.Parallel()
	e, subID := prorationEnv(t, egwsim.TokenActive, map[string]any{"amount": 2500, "currency": "EUR", "interval": "month"})
	var ch changeOut
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 1500, "effective": "now"}, 200, &ch)
	require.Equal(t, int64(-500), ch.Proration.Net)
	require.Equal(t, []int64{-1250, 750}, lineAmounts(ch.Proration.Lines))
	require.Equal(t, int64(500), ch.Proration.Credited)
	require.Nil(t, ch.Proration.ChargeID, "never a negative charge")
	require.Equal(t, int64(500), ch.CreditBalance)
	require.Equal(t, int64(1500), ch.Amount)

	e.clock.Set(time.Date(2026, time.February, 28, 9, 0, 0, 0, time.UTC))
	next := e.charge(e.settledCharges(subID, 2)[0].ID)
	require.Equal(t, "succeeded", next.Status)
	require.Equal(t, int64(1000), next.Amount)
	require.Equal(t, []int64{1500, -500}, lineAmounts(next.Lines))
	require.Equal(t, int64(2500+1000), e.captured())
	var s changeOut
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID, nil, &s))
	require.Zero(t, s.CreditBalance)

	// Half-way through the second period (31 days: 15.5 left), a quantity of 3 charges half of
	// 4500 - 1500; then 4500 down to 100 credits 2250 - 50, more than the next period's 100.
	e.clock.Set(time.Date(2026, time.March, 15, 21, 0, 0, 0, time.UTC))
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"quantity": 3, "effective": "now"}, 200, &ch)
	require.Equal(t, int64(1500), ch.Proration.Net, "a quantity change: 4500 - 1500 for half of the period")
	require.Equal(t, "succeeded", e.settledCharges(subID, 3)[0].Status)
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 100, "quantity": 1, "effective": "now"}, 200, &ch)
	require.Equal(t, []int64{-2250, 50}, lineAmounts(ch.Proration.Lines))
	require.Equal(t, int64(2200), ch.CreditBalance)
	e.clock.Set(time.Date(2026, time.March, 31, 9, 0, 0, 0, time.UTC))
	free := e.charge(e.settledCharges(subID, 4)[0].ID)
	require.Equal(t, "succeeded", free.Status)
	require.Zero(t, free.Amount)
	require.Equal(t, []int64{100, -100}, lineAmounts(free.Lines))
	require.Equal(t, int64(2500+1000+1500), e.captured(), "the gateway never saw the period paid by credit")
	require.Equal(t, []string{"charge.succeeded"}, e.eventTypes(free.ID), "paid by credit, and told like any payment")
	renewed := 0
	for _, typ := range e.eventTypes(subID) {
		if typ == "subscription.renewed" {
			renewed++
		}
	}
	require.Equal(t, 2, renewed, "the periods after the first: one paid at the gateway, one by credit")
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID, nil, &s))
	require.Equal(t, int64(2100), s.CreditBalance, "the rest is carried over")
}

// TestChangeNowRefusals: an immediate charge on a token without the UNSCHEDULED purpose is a 422
// (a downgrade, which charges nothing, is not); an unknown effective is a 422; a paused
// subscription is a 409. A proration charge that is declined makes the subscription past due,
// like a failed period charge; the next period's success leaves it past due (the proration is
// still owed), and its retry makes it active again.
func TestChangeNowRefusals(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.sim.AddToken(egwsim.Token{Token: gateway.Token{ID: "tok_subscription_only", Status: gateway.TokenActive,
		Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "1111", ExpiryMonth: 1, ExpiryYear: 2099}})
	subID := e.subscribe("tok_subscription_only")
	e.settledCharges(subID, 1)
	e.clock.Set(time.Date(2026, time.February, 14, 9, 0, 0, 0, time.UTC))
	var p problemOut
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 2500, "effective": "now"}, 422, &p)
	require.Equal(t, "effective", p.Errors[0].Field)
	require.Contains(t, p.Errors[0].Reason, "UNSCHEDULED")
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 2500, "effective": "tomorrow"}, 422, &p)
	require.Equal(t, "effective", p.Errors[0].Field)
	var ch changeOut
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 250, "effective": "now"}, 200, &ch)
	require.Equal(t, int64(500), ch.CreditBalance, "1250 down to 250 for half of the period")
	e.post("/v1/subscriptions/"+subID+"/pause", nil, 200, nil)
	e.post("/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 2500, "effective": "now"}, 409, nil)

	declined := e.subscribe(egwsim.TokenActive) // its periods start on the 14th
	e.settledCharges(declined, 1)
	// A hard decline: failed at once (a soft one would be retrying, see TestDunningSoftDeclineWalksTheSchedule).
	e.sim.FailNext(egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindDecline, Code: egw.CodeAuthorizationDeclined})
	e.post("/v1/subscriptions/"+declined+"/change", map[string]any{"quantity": 2, "effective": "now"}, 200, &ch)
	require.NotNil(t, ch.Proration.ChargeID)
	require.Equal(t, "failed", e.settledCharges(declined, 2)[0].Status)
	var s subscriptionOut
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+declined, nil, &s))
	require.Equal(t, "past_due", s.Status)
	require.Equal(t, int64(2500), s.Amount, "the change stays")
	e.clock.Set(time.Date(2026, time.March, 14, 9, 0, 0, 0, time.UTC))
	next := e.settledCharges(declined, 3)[0]
	require.Equal(t, "succeeded", next.Status)
	require.Equal(t, int64(2500), next.Amount)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+declined, nil, &s))
	require.Equal(t, "past_due", s.Status, "the proration charge is still owed")
	// Declined hard, it is retried only with another card.
	e.post("/v1/charges/"+*ch.Proration.ChargeID+"/retry", nil, 409, nil)
	var card idJSON
	e.post("/v1/customers/"+s.CustomerID+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive + "_new"}, 201, &card)
	e.post("/v1/charges/"+*ch.Proration.ChargeID+"/retry", map[string]any{"payment_method_id": card.ID}, 202, nil)
	require.Equal(t, "succeeded", e.settledCharges(declined, 3)[1].Status)
	require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+declined, nil, &s))
	require.Equal(t, "active", s.Status)
}

// TestChangeNowConcurrently: the same upgrade sent ten times at once is charged once: the
// subscription's lock orders the requests, and each after the first finds the change made (a 409
// while its charge is pending, else nothing to charge).
func TestChangeNowConcurrently(t *testing.T) {
	t.Parallel()
	e, subID := prorationEnv(t, egwsim.TokenActive, map[string]any{"amount": 1500, "currency": "EUR", "interval": "month"})
	type answer struct {
		status int
		body   json.RawMessage
	}
	answers := make(chan answer, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a answer
			a.status = e.do(http.MethodPost, "/v1/subscriptions/"+subID+"/change", map[string]any{"amount": 2500, "effective": "now"}, &a.body)
			answers <- a
		}()
	}
	wg.Wait()
	close(answers)
	charged := 0
	for a := range answers {
		require.Contains(t, []int{200, 409}, a.status, "%s", a.body)
		var ch changeOut
		if a.status == 200 {
			require.NoError(t, json.Unmarshal(a.body, &ch))
		}
		if ch.Proration != nil && ch.Proration.ChargeID != nil {
			charged++
			require.Equal(t, int64(500), ch.Proration.Net)
		}
	}
	require.Equal(t, 1, charged)
	require.Equal(t, "proration", e.charge(e.settledCharges(subID, 2)[0].ID).Kind)
	require.Equal(t, int64(1500+500), e.captured())
}
