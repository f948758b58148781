package main

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

type refundOut struct {
	ID              string  `json:"id"`
	Amount          int64   `json:"amount"`
	Status          string  `json:"status"`
	GatewayRefundID *string `json:"gateway_refund_id"`
	Failure         *struct {
		Code string `json:"code"`
	} `json:"failure"`
}

type refundedChargeOut struct {
	Status           string      `json:"status"`
	Refunds          []refundOut `json:"refunds"`
	AmountRefunded   int64       `json:"amount_refunded"`
	AmountRefundable int64       `json:"amount_refundable"`
}

// refund asks for a refund (amount nil: what is left) and requires a 202 with a pending refund.
func (e *testEnv) refund(chargeID string, amount any) refundOut {
	e.t.Helper()
	body := map[string]any{}
	if amount != nil {
		body["amount"] = amount
	}
	var r refundOut
	e.post("/v1/charges/"+chargeID+"/refunds", body, http.StatusAccepted, &r)
	require.Equal(e.t, "pending", r.Status)
	return r
}

// settledRefunds waits until the charge has n refunds, none of them pending or being sent, and
// returns the charge.
func (e *testEnv) settledRefunds(chargeID string, n int) refundedChargeOut {
	e.t.Helper()
	var c refundedChargeOut
	require.Eventually(e.t, func() bool {
		c = refundedChargeOut{}
		require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/charges/"+chargeID, nil, &c))
		if len(c.Refunds) != n {
			return false
		}
		for _, r := range c.Refunds {
			if r.Status == "pending" || r.Status == "sending" {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "waiting for %d settled refunds of %s", n, chargeID)
	return c
}

// adHocCharge makes a succeeded ad-hoc charge of amount EUR with the token and returns its id.
func (e *testEnv) adHocCharge(tokenID string, amount int64) string {
	e.t.Helper()
	cusID, pmID := e.customer(tokenID)
	var c idJSON
	e.post("/v1/customers/"+cusID+"/charges", map[string]any{"amount": amount, "currency": "EUR", "payment_method_id": pmID}, 201, &c)
	require.Equal(e.t, "succeeded", e.settledCharge(c.ID).Status)
	return c.ID
}

// TestFullRefund: a refund without an amount gives back the whole charge, once, at the gateway;
// then nothing is left to refund.
func TestFullRefund(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	id := e.adHocCharge(egwsim.TokenActive, 4200)
	r := e.refund(id, nil)
	require.Equal(t, int64(4200), r.Amount)

	c := e.settledRefunds(id, 1)
	require.Equal(t, "succeeded", c.Refunds[0].Status, "%+v", c.Refunds[0])
	require.NotNil(t, c.Refunds[0].GatewayRefundID)
	require.Equal(t, "succeeded", c.Status, "a refunded charge stays collected; its refunds say the rest")
	require.Equal(t, int64(4200), c.AmountRefunded)
	require.Zero(t, c.AmountRefundable)

	p := e.ledgerFor(id)[0]
	require.Equal(t, gateway.PaymentRefunded, p.Status)
	require.Equal(t, billing.Money{Amount: 4200, Currency: "EUR"}, p.Refunded)
	require.Len(t, p.Refunds, 1)

	e.post("/v1/charges/"+id+"/refunds", nil, http.StatusConflict, nil)
}

// TestPartialRefundsUpToTheCapturedAmount: two partial refunds of a subscription charge add up to
// what was captured; a refund of more than is left is refused, naming amount.
func TestPartialRefundsUpToTheCapturedAmount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	charge := e.settledCharges(e.subscribe(egwsim.TokenActive), 1)[0]
	require.Equal(t, "succeeded", charge.Status)

	e.refund(charge.ID, 500)
	var p problemOut
	require.Equal(t, 422, e.do(http.MethodPost, "/v1/charges/"+charge.ID+"/refunds", map[string]any{"amount": 751}, &p))
	require.Equal(t, "amount", p.Errors[0].Field, "%+v", p)
	e.refund(charge.ID, 750)

	c := e.settledRefunds(charge.ID, 2)
	for _, r := range c.Refunds {
		require.Equal(t, "succeeded", r.Status)
	}
	require.Equal(t, int64(1250), c.AmountRefunded)
	require.Zero(t, c.AmountRefundable)
	ledger := e.sim.Ledger()
	require.Len(t, ledger, 1)
	require.Equal(t, gateway.PaymentRefunded, ledger[0].Status)
	require.Equal(t, billing.Money{Amount: 1250, Currency: "EUR"}, ledger[0].Refunded)
	require.Len(t, ledger[0].Refunds, 2)

	p = problemOut{}
	require.Equal(t, 422, e.do(http.MethodPost, "/v1/charges/"+charge.ID+"/refunds", map[string]any{"amount": 1}, &p))
	require.Equal(t, "amount", p.Errors[0].Field, "%+v", p)
	require.Equal(t, 2, e.count("refunds"))
}

// TestRefundOfAFailedChargeIsAConflict: only a succeeded charge has anything to give back.
func TestRefundOfAFailedChargeIsAConflict(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	charge := e.settledCharges(e.subscribe(egwsim.TokenDeclined), 1)[0]
	require.Equal(t, "failed", charge.Status)
	e.post("/v1/charges/"+charge.ID+"/refunds", map[string]any{"amount": 100}, http.StatusConflict, nil)
	require.Zero(t, e.count("refunds"))
}

// TestRefundWithUnknownOutcomeGoesToReview: a refund whose answer is lost after it took effect is
// never sent again; it waits for a person, and its amount stays held. A gateway that did not
// take a refund (503) gets it again.
func TestRefundWithUnknownOutcomeGoesToReview(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	id := e.adHocCharge(egwsim.TokenActive, 1000)

	e.sim.FailNext(egwsim.OpRefund, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true})
	e.refund(id, 400)
	c := e.settledRefunds(id, 1)
	require.Equal(t, "needs_review", c.Refunds[0].Status)
	require.Equal(t, billing.FailureRefundUnknown, c.Refunds[0].Failure.Code)
	require.Zero(t, c.AmountRefunded)
	require.Equal(t, int64(600), c.AmountRefundable, "the refund in review still holds its amount")

	e.sim.FailNext(egwsim.OpRefund, egwsim.Fault{Status: http.StatusServiceUnavailable})
	e.refund(id, 600)
	c = e.settledRefunds(id, 2)
	require.Equal(t, "succeeded", c.Refunds[1].Status)
	p := e.ledgerFor(id)[0]
	require.Len(t, p.Refunds, 2, "each refund reached the gateway once")
	require.Equal(t, gateway.PaymentRefunded, p.Status)
}

// TestRefundIsIdempotent: an Idempotency-Key replays the refund's answer without a second refund.
func TestRefundIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	id := e.adHocCharge(egwsim.TokenActive, 1000)
	first := e.postKeyed(e.key, "/v1/charges/"+id+"/refunds", `{"amount":300}`, "refund-1")
	require.Equal(t, http.StatusAccepted, first.status, first.body)
	requireReplay(t, first, e.postKeyed(e.key, "/v1/charges/"+id+"/refunds", `{"amount":300}`, "refund-1"))
	c := e.settledRefunds(id, 1)
	require.Equal(t, int64(300), c.AmountRefunded)
	require.Len(t, e.ledgerFor(id)[0].Refunds, 1)
}

