package egwsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
)

// payment is a payment's ledger entry and what the simulator needs to move it on.
type payment struct {
	Entry
	card     gateway.Token // the token as it was at the session
	settleAt time.Time     // when SENT_FOR_PROCESSING ends; zero: never
	decline  string        // the code it fails with then, if any
	text     string        // and why
	checkout *checkout     // a CIT payment's hosted checkout; nil for MIT payments
}

// find returns the payment with id, moved on to the simulator's present, or nil.
// The caller holds s.mu.
func (s *Sim) find(id string) *payment {
	p := s.payments[id]
	if p == nil || p.Status != gateway.PaymentSentForProcessing || p.settleAt.IsZero() {
		return p
	}
	if now := s.opts.Clock.Now(); !now.Before(p.settleAt) {
		if p.decline != "" {
			p.Status, p.DeclineCode, p.FailedAt = gateway.PaymentFailed, p.decline, p.settleAt
		} else {
			p.Status, p.Authorized, p.AuthorizedAt = gateway.PaymentAuthorized, p.Instructed, p.settleAt
		}
	}
	return p
}

func (s *Sim) initiateMIT(r request) reply {
	var req egw.InitiateMitPaymentRequest
	if err := json.Unmarshal(r.body, &req); err != nil {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "malformed body: %v", err)
	}
	amount, err := req.InstructedAmount.Money()
	switch {
	case req.Channel != gateway.ChannelRecurring && req.Channel != gateway.ChannelMerchant:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "channel %q is not RECURRING or MERCHANT", req.Channel)
	case err != nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "instructedAmount: %v", err)
	case amount.Amount <= 0:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "instructedAmount must be positive")
	case !egw.ValidOrderNumber(req.OrderNumber):
		return fail(http.StatusBadRequest, CodeInvalidRequest, "orderNumber %q is empty, too long or has characters outside [a-zA-Z0-9/-?:().,'+]", req.OrderNumber)
	case len(req.MerchantReference) > 255:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "merchantReference is longer than 255")
	case req.ParticipantID == "" || req.ShopAgreementID == "":
		return fail(http.StatusBadRequest, CodeInvalidRequest, "participantId and shopAgreementId are required")
	case req.ParticipantID != s.opts.ParticipantID || req.ShopAgreementID != s.opts.ShopAgreementID:
		return fail(http.StatusForbidden, CodeForbidden, "participant %q has no shop agreement %q", req.ParticipantID, req.ShopAgreementID)
	}
	zero := billing.Money{Currency: amount.Currency}
	p := &payment{Entry: Entry{
		PaymentID:         uuid.NewString(),
		OrderNumber:       req.OrderNumber,
		MerchantReference: req.MerchantReference,
		Channel:           req.Channel,
		Status:            gateway.PaymentInitialized,
		Instructed:        amount,
		Authorized:        zero,
		Captured:          zero,
		CreatedAt:         s.opts.Clock.Now(),
	}}
	s.payments[p.PaymentID] = p
	s.order = append(s.order, p.PaymentID)
	return ok(s.initiateResponse(p))
}

