package egw_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// Every kind of fault that the simulator injects, seen through the client over HTTP: the class of
// the error, and what the simulator's ledger shows actually happened.
func TestContractFaultsAreClassified(t *testing.T) {
	t.Parallel()
	const none gateway.PaymentStatus = "" // no payment in the ledger
	timeout := egwsim.Fault{Kind: egwsim.KindTimeout}
	reset := egwsim.Fault{Kind: egwsim.KindReset}
	for _, tc := range []struct {
		name   string
		op     egwsim.Operation
		fault  egwsim.Fault
		class  gateway.Class
		status int
		code   string
		then   gateway.PaymentStatus // the payment's status in the ledger afterwards
	}{
		{"503 before create", egwsim.OpInitiateMitPayment, egwsim.Fault{}, gateway.Transient, 503, egwsim.CodeSimulatedFault, none},
		{"400 before create", egwsim.OpInitiateMitPayment, egwsim.Fault{Status: 400}, gateway.Permanent, 400, egwsim.CodeSimulatedFault, none},
		{"500 after create", egwsim.OpInitiateMitPayment, egwsim.Fault{AfterEffect: true}, gateway.UnknownOutcome, 500, egwsim.CodeSimulatedFault, gateway.PaymentInitialized},
		{"403 before session", egwsim.OpCreateTokenSession, egwsim.Fault{Status: 403}, gateway.Permanent, 403, egwsim.CodeSimulatedFault, gateway.PaymentInitialized},
		{"409 before capture", egwsim.OpCapture, egwsim.Fault{Status: 409}, gateway.UnknownOutcome, 409, egwsim.CodeSimulatedFault, gateway.PaymentAuthorized},
		{"404 before cancel", egwsim.OpCancel, egwsim.Fault{Status: 404}, gateway.Permanent, 404, egwsim.CodeSimulatedFault, gateway.PaymentAuthorized},
		{"409 after capture", egwsim.OpCapture, egwsim.Fault{Status: 409, AfterEffect: true}, gateway.UnknownOutcome, 409, egwsim.CodeSimulatedFault, gateway.PaymentCaptured},
		{"timeout before create", egwsim.OpInitiateMitPayment, timeout, gateway.UnknownOutcome, 0, "", none},
		{"timeout after create", egwsim.OpInitiateMitPayment, egwsim.Fault{Kind: egwsim.KindTimeout, AfterEffect: true}, gateway.UnknownOutcome, 0, "", gateway.PaymentInitialized},
		{"timeout before session", egwsim.OpCreateTokenSession, timeout, gateway.UnknownOutcome, 0, "", gateway.PaymentInitialized},
		{"timeout after capture", egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindTimeout, AfterEffect: true}, gateway.UnknownOutcome, 0, "", gateway.PaymentCaptured},
		{"timeout on get", egwsim.OpGetPayment, timeout, gateway.Transient, 0, "", gateway.PaymentAuthorized},
		{"reset before create", egwsim.OpInitiateMitPayment, reset, gateway.UnknownOutcome, 0, "", none},
		{"reset after session", egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, gateway.UnknownOutcome, 0, "", gateway.PaymentAuthorized},
		{"reset after capture", egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, gateway.UnknownOutcome, 0, "", gateway.PaymentCaptured},
		{"reset after cancel", egwsim.OpCancel, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true}, gateway.UnknownOutcome, 0, "", gateway.PaymentCancelled},
		{"soft decline", egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindDecline}, gateway.Declined, 400, egw.CodeInsufficientFunds, gateway.PaymentFailed},
		{"hard decline", egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindDecline, Code: egw.CodeDoNotHonor}, gateway.Declined, 400, egw.CodeDoNotHonor, gateway.PaymentFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, egwsim.Options{})
			ctx := t.Context()
			var p gateway.Payment // the payment that the call acts on
			switch tc.op {
			case egwsim.OpInitiateMitPayment:
			case egwsim.OpCreateTokenSession:
				p = h.mit(t, gateway.ChannelRecurring, eur(1000))
			default:
				p = h.authorized(t, eur(1000))
			}
			h.sim.FailNext(tc.op, tc.fault)
			client := h.client
			if tc.fault.Kind == egwsim.KindTimeout { // a client that gives up on a held request soon
				cfg := h.cfg
				cfg.Timeout = 200 * time.Millisecond
				var err error
				client, err = egw.New(cfg, nil)
				require.NoError(t, err)
			}

			var err error
			switch tc.op {
			case egwsim.OpInitiateMitPayment:
				_, err = client.CreateMITPayment(ctx, gateway.MITPaymentRequest{Channel: gateway.ChannelRecurring, Amount: eur(1000), OrderNumber: "R1"})
			case egwsim.OpCreateTokenSession:
				_, err = client.StartTokenSession(ctx, p.ID, egwsim.TokenActive)
			case egwsim.OpCapture:
				_, err = client.Capture(ctx, p.ID, eur(1000))
			case egwsim.OpCancel:
				_, err = client.Cancel(ctx, p.ID)
			case egwsim.OpGetPayment:
				_, err = client.GetPayment(ctx, p.ID)
			}
			requireClass(t, err, tc.class, tc.status, tc.code)

			faults := h.sim.Faults()
			require.Len(t, faults, 1)
			require.Equal(t, tc.op, faults[0].Op)
			require.Equal(t, egwsim.FromNext, faults[0].Source)
			require.Equal(t, p.ID, faults[0].PaymentID)
			if tc.then == none {
				require.Empty(t, h.sim.Ledger())
				return
			}
			// A call whose client gave up is carried out all the same, perhaps only now.
			require.Eventually(t, func() bool {
				ledger := h.sim.Ledger()
				return len(ledger) == 1 && ledger[0].Status == tc.then
			}, 5*time.Second, 5*time.Millisecond, "the payment should end %s: %+v", tc.then, h.sim.Ledger())
		})
	}
}

