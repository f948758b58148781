package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// dunningCharge is a charge as GET /v1/charges/{id} shows it, with what dunning adds.
type dunningCharge struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	NextRetryAt *time.Time `json:"next_retry_at"`
	RetryReason *string    `json:"retry_reason"`
	Failure     *struct {
		Code string `json:"code"`
	} `json:"failure"`
	Attempts []struct {
		Number           int     `json:"number"`
		Status           string  `json:"status"`
		GatewayPaymentID *string `json:"gateway_payment_id"`
		Steps            []struct {
			Step    string `json:"step"`
			Outcome string `json:"outcome"`
		} `json:"steps"`
	} `json:"attempts"`
}

// chargeWhen waits until the charge satisfies ok and returns it.
func (e *testEnv) chargeWhen(id string, what string, ok func(dunningCharge) bool) dunningCharge {
	e.t.Helper()
	var c dunningCharge
	require.Eventually(e.t, func() bool {
		c = dunningCharge{}
		require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/charges/"+id, nil, &c))
		return ok(c)
	}, 20*time.Second, 50*time.Millisecond, "waiting for charge %s: %s; last %+v", id, what, c)
	return c
}

// attemptsEnded waits until the charge has n attempts, all ended, and its status is status.
func (e *testEnv) attemptsEnded(id string, n int, status string) dunningCharge {
	e.t.Helper()
	return e.chargeWhen(id, fmt.Sprintf("%d attempts, %s", n, status), func(c dunningCharge) bool {
		return len(c.Attempts) == n && c.Status == status && c.Attempts[n-1].Status != "processing"
	})
}

// firstCharge waits for the subscription's first charge and returns its id.
func (e *testEnv) firstCharge(subID string) string {
	e.t.Helper()
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	require.Eventually(e.t, func() bool {
		require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID+"/charges", nil, &page))
		return len(page.Data) == 1
	}, 20*time.Second, 50*time.Millisecond)
	return page.Data[0].ID
}

// chargeCustomer returns the id of the charge's customer.
func (e *testEnv) chargeCustomer(chargeID string) string {
	e.t.Helper()
	var c struct {
		CustomerID string `json:"customer_id"`
	}
	require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/charges/"+chargeID, nil, &c))
	return c.CustomerID
}