func (s *Sim) startSession(r request) reply {
	var req egw.CreateTokenCheckoutSessionRequest
	if err := json.Unmarshal(r.body, &req); err != nil || req.GatewayTokenID == "" {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "gatewayTokenId is required")
	}
	p := s.find(r.PathValue("paymentId"))
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "payment %s not found", r.PathValue("paymentId"))
	}
	if p.Status != gateway.PaymentInitialized {
		return fail(http.StatusConflict, CodeInvalidState, "payment %s is %s: it takes a token session only when INITIALIZED", p.PaymentID, p.Status)
	}
	t, found := s.token(req.GatewayTokenID)
	if !found {
		return fail(http.StatusNotFound, CodeNotFound, "token %s not found", req.GatewayTokenID)
	}
	delay, decline := s.opts.ProcessingDelay, t.DeclineCode
	if t.DeclineTimes > 0 && decline != "" {
		t.DeclineTimes-- // the token declines that many times fewer from now on
		if t.DeclineTimes == 0 {
			t.DeclineCode = ""
		}
		s.tokens[t.ID] = t
	}
	if t.ProcessingFor != 0 {
		delay = t.ProcessingFor
	}
	switch r.fault.Kind {
	case KindProcessing:
		delay = r.fault.Duration
	case KindDecline:
		decline = r.fault.Code
	}
	now := s.opts.Clock.Now()
	p.TokenID, p.card, p.SessionAt, p.Status = t.ID, t.Token, now, gateway.PaymentSentForProcessing
	if delay != Forever {
		p.settleAt = now.Add(delay)
	}
	if code, text := refusal(t, p.Channel, now); code != "" {
		p.settleAt, p.decline, p.text = now, code, text // refused at once, whatever the delay
	} else if decline != "" {
		p.decline, p.text = decline, "the issuer declined the authorization"
	}
	s.find(p.PaymentID) // settles at once without a delay, or when the gateway refused
	s.changed(p.PaymentID)
	switch p.Status {
	case gateway.PaymentFailed:
		return fail(http.StatusBadRequest, p.decline, "%s", p.text)
	case gateway.PaymentSentForProcessing:
		return ok(egw.CheckoutSessionInformationResponse{SessionID: uuid.NewString(), SessionStatus: gateway.SessionSentForProcessing})
	default:
		return ok(egw.CheckoutSessionInformationResponse{SessionID: uuid.NewString(), SessionStatus: gateway.SessionCompleted})
	}
}

func (s *Sim) getPayment(r request) reply {
	p := s.find(r.PathValue("paymentId"))
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "payment %s not found", r.PathValue("paymentId"))
	}
	info := egw.PaymentInformationResponse{
		InitiatePaymentResponse: s.initiateResponse(p),
		Channel:                 p.Channel,
		MerchantReference:       p.MerchantReference,
	}
	if p.Refunded.Amount > 0 {
		refunded, _ := egw.AmountOf(p.Refunded)
		info.RefundedAmount = &refunded
	}
	if p.TokenID != "" {
		info.PaymentMethod = &egw.PaymentMethod{Type: "CARD", GatewayTokenID: p.TokenID, Card: &egw.Card{
			Brand: p.card.Brand, CardholderName: p.card.CardholderName, Expiry: expiryOf(p.card), LastFourDigits: p.card.Last4,
		}}
	}
	return ok(info)
}

func (s *Sim) capture(r request) reply {
	p := s.find(r.PathValue("paymentId"))
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "payment %s not found", r.PathValue("paymentId"))
	}
	var req egw.CapturePaymentRequest
	if err := json.Unmarshal(r.body, &req); err != nil {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "malformed body: %v", err)
	}
	amount, err := req.InstructedAmount.Money()
	switch {
	case err != nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "instructedAmount: %v", err)
	case amount.Currency != p.Instructed.Currency || amount.Amount <= 0:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "capture amount %s is not a positive %s amount", amount, p.Instructed.Currency)
	case p.Status != gateway.PaymentAuthorized:
		return fail(http.StatusConflict, CodeInvalidState, "payment %s is %s, not AUTHORIZED", p.PaymentID, p.Status)
	case amount.Amount > p.Authorized.Amount:
		return fail(http.StatusBadRequest, CodeAmountExceedsAuthorized, "capture amount %s exceeds the authorized %s", amount, p.Authorized)
	}
	p.Status, p.Captured, p.CapturedAt = gateway.PaymentCaptured, amount, s.opts.Clock.Now()
	s.changed(p.PaymentID)
	return ok(egw.PaymentStatusResponse{PaymentID: p.PaymentID, PaymentStatus: p.Status})
}

