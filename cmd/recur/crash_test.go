package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// TestCrashAtEveryPhaseBoundary kills a real recur process with SIGKILL just before and just after
// each gateway call of a charge, starts a new one, and requires the charge to complete with
// exactly one captured payment.
func TestCrashAtEveryPhaseBoundary(t *testing.T) {
	t.Parallel()
	for _, step := range []string{billing.StepCheckToken, billing.StepCreatePayment, billing.StepStartSession,
		billing.StepGetPayment, billing.StepCapture} {
		for _, when := range []string{"before", "after"} {
			point := when + ":" + step
			t.Run(point, func(t *testing.T) {
				t.Parallel()
				e := newProcEnv(t, egwsim.Options{})
				sub := e.subscribe(egwsim.TokenActive)

				e.start("RECUR_TEST_CRASH_AT=" + point).waitKilled(t)
				p := e.start()
				id, status := e.settled(sub)
				p.stop(t)

				require.Equal(t, billing.ChargeSucceeded, status)
				requireCapturedOnce(t, e.payments(id), sub.Price)
			})
		}
	}
}
