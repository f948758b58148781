package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway/egwsim"
)

func (e *testEnv) getSubscription(id string) subscriptionOut {
	e.t.Helper()
	var s subscriptionOut
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions/"+id, nil, &s))
	return s
}

// TestDunningStatesPaymentMethodAndResume: a declined charge makes the subscription past due, a
// second one unpaid, which is not billed any more; with a new payment method and a resume it is
// billed again from the period that has started, past due while the failed periods are owed,
// and active once one is forgiven and the other paid.
func TestDunningStatesPaymentMethodAndResume(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cus, declined := e.customer(egwsim.TokenDeclined)
	var good idJSON
	e.post("/v1/customers/"+cus+"/payment_methods", map[string]any{"gateway_token_id": egwsim.TokenActive}, 201, &good)
	var sub subscriptionOut
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus, "payment_method_id": declined, "amount": 1250,
		"currency": "EUR", "interval": "month"}, 201, &sub)
	require.Equal(t, "active", sub.Status)

	require.Equal(t, "failed", e.settledCharges(sub.ID, 1)[0].Status)
	sub = e.getSubscription(sub.ID)
	require.Equal(t, "past_due", sub.Status)

	e.clock.Set(sub.NextBillingAt)
	require.Equal(t, "failed", e.settledCharges(sub.ID, 2)[0].Status, "a past-due subscription is still billed")
	sub = e.getSubscription(sub.ID)
	require.Equal(t, "unpaid", sub.Status)

	e.clock.Set(sub.NextBillingAt)
	e.waitSchedulerPasses(3)
	e.settledCharges(sub.ID, 2) // an unpaid subscription is not billed

	var p problemOut
	e.post("/v1/subscriptions/"+sub.ID+"/payment_method", map[string]any{"payment_method_id": "00000000-0000-0000-0000-000000000000"}, 422, &p)
	require.Equal(t, "payment_method_id", p.Errors[0].Field)
	var changed subscriptionOut
	e.post("/v1/subscriptions/"+sub.ID+"/payment_method", map[string]any{"payment_method_id": good.ID}, 200, &changed)
	require.Equal(t, "unpaid", changed.Status, "a new payment method alone does not bill again")

	var resumed subscriptionOut
	e.post("/v1/subscriptions/"+sub.ID+"/resume", nil, 200, &resumed)
	require.Equal(t, "past_due", resumed.Status, "billed again, but the two failed periods are still owed")
	require.Equal(t, e.clock.Now(), resumed.NextBillingAt, "the period that starts now is billed")
	charges := e.settledCharges(sub.ID, 3)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Equal(t, 2, charges[0].Period.Index)
	require.Equal(t, "past_due", e.getSubscription(sub.ID).Status)
	e.post("/v1/subscriptions/"+sub.ID+"/resume", nil, 409, nil)

	// The merchant forgives the first period and has the second paid with the good card: nothing
	// is owed any more, and the subscription is active.
	e.post("/v1/charges/"+charges[2].ID+"/void", map[string]any{"reason": "written off"}, 200, nil)
	require.Equal(t, "past_due", e.getSubscription(sub.ID).Status)
	e.post("/v1/charges/"+charges[1].ID+"/retry", map[string]any{"payment_method_id": good.ID}, 202, nil)
	require.Eventually(t, func() bool { return e.getSubscription(sub.ID).Status == "active" }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, "succeeded", e.settledCharges(sub.ID, 3)[1].Status)
	require.Equal(t, []string{"subscription.created", "subscription.past_due", "subscription.resumed", "subscription.renewed", "subscription.renewed"},
		e.eventTypes(sub.ID))
}

// TestCancelAtPeriodEnd: a pending cancel can be undone; once the period ends the subscription is
// canceled then, and that next period is not billed.
func TestCancelAtPeriodEnd(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	subID := e.subscribe(egwsim.TokenActive)
	e.settledCharges(subID, 1)
	periodEnd := e.getSubscription(subID).NextBillingAt

	var s subscriptionOut
	e.post("/v1/subscriptions/"+subID+"/cancel", map[string]any{"at_period_end": true}, 200, &s)
	require.Equal(t, "active", s.Status)
	require.Equal(t, periodEnd, *s.CancelAt)
	e.post("/v1/subscriptions/"+subID+"/undo_cancel", nil, 200, &s)
	require.Nil(t, s.CancelAt)
	e.post("/v1/subscriptions/"+subID+"/undo_cancel", nil, 409, nil)
	e.post("/v1/subscriptions/"+subID+"/cancel", map[string]any{"at_period_end": true}, 200, &s)

	e.clock.Set(periodEnd)
	e.waitSchedulerPasses(3)
	s = e.getSubscription(subID)
	require.Equal(t, "canceled", s.Status)
	require.Equal(t, periodEnd, *s.CanceledAt)
	require.Len(t, e.settledCharges(subID, 1), 1, "the period after the cancel is not billed")
	e.post("/v1/subscriptions/"+subID+"/pause", nil, 409, nil)
	var p problemOut
	e.post("/v1/subscriptions/"+subID+"/cancel", map[string]any{"at_period_end": "yes"}, 422, &p)
	require.Equal(t, "at_period_end", p.Errors[0].Field)
}

// TestPauseUntil: periods that start while paused are not billed; the pause ends by itself at its
// date, and billing goes on from the next period boundary of the same cycle.
func TestPauseUntil(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t) // Jan 31 09:00: periods start on Feb 28, Mar 31, Apr 30
	subID := e.subscribe(egwsim.TokenActive)
	e.settledCharges(subID, 1)

	var p problemOut
	for _, bad := range []any{e.clock.Now().Add(-time.Hour), "next week", 1767225600, "10000-01-01T00:00:00Z"} {
		e.post("/v1/subscriptions/"+subID+"/pause", map[string]any{"until": bad}, 422, &p)
		require.Equal(t, "until", p.Errors[0].Field, bad)
	}
	until := time.Date(2026, time.April, 15, 0, 0, 0, 0, time.UTC)
	var s subscriptionOut
	e.post("/v1/subscriptions/"+subID+"/pause", map[string]any{"until": until}, 200, &s)
	require.Equal(t, "paused", s.Status)
	require.Equal(t, until, *s.PauseUntil)
	e.post("/v1/subscriptions/"+subID+"/pause", nil, 409, nil)

	e.clock.Set(time.Date(2026, time.March, 31, 9, 0, 0, 0, time.UTC))
	e.waitSchedulerPasses(3)
	require.Len(t, e.settledCharges(subID, 1), 1, "nothing is billed while paused")

	e.clock.Set(until)
	require.Eventually(t, func() bool { return e.getSubscription(subID).Status == "active" }, 10*time.Second, 50*time.Millisecond)
	s = e.getSubscription(subID)
	require.Nil(t, s.PauseUntil)
	apr30 := time.Date(2026, time.April, 30, 9, 0, 0, 0, time.UTC)
	require.Equal(t, apr30, s.NextBillingAt)

	e.clock.Set(apr30)
	c := e.settledCharges(subID, 2)[0]
	require.Equal(t, "succeeded", c.Status)
	require.Equal(t, 3, c.Period.Index)
	require.Equal(t, apr30, c.Period.Start)
}
