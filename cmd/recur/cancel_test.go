package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// slowToken is a token whose payments stay SENT_FOR_PROCESSING for an hour of the simulator's
// (the test's) clock, so that a test can act while a charge waits on the gateway.
func (e *testEnv) slowToken(processing time.Duration) string {
	tok := egwsim.Token{Token: gateway.Token{ID: "tok_slow", Status: gateway.TokenActive,
		Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "4242", ExpiryMonth: 12, ExpiryYear: 2099},
		ProcessingFor: processing}
	e.sim.AddToken(tok)
	return tok.ID
}

// processingCharge subscribes with a slow token and waits until the worker has seen its first
// charge's payment SENT_FOR_PROCESSING at the gateway (and so snoozes); it returns the
// subscription's and the charge's ids.
func (e *testEnv) processingCharge() (subID, chargeID string) {
	e.t.Helper()
	subID = e.subscribe(e.slowToken(time.Hour))
	require.Eventually(e.t, func() bool {
		err := e.db.QueryRow(context.Background(), `
			SELECT c.id FROM charges c JOIN charge_attempts a ON a.charge_id = c.id JOIN charge_steps s ON s.attempt_id = a.id
			WHERE c.subscription_id = $1 AND s.step = 'get_payment' AND s.detail LIKE '%SENT_FOR_PROCESSING'`, subID).Scan(&chargeID)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	return subID, chargeID
}

// TestCalledOffChargesCancelTheirAuthorization voids a charge, or cancels its subscription, while
// the gateway processes its payment: once authorized, the payment is cancelled, not captured, and
// the charge ends canceled.
func TestCalledOffChargesCancelTheirAuthorization(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, path, code string }{
		{"void", "/v1/charges/%s/void", billing.FailureVoided},
		{"subscription canceled", "/v1/subscriptions/%s/cancel", billing.FailureCanceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			subID, chargeID := e.processingCharge()
			target := chargeID
			if c.code == billing.FailureCanceled {
				target = subID
			}
			var body any
			reason := "the subscription was canceled"
			if c.code == billing.FailureVoided {
				reason = "duplicate order #42"
				body = map[string]any{"reason": reason}
			}
			e.post(fmt.Sprintf(c.path, target), body, map[string]int{billing.FailureVoided: 202, billing.FailureCanceled: 200}[c.code], nil)

			e.clock.Advance(2 * time.Hour) // the gateway authorizes
			charge := e.settledCharges(subID, 1)[0]
			require.Equal(t, "canceled", charge.Status)
			require.Equal(t, c.code, charge.Failure.Code)
			require.Equal(t, reason, charge.Failure.Reason)
			p := e.sim.Ledger()[0]
			require.Equal(t, gateway.PaymentCancelled, p.Status)
			require.True(t, p.Cancelled)
			require.Zero(t, p.Captured.Amount)
		})
	}
}

// TestVoidingACapturedChargeIsAConflict: a captured charge is refunded, not voided.
func TestVoidingACapturedChargeIsAConflict(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	charge := e.settledCharges(e.subscribe(egwsim.TokenActive), 1)[0]
	require.Equal(t, "succeeded", charge.Status)
	e.post("/v1/charges/"+charge.ID+"/void", nil, http.StatusConflict, nil)
}

// TestAmountMismatchIsCancelledForReview changes a charge's amount while its payment is processing:
// the authorization no longer matches, so it is cancelled and the charge goes to a person.
func TestAmountMismatchIsCancelledForReview(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	subID, chargeID := e.processingCharge()
	_, err := e.db.Exec(context.Background(), `UPDATE charges SET amount = amount + 1 WHERE id = $1`, chargeID)
	require.NoError(t, err)

	e.clock.Advance(2 * time.Hour)
	charge := e.settledCharges(subID, 1)[0]
	require.Equal(t, "needs_review", charge.Status)
	require.Equal(t, billing.FailureAmountMismatch, charge.Failure.Code)
	require.Equal(t, gateway.PaymentCancelled, e.sim.Ledger()[0].Status)
}

// TestCapturedAmountMismatchGoesToReview: a payment read back captured for another amount than
// its charge's (here the charge changed while the capture's answer was lost) is not a success:
// the charge goes to a person.
func TestCapturedAmountMismatchGoesToReview(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	e.sim.FailNext(egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindTimeout, AfterEffect: true})
	subID := e.subscribe(egwsim.TokenActive)
	var chargeID string
	require.Eventually(t, func() bool { // the capture is sent and its answer held back
		err := e.db.QueryRow(ctx, `
			SELECT c.id FROM charges c JOIN charge_attempts a ON a.charge_id = c.id JOIN charge_steps s ON s.attempt_id = a.id
			WHERE c.subscription_id = $1 AND s.step = 'capture' AND s.outcome IS NULL`, subID).Scan(&chargeID)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	e.sim.FailAlways(egwsim.OpGetPayment, egwsim.Fault{Status: 503}) // it stays unknown meanwhile
	_, err := e.db.Exec(ctx, `UPDATE charges SET amount = amount + 1 WHERE id = $1`, chargeID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var status string
		require.NoError(t, e.db.QueryRow(ctx, `SELECT status FROM charges WHERE id = $1`, chargeID).Scan(&status))
		return status == "reconciling"
	}, 10*time.Second, 20*time.Millisecond)
	e.sim.ClearFaults()

	charge := e.settledCharges(subID, 1)[0]
	require.Equal(t, "needs_review", charge.Status)
	require.Equal(t, billing.FailureAmountMismatch, charge.Failure.Code)
	require.Contains(t, charge.Failure.Reason, "captured 12.50 EUR for a charge of 12.51 EUR")
	require.Equal(t, gateway.PaymentCaptured, e.sim.Ledger()[0].Status)
}

// TestUnsettledChargesGoToReviewNeverToARetry: a payment that the gateway never settles, and a
// payment whose state cannot be read, end in needs_review after ReviewAfter: never failed, never
// charged again.
func TestUnsettledChargesGoToReviewNeverToARetry(t *testing.T) {
	t.Parallel()
	short := func(c *jobs.Config) { c.ReviewAfter = 2 * time.Second }
	t.Run("processing forever", func(t *testing.T) {
		t.Parallel()
		e := newTestEnvWith(t, egwsim.Options{}, short)
		charge := e.settledCharges(e.subscribe(e.slowToken(egwsim.Forever)), 1)[0]
		require.Equal(t, "needs_review", charge.Status)
		require.Equal(t, billing.FailureUnsettled, charge.Failure.Code)
		require.Len(t, e.sim.Ledger(), 1)
		require.Equal(t, gateway.PaymentSentForProcessing, e.sim.Ledger()[0].Status)
		require.Equal(t, []string{"charge.needs_review"}, e.eventTypes(charge.ID), "from the worker")
	})
	t.Run("unreadable", func(t *testing.T) {
		t.Parallel()
		e := newTestEnvWith(t, egwsim.Options{}, short)
		e.sim.FailAlways(egwsim.OpGetPayment, egwsim.Fault{Status: http.StatusServiceUnavailable})
		charge := e.settledCharges(e.subscribe(egwsim.TokenActive), 1)[0]
		require.Equal(t, "needs_review", charge.Status)
		require.Equal(t, billing.FailureUnsettled, charge.Failure.Code)
		require.Len(t, e.sim.Ledger(), 1, "never charged again")
		require.Equal(t, []string{"charge.needs_review"}, e.eventTypes(charge.ID), "from the janitor")
	})
}
