package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// chargePayments returns the simulator's payments for a charge.
func chargePayments(sim *egwsim.Sim, chargeID string) []egwsim.Entry {
	var out []egwsim.Entry
	for _, p := range sim.Ledger() {
		if p.MerchantReference == "recur charge "+chargeID {
			out = append(out, p)
		}
	}
	return out
}

// TestLostAnswers loses the gateway's answer to each call that changes a payment, after the call
// took effect: the charge reconciles from the gateway's state and is captured exactly once, and
// no payment is created for a lost session or capture. A lost creation is sent again with its
// request id: a gateway that replays request ids answers with the first payment; one that does
// not makes a second, and the first stays INITIALIZED, never authorized.
func TestLostAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		op     egwsim.Operation
		fault  egwsim.Fault
		replay bool // the simulator replays request ids
	}{
		{"create reset", egwsim.OpInitiateMitPayment, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, true},
		{"create timeout", egwsim.OpInitiateMitPayment, egwsim.Fault{Kind: egwsim.KindTimeout, AfterEffect: true}, true},
		{"create reset, no replay", egwsim.OpInitiateMitPayment, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, false},
		{"session reset", egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, false},
		{"session 500", egwsim.OpCreateTokenSession, egwsim.Fault{Status: 500, AfterEffect: true}, false},
		{"capture reset", egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, false},
		{"capture timeout", egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindTimeout, AfterEffect: true}, false},
		{"capture 409", egwsim.OpCapture, egwsim.Fault{Status: 409, AfterEffect: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnvWith(t, egwsim.Options{ReplayRequestIDs: c.replay})
			e.sim.FailNext(c.op, c.fault)
			charge := e.settledCharges(e.subscribe(egwsim.TokenActive), 1)[0]
			require.Equal(t, "succeeded", charge.Status)
			require.Len(t, e.sim.Faults(), 1, "the fault struck")

			var unknown int
			for _, s := range charge.Attempts[0].Steps {
				if s.Outcome == gateway.UnknownOutcome.String() {
					unknown++
				}
			}
			require.Equal(t, 1, unknown, "the lost answer is recorded as an unknown outcome")

			payments := chargePayments(e.sim, charge.ID)
			requireCapturedOnce(t, payments, billing.Money{Amount: 1250, Currency: "EUR"})
			if c.replay || c.op != egwsim.OpInitiateMitPayment {
				require.Len(t, payments, 1, "no new payment for the lost one")
			} else {
				require.Len(t, payments, 2, "a second creation, the first never authorized")
			}
		})
	}
}

// TestDuplicateRunWhileFirstInFlight starts a second run of a charge's job while the first one
// waits on the gateway (as when River rescues a job whose process only seems dead): the second
// run does nothing, and the charge is captured once. The held capture outlasts the client's
// timeout, so the first run ends unknown and the charge is reconciled too.
func TestDuplicateRunWhileFirstInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	e.sim.FailNext(egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindLatency, Duration: 6 * time.Second})
	subID := e.subscribe(egwsim.TokenActive)

	var chargeID uuid.UUID
	require.Eventually(t, func() bool {
		err := e.db.QueryRow(ctx, `
			SELECT a.charge_id FROM charge_steps s JOIN charge_attempts a ON a.id = s.attempt_id
			WHERE s.step = 'capture' AND s.finished_at IS NULL`).Scan(&chargeID)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the first run never reached its capture")
	steps := e.stepCount(chargeID)

	events, cancel := e.river.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	dup, err := e.river.Insert(ctx, dupCollect{ChargeID: chargeID}, nil)
	require.NoError(t, err)
	for ev := range events {
		if ev.Job.ID == dup.Job.ID {
			break
		}
	}
	require.Equal(t, steps, e.stepCount(chargeID), "the second run made no gateway call")
	var inFlight bool
	require.NoError(t, e.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM charge_steps WHERE step = 'capture' AND finished_at IS NULL)`).Scan(&inFlight))
	require.True(t, inFlight, "the second run ran while the first was in flight")

	charge := e.settledCharges(subID, 1)[0]
	require.Equal(t, "succeeded", charge.Status)
	requireCapturedOnce(t, chargePayments(e.sim, charge.ID), billing.Money{Amount: 1250, Currency: "EUR"})
}

// stepCount counts the gateway steps recorded for a charge.
func (e *testEnv) stepCount(chargeID uuid.UUID) int {
	var n int
	require.NoError(e.t, e.db.QueryRow(context.Background(), `
		SELECT count(*) FROM charge_steps s JOIN charge_attempts a ON a.id = s.attempt_id WHERE a.charge_id = $1`,
		chargeID).Scan(&n))
	return n
}

// TestJanitorCollectsAChargeWhoseJobWasLost stores a due charge without its job, as if the job
// had been deleted or discarded: the janitor finds it once no run has held it for a while, and it
// is collected.
func TestJanitorCollectsAChargeWhoseJobWasLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	e.sim.AddToken(egwsim.Token{Token: gateway.Token{ID: "tok_lost_job", Status: gateway.TokenActive,
		Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "1111", ExpiryMonth: 1, ExpiryYear: 2099}})
	sub := storetest.Subscription(t, e.db, storetest.SubscriptionOpts{Start: e.clock.Now().Add(time.Hour), TokenID: "tok_lost_job"})
	c := sub.BillNextPeriod(billing.NewID(), e.clock.Now())
	c.BillingRunID = nil
	require.NoError(t, store.AdvanceSubscriptions(ctx, e.db, []billing.Subscription{sub}, e.clock.Now()))
	_, err := store.InsertCharges(ctx, e.db, []billing.Charge{c})
	require.NoError(t, err)

	charge := e.settledCharges(sub.ID.String(), 1)[0]
	require.Equal(t, "succeeded", charge.Status)
	requireCapturedOnce(t, chargePayments(e.sim, charge.ID), sub.Price)
}
