package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// twoPeriodsFailed makes a customer whose subscription's first two periods were declined (a
// hard-declining token): the subscription is unpaid, and owes both. It returns the charges,
// oldest first.
func (e *testEnv) twoPeriodsFailed() (cusID, subID string, charges [2]chargeOut) {
	e.t.Helper()
	cusID, _, subID = e.pastDue()
	e.clock.Set(e.getSubscription(subID).NextBillingAt)
	settled := e.settledCharges(subID, 2)
	for i, c := range settled {
		require.Equal(e.t, "failed", c.Status)
		charges[1-i] = c
	}
	require.Equal(e.t, "unpaid", e.getSubscription(subID).Status, "two periods owed")
	return cusID, subID, charges
}

// attemptCount reads how many attempts a charge has had.
func (e *testEnv) attemptCount(chargeID string) int {
	e.t.Helper()
	return e.countRows(`SELECT count(*) FROM charge_attempts WHERE charge_id = $1`, chargeID)
}

// owedAtRisk reads the charges that the at-risk report says the subscription owes, and their sum;
// zeros when it is not listed.
func (e *testEnv) owedAtRisk(subID string) [2]int64 {
	e.t.Helper()
	var page struct {
		Data []struct {
			SubscriptionID string `json:"subscription_id"`
			ChargesOwed    int64  `json:"charges_owed"`
			AmountOwed     int64  `json:"amount_owed"`
		} `json:"data"`
	}
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/reports/subscriptions_at_risk?limit=100", nil, &page))
	for _, r := range page.Data {
		if r.SubscriptionID == subID {
			return [2]int64{r.ChargesOwed, r.AmountOwed}
		}
	}
	return [2]int64{}
}

// TestEveryOwedChargeIsPaidBeforeActive: two failed periods, the card fixed through POST
// /v1/charges/{id}/retry with a new payment method, one charge after the other: paying the newer
// period leaves the subscription unpaid (the older is still owed), paying the older makes it
// active. The subscription went past due once, and each paid period after the first renewed it.
func TestEveryOwedChargeIsPaidBeforeActive(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, sub, charges := e.twoPeriodsFailed()
	var good idJSON
	e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive + "_" + t.Name()}, 201, &good)

	e.post("/v1/charges/"+charges[1].ID+"/retry", map[string]any{"payment_method_id": good.ID}, http.StatusAccepted, nil)
	e.attemptsEnded(charges[1].ID, 2, "succeeded")
	require.Equal(t, "unpaid", e.getSubscription(sub).Status, "the first period is still owed")
	require.Equal(t, "failed", e.charge(charges[0].ID).Status, "retrying one charge retries no other")

	e.post("/v1/charges/"+charges[0].ID+"/retry", map[string]any{"payment_method_id": good.ID}, http.StatusAccepted, nil)
	e.attemptsEnded(charges[0].ID, 2, "succeeded")
	s := e.getSubscription(sub)
	require.Equal(t, "active", s.Status)
	require.True(t, s.NextBillingAt.After(e.clock.Now()), "billed again from the next period that starts")
	require.Equal(t, good.ID, e.subscriptionPaymentMethod(sub))
	require.Equal(t, []string{"subscription.created", "subscription.past_due", "subscription.renewed"}, e.eventTypes(sub))
	require.Equal(t, []string{"charge.failed", "charge.succeeded"}, e.eventTypes(charges[0].ID))
	require.Equal(t, []string{"charge.failed", "charge.succeeded"}, e.eventTypes(charges[1].ID))
	require.Equal(t, int64(2*1250), e.captured())
}

// TestSetupPaysEveryOwedCharge: a payment-method setup for a subscription that owes two failed
// periods retries both with the new card at once, each as a new attempt, and the subscription is
// active once both are paid, without going past due again.
func TestSetupPaysEveryOwedCharge(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, sub, charges := e.twoPeriodsFailed()
	s := e.startSetup(cus, sub)
	status, back := e.redirected(http.MethodPost, s.CheckoutURL+"?outcome="+egwsim.CheckoutComplete)
	require.Equal(t, http.StatusSeeOther, status)
	status, _ = e.redirected(http.MethodGet, back)
	require.Equal(t, http.StatusSeeOther, status)

	for _, c := range charges {
		e.attemptsEnded(c.ID, 2, "succeeded")
	}
	require.Eventually(t, func() bool { return e.getSubscription(sub).Status == "active" }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, *e.getSetup(s.ID).PaymentMethodID, e.subscriptionPaymentMethod(sub))
	require.Equal(t, []string{"subscription.created", "subscription.past_due", "subscription.renewed"}, e.eventTypes(sub))
	require.Equal(t, int64(2*1250), e.captured())
}

