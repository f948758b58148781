package egw

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
)

// CreateMITPayment creates a merchant-initiated payment for the configured participant and shop.
func (c *Client) CreateMITPayment(ctx context.Context, req gateway.MITPaymentRequest) (gateway.Payment, error) {
	const op = "create_mit_payment"
	amount, err := AmountOf(req.Amount)
	if err != nil {
		return gateway.Payment{}, &gateway.Error{Class: gateway.Permanent, Op: op, Err: err}
	}
	if !ValidOrderNumber(req.OrderNumber) {
		return gateway.Payment{}, &gateway.Error{Class: gateway.Permanent, Op: op, Err: fmt.Errorf("order number %q is not 1-255 of a-zA-Z0-9/-?:().,'+", req.OrderNumber)}
	}
	in := InitiateMitPaymentRequest{
		Channel:           req.Channel,
		InstructedAmount:  amount,
		OrderNumber:       req.OrderNumber,
		MerchantReference: req.MerchantReference,
		ParticipantID:     c.cfg.ParticipantID,
		ShopAgreementID:   c.cfg.ShopAgreementID,
	}
	var r InitiatePaymentResponse
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: "payments/mit", in: in, out: &r}); err != nil {
		return gateway.Payment{}, err
	}
	// The answer echoes the amount; the request's is the one Recur asked for.
	return gateway.Payment{ID: r.PaymentID, Status: r.PaymentStatus, Channel: req.Channel, Amount: req.Amount}, nil
}

// CreateCITPayment creates a customer-initiated payment (channel BROWSER) that the customer
// completes in EGW's hosted checkout, at the answer's checkoutRedirect link.
func (c *Client) CreateCITPayment(ctx context.Context, req gateway.CITPaymentRequest) (gateway.Payment, error) {
	const op = "create_cit_payment"
	amount, err := AmountOf(req.Amount)
	switch {
	case err != nil:
	case !ValidOrderNumber(req.OrderNumber):
		err = fmt.Errorf("order number %q is not 1-255 of a-zA-Z0-9/-?:().,'+", req.OrderNumber)
	case req.ReturnURL == "":
		err = fmt.Errorf("a return URL is required")
	}
	if err != nil {
		return gateway.Payment{}, &gateway.Error{Class: gateway.Permanent, Op: op, Err: err}
	}
	in := InitiateCitPaymentRequest{
		Channel:           gateway.ChannelBrowser,
		InstructedAmount:  amount,
		OrderNumber:       req.OrderNumber,
		MerchantReference: req.MerchantReference,
		ParticipantID:     c.cfg.ParticipantID,
		ShopAgreementID:   c.cfg.ShopAgreementID,
		ShopRedirectURL:   req.ReturnURL,
	}
	if len(req.SetupPurposes) > 0 {
		in.SetupToken = &SetupToken{Purposes: req.SetupPurposes, Required: true}
	}
	var r InitiatePaymentResponse
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: "payments/cit", in: in, out: &r}); err != nil {
		return gateway.Payment{}, err
	}
	if r.Links == nil || r.Links.CheckoutRedirect == nil || r.Links.CheckoutRedirect.Href == "" {
		return gateway.Payment{}, undecodable(op, http.StatusOK, true, fmt.Errorf("no checkoutRedirect link: %w", errIncomplete))
	}
	return gateway.Payment{ID: r.PaymentID, Status: r.PaymentStatus, Channel: gateway.ChannelBrowser, Amount: req.Amount,
		CheckoutURL: r.Links.CheckoutRedirect.Href}, nil
}

// StartTokenSession pays the payment with the stored token. A declined authorization is a
// *gateway.Error of class Declined; SENT_FOR_PROCESSING means that the outcome must be read
// later with GetPayment.
func (c *Client) StartTokenSession(ctx context.Context, paymentID, tokenID string) (gateway.Session, error) {
	var r CheckoutSessionInformationResponse
	err := c.do(ctx, call{
		op: "start_token_session", method: http.MethodPost, path: paymentPath(paymentID, "sessions/token"),
		in: CreateTokenCheckoutSessionRequest{GatewayTokenID: tokenID}, out: &r,
	})
	if err != nil {
		return gateway.Session{}, err
	}
	return gateway.Session{ID: r.SessionID, Status: r.SessionStatus}, nil
}