// A latency fault delays a call without failing it.
func TestContractLatencyFault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	p := h.authorized(t, eur(700))
	h.sim.FailNext(egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindLatency, Duration: 20 * time.Millisecond})
	_, err := h.client.Capture(t.Context(), p.ID, eur(700))
	require.NoError(t, err)
	faults := h.sim.Faults()
	require.Len(t, faults, 1)
	require.Equal(t, egwsim.Fault{Kind: egwsim.KindLatency, Duration: 20 * time.Millisecond}, faults[0].Fault)
}

// Payments that stay SENT_FOR_PROCESSING, for good or for a while, by fault or by token: GET
// keeps saying so, and capture is a conflict.
func TestContractPaymentsStayProcessing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()
	stuck := h.mit(t, gateway.ChannelRecurring, eur(300))
	slow := h.mit(t, gateway.ChannelRecurring, eur(300))
	byToken := h.mit(t, gateway.ChannelRecurring, eur(300))

	h.sim.FailNext(egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindProcessing, Duration: egwsim.Forever})
	h.sim.FailNext(egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindProcessing, Duration: time.Hour})
	for _, c := range []struct{ payment, token string }{{stuck.ID, egwsim.TokenActive}, {slow.ID, egwsim.TokenActive}, {byToken.ID, egwsim.TokenProcessing}} {
		s, err := h.client.StartTokenSession(ctx, c.payment, c.token)
		require.NoError(t, err)
		require.Equal(t, gateway.SessionSentForProcessing, s.Status)
	}
	status := func(id string) gateway.PaymentStatus {
		p, err := h.client.GetPayment(ctx, id)
		require.NoError(t, err)
		return p.Status
	}
	for range 3 {
		require.Equal(t, gateway.PaymentSentForProcessing, status(stuck.ID))
		require.Equal(t, gateway.PaymentSentForProcessing, status(byToken.ID))
	}
	_, err := h.client.Capture(ctx, stuck.ID, eur(300))
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)

	h.clock.Advance(time.Hour)
	require.Equal(t, gateway.PaymentAuthorized, status(slow.ID))
	h.clock.Advance(100 * 365 * 24 * time.Hour)
	require.Equal(t, gateway.PaymentSentForProcessing, status(stuck.ID))
	require.Equal(t, gateway.PaymentSentForProcessing, status(byToken.ID))
}

// A decline fault goes through the processing delay like the issuer's answer it stands for.
func TestContractDeclineFaultAfterProcessing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{ProcessingDelay: time.Minute})
	p := h.mit(t, gateway.ChannelRecurring, eur(300))
	h.sim.FailNext(egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindDecline})
	s, err := h.client.StartTokenSession(t.Context(), p.ID, egwsim.TokenActive)
	require.NoError(t, err)
	require.Equal(t, gateway.SessionSentForProcessing, s.Status)
	h.clock.Advance(time.Minute)
	got, err := h.client.GetPayment(t.Context(), p.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentFailed, got.Status)
	e, _ := h.sim.Payment(p.ID)
	require.Equal(t, egw.CodeInsufficientFunds, e.DeclineCode)
}
