package egw_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// TestContractRepeatedRequestID sends a payment creation twice with one request id: a simulator
// that replays request ids answers with the first payment; by default it creates two.
func TestContractRepeatedRequestID(t *testing.T) {
	t.Parallel()
	for _, replay := range []bool{true, false} {
		h := newHarness(t, egwsim.Options{ReplayRequestIDs: replay})
		ctx := gateway.WithRequestID(t.Context(), uuid.NewString())
		req := gateway.MITPaymentRequest{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: "R1"}
		first, err := h.client.CreateMITPayment(ctx, req)
		require.NoError(t, err)
		again, err := h.client.CreateMITPayment(ctx, req)
		require.NoError(t, err)
		require.Equal(t, replay, first.ID == again.ID, "replay %v", replay)
		want := 2
		if replay {
			want = 1
		}
		require.Len(t, h.sim.Ledger(), want, "replay %v", replay)
	}
}
