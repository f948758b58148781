// Package timed wraps a gateway.Gateway to report how long each call took and how it ended, for
// metrics. It knows nothing of any metrics library: the caller supplies the function that records.
package timed

import (
	"context"
	"errors"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
)

// Call is one finished gateway call.
type Call struct {
	// Op is the operation: get_token, create_mit_payment, start_token_session, get_payment,
	// capture, cancel, refund, create_cit_payment or deactivate_token.
	Op string
	// Outcome is "ok", or the class of the error (transient, unknown_outcome, declined, permanent).
	Outcome string
	// Status is the HTTP status of a failed call, 0 when the call succeeded or no answer came.
	Status   int
	Duration time.Duration
}

// Gateway is a gateway.Gateway that reports every call of the one it wraps.
type Gateway struct {
	next   gateway.Gateway
	record func(Call)
}

// New wraps next; record is called after every call and must be safe for concurrent use.
func New(next gateway.Gateway, record func(Call)) *Gateway {
	return &Gateway{next: next, record: record}
}

// GetToken calls the wrapped gateway's GetToken.
func (g *Gateway) GetToken(ctx context.Context, tokenID string) (gateway.Token, error) {
	return timeCall(g, "get_token", func() (gateway.Token, error) { return g.next.GetToken(ctx, tokenID) })
}

// CreateMITPayment calls the wrapped gateway's CreateMITPayment.
func (g *Gateway) CreateMITPayment(ctx context.Context, req gateway.MITPaymentRequest) (gateway.Payment, error) {
	return timeCall(g, "create_mit_payment", func() (gateway.Payment, error) { return g.next.CreateMITPayment(ctx, req) })
}

// StartTokenSession calls the wrapped gateway's StartTokenSession.
func (g *Gateway) StartTokenSession(ctx context.Context, paymentID, tokenID string) (gateway.Session, error) {
	return timeCall(g, "start_token_session", func() (gateway.Session, error) {
		return g.next.StartTokenSession(ctx, paymentID, tokenID)
	})
}

// GetPayment calls the wrapped gateway's GetPayment.
func (g *Gateway) GetPayment(ctx context.Context, paymentID string) (gateway.Payment, error) {
	return timeCall(g, "get_payment", func() (gateway.Payment, error) { return g.next.GetPayment(ctx, paymentID) })
}

// Capture calls the wrapped gateway's Capture.
func (g *Gateway) Capture(ctx context.Context, paymentID string, amount billing.Money) (gateway.Payment, error) {
	return timeCall(g, "capture", func() (gateway.Payment, error) { return g.next.Capture(ctx, paymentID, amount) })
}

// Cancel calls the wrapped gateway's Cancel.
func (g *Gateway) Cancel(ctx context.Context, paymentID string) (gateway.Payment, error) {
	return timeCall(g, "cancel", func() (gateway.Payment, error) { return g.next.Cancel(ctx, paymentID) })
}

// Refund calls the wrapped gateway's Refund.
func (g *Gateway) Refund(ctx context.Context, paymentID string, amount billing.Money) (gateway.Refund, error) {
	return timeCall(g, "refund", func() (gateway.Refund, error) { return g.next.Refund(ctx, paymentID, amount) })
}

// CreateCITPayment calls the wrapped gateway's CreateCITPayment.
func (g *Gateway) CreateCITPayment(ctx context.Context, req gateway.CITPaymentRequest) (gateway.Payment, error) {
	return timeCall(g, "create_cit_payment", func() (gateway.Payment, error) { return g.next.CreateCITPayment(ctx, req) })
}

// DeactivateToken calls the wrapped gateway's DeactivateToken.
func (g *Gateway) DeactivateToken(ctx context.Context, tokenID string) (gateway.TokenStatus, error) {
	return timeCall(g, "deactivate_token", func() (gateway.TokenStatus, error) { return g.next.DeactivateToken(ctx, tokenID) })
}

// timeCall runs call and records it as op.
func timeCall[T any](g *Gateway, op string, call func() (T, error)) (T, error) {
	start := time.Now()
	v, err := call()
	c := Call{Op: op, Outcome: "ok", Duration: time.Since(start)}
	if err != nil {
		c.Outcome = gateway.ClassOf(err).String()
		var ge *gateway.Error
		if errors.As(err, &ge) {
			c.Status = ge.Status
		}
	}
	g.record(c)
	return v, err
}