func (s *Sim) cancel(r request) reply {
	p := s.find(r.PathValue("paymentId"))
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "payment %s not found", r.PathValue("paymentId"))
	}
	var req egw.CancelPaymentRequest
	if err := json.Unmarshal(r.body, &req); err != nil ||
		(req.Reason != "" && !slices.Contains([]string{"SUSPECTED_FRAUD", "ABANDONED", "CUSTOMER_CANCELLED"}, req.Reason)) {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "malformed body or unknown reason")
	}
	if p.Status != gateway.PaymentInitialized && p.Status != gateway.PaymentAuthorized {
		return fail(http.StatusConflict, CodeInvalidState, "payment %s is %s: only INITIALIZED or AUTHORIZED payments can be cancelled", p.PaymentID, p.Status)
	}
	p.Status, p.Cancelled, p.CancelledAt = gateway.PaymentCancelled, true, s.opts.Clock.Now()
	s.changed(p.PaymentID)
	return ok(egw.PaymentStatusResponse{PaymentID: p.PaymentID, PaymentStatus: p.Status})
}

// refund refunds part or all of a captured payment; it cancels a payment not yet captured.
// Refunds beyond the captured amount are refused.
func (s *Sim) refund(r request) reply {
	var req egw.RefundRequest
	if err := json.Unmarshal(r.body, &req); err != nil || req.PaymentID == "" {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "paymentId and instructedAmount are required")
	}
	p := s.find(req.PaymentID)
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "payment %s not found", req.PaymentID)
	}
	amount, err := req.InstructedAmount.Money()
	switch {
	case err != nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "instructedAmount: %v", err)
	case amount.Currency != p.Instructed.Currency || amount.Amount <= 0:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "refund amount %s is not a positive %s amount", amount, p.Instructed.Currency)
	}
	now := s.opts.Clock.Now()
	switch p.Status {
	case gateway.PaymentInitialized, gateway.PaymentAuthorized:
		p.Status, p.Cancelled, p.CancelledAt = gateway.PaymentCancelled, true, now
		s.changed(p.PaymentID)
		return ok(egw.RefundResponse{PaymentID: p.PaymentID, RefundID: uuid.NewString(), RefundStatus: RefundCancelled})
	case gateway.PaymentCaptured, gateway.PaymentSettled, gateway.PaymentRefunded:
	default:
		return fail(http.StatusConflict, CodeInvalidState, "payment %s is %s: only captured payments can be refunded", p.PaymentID, p.Status)
	}
	if p.Refunded.Currency == "" {
		p.Refunded = billing.Money{Currency: p.Captured.Currency}
	}
	if p.Refunded.Amount+amount.Amount > p.Captured.Amount {
		return fail(http.StatusBadRequest, CodeAmountExceedsCaptured, "refund of %s exceeds what is left of the captured %s (refunded %s)", amount, p.Captured, p.Refunded)
	}
	rf := Refund{RefundID: uuid.NewString(), Amount: amount, CreatedAt: now}
	p.Refunds = append(p.Refunds, rf)
	p.Refunded.Amount += amount.Amount
	if p.Refunded.Amount == p.Captured.Amount {
		p.Status = gateway.PaymentRefunded
	}
	s.changed(p.PaymentID)
	return ok(egw.RefundResponse{PaymentID: p.PaymentID, RefundID: rf.RefundID, RefundStatus: RefundRefunded})
}

// Refund statuses the simulator answers; EGW does not document its own.
const (
	RefundRefunded  gateway.RefundStatus = "REFUNDED"
	RefundCancelled gateway.RefundStatus = "CANCELLED" // the payment was not captured: it was cancelled
)

func (s *Sim) initiateResponse(p *payment) egw.InitiatePaymentResponse {
	amount, _ := egw.AmountOf(p.Instructed) // parsed from a decimal, so it formats back
	return egw.InitiatePaymentResponse{
		PaymentID:        p.PaymentID,
		PaymentStatus:    p.Status,
		InstructedAmount: &amount,
		OrderNumber:      p.OrderNumber,
		ParticipantID:    s.opts.ParticipantID,
		Shop:             &egw.Shop{AgreementID: s.opts.ShopAgreementID},
		Environment:      "SANDBOX",
		CreatedAt:        p.CreatedAt,
	}
}