// TestForgivingOwedCharges: the merchant voids failed charges with a reason: each is canceled at
// once (200), is no longer owed, and the subscription is active once it owes nothing, billed
// again from the next period. A charge that succeeded cannot be forgiven, nor retried after.
func TestForgivingOwedCharges(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	_, sub, charges := e.twoPeriodsFailed()
	require.Equal(t, [2]int64{2, 2500}, e.owedAtRisk(sub))

	var voided chargeOut
	e.post("/v1/charges/"+charges[0].ID+"/void", map[string]any{"reason": "first month free after all"}, http.StatusOK, &voided)
	require.Equal(t, "canceled", voided.Status)
	require.Equal(t, "voided", voided.Failure.Code)
	require.Equal(t, "first month free after all", voided.Failure.Reason)
	require.Equal(t, "unpaid", e.getSubscription(sub).Status, "the second period is still owed")
	require.Equal(t, [2]int64{1, 1250}, e.owedAtRisk(sub))
	e.post("/v1/charges/"+charges[0].ID+"/retry", nil, http.StatusConflict, nil)

	e.post("/v1/charges/"+charges[1].ID+"/void", nil, http.StatusOK, &voided)
	require.Equal(t, "the charge was voided", voided.Failure.Reason)
	s := e.getSubscription(sub)
	require.Equal(t, "active", s.Status)
	require.True(t, s.NextBillingAt.After(e.clock.Now()))
	require.Equal(t, [2]int64{0, 0}, e.owedAtRisk(sub), "no longer at risk")
	e.post("/v1/charges/"+charges[1].ID+"/void", nil, http.StatusAccepted, nil) // again: nothing changes
	require.Equal(t, "canceled", e.charge(charges[1].ID).Status)
	require.Equal(t, 1, e.attemptCount(charges[1].ID), "no attempt is made for a forgiven charge")
	require.Equal(t, []string{"subscription.created", "subscription.past_due"}, e.eventTypes(sub))
	require.Equal(t, []string{"charge.failed"}, e.eventTypes(charges[0].ID))
}

// TestRetryPastDueUnderTheCaps: a new card that has room for one more attempt today (nine
// already made on it in the last 24 hours) is asked for both charges owed: RetryPastDue retries
// both, one attempt goes through, the other waits for the cap, visibly, and goes once the window
// allows; the subscription is active only then.
func TestRetryPastDueUnderTheCaps(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, sub, charges := e.twoPeriodsFailed()
	var good, adhoc idJSON
	e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive + "_" + t.Name()}, 201, &good)
	e.post("/v1/customers/"+cus+"/charges", map[string]any{"amount": 100, "currency": "EUR", "payment_method_id": good.ID}, 201, &adhoc)
	e.attemptsEnded(adhoc.ID, 1, "succeeded")
	// Eight more attempts on the card, as other charges would have made them a minute ago.
	_, err := e.db.Exec(context.Background(), `
		INSERT INTO charge_attempts (id, charge_id, number, order_number, status, created_at, updated_at,
			payment_method_id, sent_at, create_request_id)
		SELECT gen_random_uuid(), $1, 1 + g, gen_random_uuid()::text, 'failed', $2, $2, $3, $2, gen_random_uuid()
		FROM generate_series(1, 8) g`, adhoc.ID, e.clock.Now().Add(-time.Minute), good.ID)
	require.NoError(t, err)

	pmID := uuid.MustParse(good.ID)
	var retried []billing.Charge
	err = store.InTx(context.Background(), e.db, func(tx pgx.Tx) (err error) {
		retried, err = jobs.RetryPastDue(context.Background(), e.river, tx, e.clock, uuid.MustParse(sub), &pmID)
		return err
	})
	require.NoError(t, err)
	require.Len(t, retried, 2)
	require.Equal(t, charges[0].ID, retried[0].ID.String(), "oldest first")

	var waiting string
	require.Eventually(t, func() bool {
		done := 0
		for _, c := range charges {
			switch got := e.chargeWhen(c.ID, "any", func(dunningCharge) bool { return true }); {
			case got.Status == "succeeded":
				done++
			case got.Status == "retrying" && got.RetryReason != nil && strings.Contains(*got.RetryReason, "10 attempts in 24 hours"):
				waiting = c.ID
			}
		}
		return done == 1 && waiting != ""
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, "unpaid", e.getSubscription(sub).Status, "one charge is still owed")

	e.clock.Set(e.clock.Now().Add(24 * time.Hour))
	e.chargeWhen(waiting, "paid once the window allows", func(c dunningCharge) bool { return c.Status == "succeeded" })
	require.Eventually(t, func() bool { return e.getSubscription(sub).Status == "active" }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{"subscription.created", "subscription.past_due", "subscription.renewed"}, e.eventTypes(sub))
}