// eventTypes returns the types of the events about an object, oldest first.
func (e *testEnv) eventTypes(objectID string) []string {
	e.t.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT type FROM events WHERE object_id = $1 ORDER BY created_at, id`, objectID)
	require.NoError(e.t, err)
	var types []string
	for rows.Next() {
		var s string
		require.NoError(e.t, rows.Scan(&s))
		types = append(types, s)
	}
	require.NoError(e.t, rows.Err())
	return types
}

func withDunning(schedule []time.Duration, end billing.DunningEnd) func(*jobs.Config) {
	return func(c *jobs.Config) { c.Dunning = billing.Dunning{Schedule: schedule, End: end} }
}

// TestDunningSoftDeclineWalksTheSchedule: a token declined INSUFFICIENT_FUNDS is retried 1, 3,
// 5 and 7 days after its first decline, each time as a new attempt with a new gateway payment;
// the subscription is past due meanwhile, and ends as configured: canceled, or unpaid and not
// billed any more.
func TestDunningSoftDeclineWalksTheSchedule(t *testing.T) {
	t.Parallel()
	for _, end := range []billing.DunningEnd{billing.DunningCancel, billing.DunningUnpaid} {
		t.Run(string(end), func(t *testing.T) {
			t.Parallel()
			e := newTestEnvWith(t, egwsim.Options{}, withDunning(billing.DefaultDunning().Schedule, end))
			t0 := e.clock.Now()
			sub := e.subscribe(egwsim.TokenInsufficientFunds + "_" + string(end))
			id := e.firstCharge(sub)
			for i, days := range []int{1, 3, 5, 7} {
				c := e.attemptsEnded(id, i+1, "retrying")
				require.Equal(t, "INSUFFICIENT_FUNDS", c.Failure.Code)
				require.NotNil(t, c.NextRetryAt)
				require.True(t, t0.AddDate(0, 0, days).Equal(*c.NextRetryAt), "retry %d at %s", i+1, c.NextRetryAt)
				require.Contains(t, *c.RetryReason, "soft decline")
				require.Equal(t, "past_due", e.getSubscription(sub).Status)
				e.clock.Set(t0.AddDate(0, 0, days-1))
				time.Sleep(300 * time.Millisecond) // a janitor pass or so: nothing is retried early
				require.Len(t, e.attemptsEnded(id, i+1, "retrying").Attempts, i+1)
				e.clock.Set(*c.NextRetryAt)
			}
			c := e.attemptsEnded(id, 5, "failed")
			require.Nil(t, c.NextRetryAt)
			require.Contains(t, *c.RetryReason, "dunning over")
			payments := map[string]bool{}
			for _, a := range c.Attempts {
				require.Equal(t, "failed", a.Status)
				require.NotNil(t, a.GatewayPaymentID)
				payments[*a.GatewayPaymentID] = true
			}
			require.Len(t, payments, 5, "each retry is a new gateway payment")
			ledger := e.ledgerFor(id)
			require.Len(t, ledger, 5)
			for _, p := range ledger {
				require.Zero(t, p.Captured.Amount)
			}

			s := e.getSubscription(sub)
			want := []string{"charge.failed", "charge.failed", "charge.failed", "charge.failed", "charge.failed"}
			require.Equal(t, want, e.eventTypes(id))
			if end == billing.DunningCancel {
				require.Equal(t, "canceled", s.Status)
				require.Equal(t, []string{"subscription.created", "subscription.past_due", "subscription.canceled"}, e.eventTypes(sub))
			} else {
				require.Equal(t, "unpaid", s.Status)
				require.Equal(t, []string{"subscription.created", "subscription.past_due"}, e.eventTypes(sub))
			}
			e.clock.Set(s.NextBillingAt.Add(time.Hour))
			e.waitSchedulerPasses(2)
			e.settledCharges(sub, 1) // neither a canceled nor an unpaid subscription is billed
			if end == billing.DunningCancel {
				return
			}
			// The customer fixes their card (as the payment-method setup does): RetryPastDue
			// charges the new one at once, and the subscription is active again, billed from the
			// next period that starts (the one that started while unpaid is not billed late).
			cus := e.chargeCustomer(id)
			var good idJSON
			e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive + "_fixed"}, 201, &good)
			pmID := uuid.MustParse(good.ID)
			err := store.InTx(context.Background(), e.db, func(tx pgx.Tx) error {
				_, err := jobs.RetryPastDue(context.Background(), e.river, tx, e.clock, uuid.MustParse(sub), &pmID)
				return err
			})
			require.NoError(t, err)
			e.attemptsEnded(id, 6, "succeeded")
			s = e.getSubscription(sub)
			require.Equal(t, "active", s.Status)
			require.True(t, s.NextBillingAt.After(e.clock.Now()), "next billing %s", s.NextBillingAt)
			e.waitSchedulerPasses(2)
			e.settledCharges(sub, 1)
			err = store.InTx(context.Background(), e.db, func(tx pgx.Tx) error {
				_, err := jobs.RetryPastDue(context.Background(), e.river, tx, e.clock, uuid.MustParse(sub), nil)
				return err
			})
			require.ErrorIs(t, err, billing.ErrConflict, "nothing is past due any more")
		})
	}
}

// TestDunningRecovers: a customer who tops up their account is charged at a retry; the
// subscription is active again.
func TestDunningRecovers(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	t0 := e.clock.Now()
	sub := e.subscribe(egwsim.TokenRecovering + "_1")
	id := e.firstCharge(sub)
	e.attemptsEnded(id, 1, "retrying")
	e.clock.Set(t0.AddDate(0, 0, 1))
	e.attemptsEnded(id, 2, "retrying")
	e.clock.Set(t0.AddDate(0, 0, 3))
	c := e.attemptsEnded(id, 3, "succeeded")
	require.Nil(t, c.NextRetryAt)
	require.Equal(t, "active", e.getSubscription(sub).Status)
	require.Equal(t, []string{"charge.failed", "charge.failed", "charge.succeeded"}, e.eventTypes(id))
	require.Equal(t, []string{"subscription.created", "subscription.past_due"}, e.eventTypes(sub))

	// The next period renews it.
	e.clock.Set(t0.AddDate(0, 1, 0).Add(-3 * 24 * time.Hour)) // Jan 31 + 1 month is Feb 28
	require.Equal(t, "succeeded", e.settledCharges(sub, 2)[0].Status)
	require.Equal(t, []string{"subscription.created", "subscription.past_due", "subscription.renewed"}, e.eventTypes(sub))
}

// TestDunningHardDeclines: a suspended token and an expired card are not retried: the charge
// fails at the token check without reaching the gateway's payments, the subscription is past
// due, and the merchant retries it with a new payment method, which rescues it.
func TestDunningHardDeclines(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*gateway.Token){
		"suspended": func(tok *gateway.Token) { tok.Status = gateway.TokenSuspended },
		"expired":   func(tok *gateway.Token) { tok.ExpiryMonth, tok.ExpiryYear = 12, 2025 },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			t0 := e.clock.Now()
			token := egwsim.TokenActive + "_" + name
			cus, pm := e.customer(token)
			tok := gateway.Token{ID: token, Status: gateway.TokenActive, Last4: "0005", ExpiryMonth: 12, ExpiryYear: 2099,
				Purposes: []gateway.Purpose{gateway.PurposeSubscription, gateway.PurposeUnscheduled}}
			edit(&tok)
			e.sim.AddToken(egwsim.Token{Token: tok})
			var sub idJSON
			e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
				"currency": "EUR", "interval": "month"}, 201, &sub)
			id := e.firstCharge(sub.ID)
			c := e.attemptsEnded(id, 1, "failed")
			require.Nil(t, c.NextRetryAt)
			require.Contains(t, *c.RetryReason, "a new one is needed")
			require.Empty(t, e.ledgerFor(id), "no payment was created")
			require.Equal(t, "past_due", e.getSubscription(sub.ID).Status)
			require.Equal(t, []string{"charge.failed"}, e.eventTypes(id))
			require.Equal(t, []string{"subscription.created", "subscription.past_due"}, e.eventTypes(sub.ID))

			e.clock.Set(t0.AddDate(0, 0, 8))
			time.Sleep(500 * time.Millisecond)
			require.Len(t, e.attemptsEnded(id, 1, "failed").Attempts, 1, "a hard decline is not retried")

			// The merchant retries with a new card: a new attempt on it, and the subscription is
			// active and bills it from now on.
			var good idJSON
			e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive + "_new_" + name}, 201, &good)
			var p problemOut
			e.post("/v1/charges/"+id+"/retry", nil, 409, &p)
			require.Contains(t, p.Detail, "retry it with another one")
			e.post("/v1/charges/"+id+"/retry", map[string]any{"payment_method_id": pm}, 409, nil)
			e.post("/v1/charges/"+id+"/retry", map[string]any{"payment_method_id": "nope"}, 422, &p)
			require.Equal(t, "payment_method_id", p.Errors[0].Field)
			e.post("/v1/charges/"+id+"/retry", map[string]any{"payment_method_id": good.ID}, 202, nil)
			c = e.attemptsEnded(id, 2, "succeeded")
			var s struct {
				Status          string `json:"status"`
				PaymentMethodID string `json:"payment_method_id"`
			}
			require.Equal(t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+sub.ID, nil, &s))
			require.Equal(t, "active", s.Status)
			require.Equal(t, good.ID, s.PaymentMethodID)
			e.post("/v1/charges/"+id+"/retry", nil, 409, nil)
		})
	}
}

// TestTransientBurstRetriedWithinTheAttempt: three 503s on the payment creation are repeated
// within the one attempt, with the same request id, and the charge succeeds.
func TestTransientBurstRetriedWithinTheAttempt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for range 3 {
		e.sim.FailNext(egwsim.OpInitiateMitPayment, egwsim.Fault{Status: 503})
	}
	sub := e.subscribe(egwsim.TokenActive + "_burst")
	c := e.attemptsEnded(e.firstCharge(sub), 1, "succeeded")
	var creates []string
	for _, s := range c.Attempts[0].Steps {
		if s.Step == billing.StepCreatePayment {
			creates = append(creates, s.Outcome)
		}
	}
	require.Equal(t, []string{"transient", "transient", "transient", "ok"}, creates)
	require.Len(t, e.ledgerFor(c.ID), 1)
}

// TestCardAttemptCaps: two subscriptions of one customer on one declining token, retried every
// hour, reach 10 attempts in 24 hours; the next retries of both wait until the window allows
// them (the charges say so), and then happen; so does the first attempt of an ad-hoc charge on
// the same card.
func TestCardAttemptCaps(t *testing.T) {
	t.Parallel()
	hours := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 5 * time.Hour}
	e := newTestEnvWith(t, egwsim.Options{}, withDunning(hours, billing.DunningCancel))
	t0 := e.clock.Now()
	cus, pm := e.customer(egwsim.TokenInsufficientFunds + "_caps")
	var ids []string
	for range 2 {
		var sub idJSON
		e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
			"currency": "EUR", "interval": "month"}, 201, &sub)
		ids = append(ids, e.firstCharge(sub.ID))
	}
	for h := 1; h <= 4; h++ {
		for _, id := range ids {
			e.attemptsEnded(id, h, "retrying")
		}
		e.clock.Set(t0.Add(time.Duration(h) * time.Hour))
	}
	// The fifth attempt of each made 10 on the card; the sixth must wait for the first two to
	// leave the 24-hour window.
	for _, id := range ids {
		e.attemptsEnded(id, 5, "retrying")
	}
	e.clock.Set(t0.Add(5 * time.Hour))
	for _, id := range ids {
		c := e.chargeWhen(id, "deferred by the cap", func(c dunningCharge) bool {
			return c.Status == "retrying" && c.NextRetryAt != nil && c.NextRetryAt.Equal(t0.Add(24*time.Hour))
		})
		require.Contains(t, *c.RetryReason, "10 attempts in 24 hours")
		require.Len(t, c.Attempts, 6)
		require.Equal(t, "processing", c.Attempts[5].Status, "the deferred attempt waits, unsent")
		require.Nil(t, c.Attempts[5].GatewayPaymentID)
	}
	e.clock.Set(t0.Add(24*time.Hour - time.Minute))
	time.Sleep(500 * time.Millisecond)
	for _, id := range ids {
		require.Equal(t, "retrying", e.chargeWhen(id, "still waiting", func(dunningCharge) bool { return true }).Status)
	}
	e.clock.Set(t0.Add(24 * time.Hour))
	for _, id := range ids {
		c := e.attemptsEnded(id, 6, "failed")
		require.Contains(t, *c.RetryReason, "dunning over")
		require.NotNil(t, c.Attempts[5].GatewayPaymentID, "the deferred attempt happened")
	}
	// An ad-hoc charge on the same card now would be the 11th attempt within 24 hours: its first
	// attempt waits until the attempts of the first hour leave the window.
	var adhoc idJSON
	e.post("/v1/customers/"+cus+"/charges", map[string]any{"amount": 300, "currency": "EUR", "payment_method_id": pm}, 201, &adhoc)
	c := e.chargeWhen(adhoc.ID, "first attempt deferred", func(c dunningCharge) bool {
		return c.Status == "retrying" && c.NextRetryAt != nil && c.NextRetryAt.Equal(t0.Add(25*time.Hour))
	})
	require.Contains(t, *c.RetryReason, "10 attempts in 24 hours")
	require.Empty(t, e.ledgerFor(adhoc.ID))
	e.clock.Set(t0.Add(25 * time.Hour))
	c = e.attemptsEnded(adhoc.ID, 1, "failed")
	require.Contains(t, *c.RetryReason, "ad-hoc charges are not retried")
	require.Len(t, e.ledgerFor(adhoc.ID), 1)

	// No 24-hour window holds more than 10 attempts that reached the gateway.
	rows, err := e.db.Query(context.Background(), `
		SELECT max(n) FROM (SELECT count(*) OVER (ORDER BY sent_at RANGE BETWEEN '24 hours'::interval - '1 microsecond'::interval PRECEDING AND CURRENT ROW) AS n
		FROM charge_attempts WHERE payment_method_id = $1 AND sent_at IS NOT NULL) w`, pm)
	require.NoError(t, err)
	var most int
	for rows.Next() {
		require.NoError(t, rows.Scan(&most))
	}
	require.Equal(t, 10, most)
	var sent int
	require.NoError(t, e.db.QueryRow(context.Background(), `SELECT count(*) FROM charge_attempts WHERE payment_method_id = $1 AND sent_at IS NOT NULL`, pm).Scan(&sent))
	require.Equal(t, 13, sent)
}

// TestTokenHealth: the token check raises payment_method.expiring for a card that expires before
// the next charge and payment_method.suspended for a suspended token, once each however many
// times it runs, and records what it saw.
func TestTokenHealth(t *testing.T) {
	t.Parallel()
	e := newTestEnvWith(t, egwsim.Options{}, func(c *jobs.Config) { c.TokenCheckInterval = 100 * time.Millisecond })
	pms := map[string]func(*gateway.Token){
		"expiring":  func(tok *gateway.Token) { tok.ExpiryMonth, tok.ExpiryYear = 1, 2026 }, // good through Jan 31, 2026
		"suspended": func(tok *gateway.Token) { tok.Status = gateway.TokenSuspended },
		"healthy":   func(*gateway.Token) {},
	}
	ids := map[string]string{}
	for name, edit := range pms {
		token := egwsim.TokenActive + "_health_" + name
		cus, pm := e.customer(token)
		var sub idJSON
		e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 500,
			"currency": "EUR", "interval": "week"}, 201, &sub) // next due Feb 7: within 7 days
		require.Equal(t, "succeeded", e.settledCharges(sub.ID, 1)[0].Status)
		tok := gateway.Token{ID: token, Status: gateway.TokenActive, Last4: "0005", ExpiryMonth: 12, ExpiryYear: 2099,
			Purposes: []gateway.Purpose{gateway.PurposeSubscription}}
		edit(&tok)
		e.sim.AddToken(egwsim.Token{Token: tok})
		ids[name] = pm
	}
	e.waitJobs(jobs.CheckTokensArgs{}.Kind(), 4)
	require.Equal(t, []string{"payment_method.expiring"}, e.eventTypes(ids["expiring"]))
	require.Equal(t, []string{"payment_method.suspended"}, e.eventTypes(ids["suspended"]))
	require.Empty(t, e.eventTypes(ids["healthy"]))
	var status string
	var expYear int
	require.NoError(t, e.db.QueryRow(context.Background(), `SELECT token_status, exp_year FROM payment_methods WHERE id = $1`, ids["suspended"]).Scan(&status, &expYear))
	require.Equal(t, "SUSPENDED", status)
	require.NoError(t, e.db.QueryRow(context.Background(), `SELECT token_status, exp_year FROM payment_methods WHERE id = $1`, ids["expiring"]).Scan(&status, &expYear))
	require.Equal(t, "ACTIVE", status)
	require.Equal(t, 2026, expYear)
}

func TestDunningConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(env(map[string]string{"RECUR_DUNNING_SCHEDULE": "12h, 2d", "RECUR_DUNNING_END": "unpaid", "RECUR_TOKEN_CHECK_AHEAD": "10d"}))
	require.NoError(t, err)
	require.Equal(t, []time.Duration{12 * time.Hour, 48 * time.Hour}, cfg.Jobs.Dunning.Schedule)
	require.Equal(t, billing.DunningUnpaid, cfg.Jobs.Dunning.End)
	require.Equal(t, 240*time.Hour, cfg.Jobs.TokenCheckAhead)
	cfg, err = loadConfig(env(nil))
	require.NoError(t, err)
	require.Equal(t, billing.DefaultDunning(), cfg.Jobs.Dunning)
	for name, value := range map[string]string{
		"RECUR_DUNNING_SCHEDULE": "3d,1d", "RECUR_DUNNING_END": "delete", "RECUR_TOKEN_CHECK_AHEAD": "soon",
	} {
		_, err := loadConfig(env(map[string]string{name: value}))
		require.ErrorContains(t, err, name)
	}
	_, err = loadConfig(env(map[string]string{"RECUR_DUNNING_SCHEDULE": "1x"}))
	require.ErrorContains(t, err, "RECUR_DUNNING_SCHEDULE")
}

// TestVoidARetryingCharge: a charge in dunning that the merchant voids is forgiven at once, not
// at its next retry, with the merchant's reason; no payment is made for it, and its subscription,
// which owes nothing else, is active again.
func TestVoidARetryingCharge(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	sub := e.subscribe(egwsim.TokenInsufficientFunds + "_void")
	id := e.firstCharge(sub)
	e.attemptsEnded(id, 1, "retrying")
	require.Equal(t, "past_due", e.getSubscription(sub).Status)
	var p problemOut
	e.post("/v1/charges/"+id+"/void", map[string]any{"reason": strings.Repeat("x", 501)}, 422, &p)
	require.Equal(t, "reason", p.Errors[0].Field)
	var voided dunningCharge
	e.post("/v1/charges/"+id+"/void", map[string]any{"reason": "goodwill"}, http.StatusOK, &voided)
	require.Equal(t, "canceled", voided.Status)
	require.Nil(t, voided.NextRetryAt)
	c := e.attemptsEnded(id, 1, "canceled")
	require.Equal(t, billing.FailureVoided, c.Failure.Code)
	require.Equal(t, "active", e.getSubscription(sub).Status)
	e.clock.Set(e.clock.Now().AddDate(0, 0, 2)) // past its next retry: nothing happens
	time.Sleep(500 * time.Millisecond)
	require.Len(t, e.attemptsEnded(id, 1, "canceled").Attempts, 1)
	require.Len(t, e.ledgerFor(id), 1)
	require.Equal(t, []string{"subscription.created", "subscription.past_due"}, e.eventTypes(sub))
	e.post("/v1/charges/"+id+"/retry", nil, http.StatusConflict, nil)
}

// TestRetryWithANewCardStartsDunningAfresh: a charge hard-declined on its first card, retried
// with a new card after the dunning schedule would have ended, is soft-declined on the new card:
// it is retrying on the schedule counted from that retry, and the subscription stays past due,
// rather than canceled by a first decline of the new card with the debt dropped.
func TestRetryWithANewCardStartsDunningAfresh(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	t0 := e.clock.Now()
	cus, pm := e.customer(egwsim.TokenDeclined + "_afresh")
	var sub idJSON
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": pm, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &sub)
	id := e.firstCharge(sub.ID)
	e.attemptsEnded(id, 1, "failed")

	later := t0.AddDate(0, 0, 10) // past the last offset (7 days) of the default schedule
	e.clock.Set(later)
	var poor idJSON
	e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenInsufficientFunds + "_afresh"}, 201, &poor)
	e.post("/v1/charges/"+id+"/retry", map[string]any{"payment_method_id": poor.ID}, 202, nil)
	c := e.attemptsEnded(id, 2, "retrying")
	require.Equal(t, "INSUFFICIENT_FUNDS", c.Failure.Code)
	require.NotNil(t, c.NextRetryAt)
	require.True(t, later.AddDate(0, 0, 1).Equal(*c.NextRetryAt), "the first retry a day after the new card's, at %s", c.NextRetryAt)
	require.Equal(t, "past_due", e.getSubscription(sub.ID).Status)
}