// TestRefundCrashIsNeverSentTwice kills a real recur process with SIGKILL just before and just
// after a refund's gateway call: the next process finds the refund left sending and hands it to
// a person, and the gateway has refunded at most once.
func TestRefundCrashIsNeverSentTwice(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"before", "after"} {
		point := when + ":" + billing.StepRefund
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newProcEnv(t, egwsim.Options{})
			sub := e.subscribe(egwsim.TokenActive)
			p := e.start()
			chargeID, status := e.settled(sub)
			p.stop(t)
			require.Equal(t, billing.ChargeSucceeded, status)

			enqueuer, err := jobs.NewClient(jobs.Deps{Pool: e.pool, Logger: slog.New(slog.DiscardHandler)}, jobs.Config{InsertOnly: true})
			require.NoError(t, err)
			tx, err := e.pool.Begin(ctx)
			require.NoError(t, err)
			r, err := store.CreateRefund(ctx, tx, chargeID, nil, time.Now())
			require.NoError(t, err)
			_, err = enqueuer.InsertTx(ctx, tx, jobs.RefundChargeArgs{RefundID: r.ID}, nil)
			require.NoError(t, err)
			require.NoError(t, tx.Commit(ctx))

			e.start("RECUR_TEST_CRASH_AT=" + point).waitKilled(t)
			p = e.start()
			var got billing.RefundStatus
			require.Eventually(t, func() bool {
				err := e.pool.QueryRow(ctx, `SELECT status FROM refunds WHERE id = $1`, r.ID).Scan(&got)
				return err == nil && got != billing.RefundPending && got != billing.RefundSending
			}, 60*time.Second, 100*time.Millisecond, "the refund did not finish")
			p.stop(t)

			require.Equal(t, billing.RefundNeedsReview, got)
			var events int
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE object_id = $1 AND type = 'refund.needs_review'
				AND data->'refund'->>'id' = $2`, chargeID, r.ID.String()).Scan(&events))
			require.Equal(t, 1, events, "the refund in review was reported")
			payments := e.payments(chargeID)
			require.Len(t, payments, 1)
			sent := map[string]int{"before": 0, "after": 1}[when]
			require.Len(t, payments[0].Refunds, sent, "the refund reached the gateway %d times", sent)
		})
	}
}