// GetPayment reads a payment's current state.
func (c *Client) GetPayment(ctx context.Context, paymentID string) (gateway.Payment, error) {
	const op = "get_payment"
	var r PaymentInformationResponse
	// The contract requires the queryParams object; as a form-style exploded object it is sent as
	// its properties.
	q := url.Values{"withCheckoutBranding": {"false"}}
	if err := c.do(ctx, call{op: op, method: http.MethodGet, path: paymentPath(paymentID, ""), query: q, out: &r}); err != nil {
		return gateway.Payment{}, err
	}
	p := gateway.Payment{ID: r.PaymentID, Status: r.PaymentStatus, Channel: r.Channel}
	if r.InstructedAmount != nil {
		m, err := r.InstructedAmount.Money()
		if err != nil {
			return gateway.Payment{}, undecodable(op, http.StatusOK, false, err)
		}
		p.Amount = m
	}
	if pm := r.PaymentMethod; pm != nil {
		p.TokenID = pm.GatewayTokenID
		if pm.Card != nil {
			p.Brand, p.Last4 = pm.Card.Brand, pm.Card.LastFourDigits
		}
	}
	return p, nil
}

// Capture captures an AUTHORIZED payment for amount, which must not exceed the authorized
// amount. EGW answers with the payment's id and status only, so the other fields are zero.
func (c *Client) Capture(ctx context.Context, paymentID string, amount billing.Money) (gateway.Payment, error) {
	const op = "capture"
	a, err := AmountOf(amount)
	if err != nil {
		return gateway.Payment{}, &gateway.Error{Class: gateway.Permanent, Op: op, Err: err}
	}
	return c.changeStatus(ctx, op, paymentID, "capture", CapturePaymentRequest{InstructedAmount: a})
}

// Cancel releases an INITIALIZED or AUTHORIZED payment. EGW answers with the payment's id and
// status only, so the other fields are zero.
func (c *Client) Cancel(ctx context.Context, paymentID string) (gateway.Payment, error) {
	return c.changeStatus(ctx, "cancel", paymentID, "cancel", CancelPaymentRequest{})
}

// Refund gives amount of a captured payment back, through POST refunds. The endpoint is in EGW's
// public documentation but not in the OpenAPI document: {paymentId, instructedAmount} ->
// {paymentId, refundId, refundStatus}. A refund of a payment not yet captured cancels it.
func (c *Client) Refund(ctx context.Context, paymentID string, amount billing.Money) (gateway.Refund, error) {
	const op = "refund"
	a, err := AmountOf(amount)
	if err != nil {
		return gateway.Refund{}, &gateway.Error{Class: gateway.Permanent, Op: op, Err: err}
	}
	var r RefundResponse
	err = c.do(ctx, call{op: op, method: http.MethodPost, path: "refunds", in: RefundRequest{PaymentID: paymentID, InstructedAmount: a}, out: &r})
	if err != nil {
		return gateway.Refund{}, err
	}
	return gateway.Refund{ID: r.RefundID, PaymentID: r.PaymentID, Status: r.RefundStatus}, nil
}

// changeStatus sends the PATCH that capture and cancel share.
func (c *Client) changeStatus(ctx context.Context, op, paymentID, action string, in any) (gateway.Payment, error) {
	var r PaymentStatusResponse
	if err := c.do(ctx, call{op: op, method: http.MethodPatch, path: paymentPath(paymentID, action), in: in, out: &r}); err != nil {
		return gateway.Payment{}, err
	}
	return gateway.Payment{ID: r.PaymentID, Status: r.PaymentStatus}, nil
}

// paymentPath is payments/{paymentId}[/action].
func paymentPath(paymentID, action string) string {
	p := "payments/" + url.PathEscape(paymentID)
	if action != "" {
		p += "/" + action
	}
	return p
}
