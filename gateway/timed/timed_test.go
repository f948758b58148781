package timed_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/timed"
)

// stub answers every call with err (nil: success).
type stub struct{ err error }

func (s stub) GetToken(context.Context, string) (gateway.Token, error) { return gateway.Token{}, s.err }
func (s stub) CreateMITPayment(context.Context, gateway.MITPaymentRequest) (gateway.Payment, error) {
	return gateway.Payment{ID: "p1"}, s.err
}
func (s stub) StartTokenSession(context.Context, string, string) (gateway.Session, error) {
	return gateway.Session{}, s.err
}
func (s stub) GetPayment(context.Context, string) (gateway.Payment, error) {
	return gateway.Payment{}, s.err
}
func (s stub) Capture(context.Context, string, billing.Money) (gateway.Payment, error) {
	return gateway.Payment{}, s.err
}
func (s stub) Cancel(context.Context, string) (gateway.Payment, error) {
	return gateway.Payment{}, s.err
}
func (s stub) Refund(context.Context, string, billing.Money) (gateway.Refund, error) {
	return gateway.Refund{}, s.err
}
func (s stub) CreateCITPayment(context.Context, gateway.CITPaymentRequest) (gateway.Payment, error) {
	return gateway.Payment{}, s.err
}
func (s stub) DeactivateToken(context.Context, string) (gateway.TokenStatus, error) {
	return gateway.TokenSuspended, s.err
}

func TestEveryCallIsRecordedWithItsOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	var calls []timed.Call
	record := func(c timed.Call) { mu.Lock(); calls = append(calls, c); mu.Unlock() }

	var gw gateway.Gateway = timed.New(stub{}, record)
	p, err := gw.CreateMITPayment(ctx, gateway.MITPaymentRequest{})
	require.NoError(t, err)
	require.Equal(t, "p1", p.ID, "answers pass through")
	_, _ = gw.GetToken(ctx, "t")
	_, _ = gw.StartTokenSession(ctx, "p1", "t")
	_, _ = gw.GetPayment(ctx, "p1")
	_, _ = gw.Capture(ctx, "p1", billing.Money{})
	_, _ = gw.Cancel(ctx, "p1")
	_, _ = gw.CreateCITPayment(ctx, gateway.CITPaymentRequest{})
	_, _ = gw.DeactivateToken(ctx, "t")

	declined := &gateway.Error{Class: gateway.Declined, Op: "x", Status: 402, Code: "AUTHORIZATION_DECLINED"}
	_, err = timed.New(stub{err: declined}, record).StartTokenSession(ctx, "p1", "t")
	require.ErrorIs(t, err, declined)
	_, _ = timed.New(stub{err: context.DeadlineExceeded}, record).GetPayment(ctx, "p1")

	var ops []string
	for _, c := range calls[:8] {
		require.Equal(t, "ok", c.Outcome)
		require.Zero(t, c.Status)
		ops = append(ops, c.Op)
	}
	require.Equal(t, []string{"create_mit_payment", "get_token", "start_token_session", "get_payment", "capture", "cancel",
		"create_cit_payment", "deactivate_token"}, ops)
	require.Equal(t, timed.Call{Op: "start_token_session", Outcome: "declined", Status: 402, Duration: calls[8].Duration}, calls[8])
	require.Equal(t, "unknown_outcome", calls[9].Outcome)
	require.Zero(t, calls[9].Status)
}
