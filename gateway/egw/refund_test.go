package egw_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// POST refunds is documented by EGW outside the OpenAPI document, so the contract harness cannot
// validate it: these tests run the client against the simulator without it.

// plainClient is a client of a fresh simulator, with no contract validation.
func plainClient(t *testing.T) (*egw.Client, *egwsim.Sim) {
	t.Helper()
	clock := billing.NewManualClock(time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC))
	sim := egwsim.New(egwsim.Options{Clock: clock}, nil)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := egw.New(egw.Config{BaseURL: srv.URL, TokenURL: srv.URL + "/oauth2/token",
		ClientID: egwsim.DefaultClientID, ClientSecret: egwsim.DefaultClientSecret,
		ParticipantID: egwsim.DefaultParticipantID, ShopAgreementID: egwsim.DefaultShopAgreementID}, nil)
	require.NoError(t, err)
	return c, sim
}

// authorize creates a payment of amount and authorizes it with the active token.
func authorize(t *testing.T, c *egw.Client, amount billing.Money) gateway.Payment {
	t.Helper()
	p, err := c.CreateMITPayment(t.Context(), gateway.MITPaymentRequest{Channel: gateway.ChannelMerchant, Amount: amount, OrderNumber: "R1"})
	require.NoError(t, err)
	_, err = c.StartTokenSession(t.Context(), p.ID, egwsim.TokenActive)
	require.NoError(t, err)
	return p
}

func TestRefundPartlyThenFully(t *testing.T) {
	t.Parallel()
	c, sim := plainClient(t)
	ctx := t.Context()
	p := authorize(t, c, eur(1000))
	_, err := c.Capture(ctx, p.ID, eur(1000))
	require.NoError(t, err)

	r, err := c.Refund(ctx, p.ID, eur(300))
	require.NoError(t, err)
	require.Equal(t, p.ID, r.PaymentID)
	require.NotEmpty(t, r.ID)
	require.Equal(t, egwsim.RefundRefunded, r.Status)
	e, _ := sim.Payment(p.ID)
	require.Equal(t, gateway.PaymentCaptured, e.Status, "partly refunded")
	require.Equal(t, eur(300), e.Refunded)

	// More than is left is refused, and changes nothing.
	_, err = c.Refund(ctx, p.ID, eur(701))
	requireClass(t, err, gateway.Permanent, http.StatusBadRequest, egwsim.CodeAmountExceedsCaptured)

	r2, err := c.Refund(ctx, p.ID, eur(700))
	require.NoError(t, err)
	require.NotEqual(t, r.ID, r2.ID)
	e, _ = sim.Payment(p.ID)
	require.Equal(t, gateway.PaymentRefunded, e.Status, "refunded in full")
	require.Equal(t, eur(1000), e.Refunded)
	require.Equal(t, eur(1000), e.Captured, "the capture stays on the record")
	require.Len(t, e.Refunds, 2)

	got, err := c.GetPayment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentRefunded, got.Status)
	_, err = c.Refund(ctx, p.ID, eur(1))
	requireClass(t, err, gateway.Permanent, http.StatusBadRequest, egwsim.CodeAmountExceedsCaptured)
}

func TestRefundOfAnUncapturedPaymentCancelsIt(t *testing.T) {
	t.Parallel()
	c, sim := plainClient(t)
	p := authorize(t, c, eur(500))
	r, err := c.Refund(t.Context(), p.ID, eur(500))
	require.NoError(t, err)
	require.Equal(t, egwsim.RefundCancelled, r.Status)
	e, _ := sim.Payment(p.ID)
	require.Equal(t, gateway.PaymentCancelled, e.Status)
	require.True(t, e.Cancelled)
	require.Zero(t, e.Captured.Amount)
	require.Zero(t, e.Refunded.Amount)
}

func TestRefundOfAnUnknownPaymentIsNotFound(t *testing.T) {
	t.Parallel()
	c, _ := plainClient(t)
	_, err := c.Refund(t.Context(), "no-such-payment", eur(1))
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
}
