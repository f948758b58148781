package egwsim

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
)

// TokenCITPrefix starts the id of every token that a completed checkout stores.
const TokenCITPrefix = "tok_sim_cit_"

// checkout is what a CIT payment's hosted checkout needs to know.
type checkout struct {
	returnURL string
	purposes  []gateway.Purpose // the token to set up; none: no token
}

func (s *Sim) initiateCIT(r request) reply {
	var req egw.InitiateCitPaymentRequest
	if err := json.Unmarshal(r.body, &req); err != nil {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "malformed body: %v", err)
	}
	amount, err := req.InstructedAmount.Money()
	switch {
	case req.Channel != gateway.ChannelBrowser:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "channel %q is not BROWSER", req.Channel)
	case err != nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "instructedAmount: %v", err)
	case amount.Amount < 0:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "instructedAmount must not be negative")
	case amount.Amount == 0 && req.SetupToken == nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "an amount of 0 is an account verification: it needs setupToken")
	case !egw.ValidOrderNumber(req.OrderNumber):
		return fail(http.StatusBadRequest, CodeInvalidRequest, "orderNumber %q is empty, too long or has characters outside [a-zA-Z0-9/-?:().,'+]", req.OrderNumber)
	case req.ShopRedirectURL == "":
		return fail(http.StatusBadRequest, CodeInvalidRequest, "shopRedirectUrl is required")
	case req.SetupToken != nil && !validPurposes(req.SetupToken.Purposes):
		return fail(http.StatusBadRequest, CodeInvalidRequest, "setupToken.purposes must be one or more distinct purposes")
	case req.ParticipantID != s.opts.ParticipantID || req.ShopAgreementID != s.opts.ShopAgreementID:
		return fail(http.StatusForbidden, CodeForbidden, "participant %q has no shop agreement %q", req.ParticipantID, req.ShopAgreementID)
	}
	zero := billing.Money{Currency: amount.Currency}
	p := &payment{
		Entry: Entry{
			PaymentID: uuid.NewString(), OrderNumber: req.OrderNumber, MerchantReference: req.MerchantReference,
			Channel: gateway.ChannelBrowser, Status: gateway.PaymentInitialized, Instructed: amount,
			Authorized: zero, Captured: zero, CreatedAt: s.opts.Clock.Now(),
		},
		checkout: &checkout{returnURL: req.ShopRedirectURL},
	}
	if req.SetupToken != nil {
		p.checkout.purposes = slices.Clone(req.SetupToken.Purposes)
	}
	s.payments[p.PaymentID] = p
	s.order = append(s.order, p.PaymentID)
	resp := s.initiateResponse(p)
	resp.Links = &egw.Links{CheckoutRedirect: &egw.Link{Href: "http://" + r.Host + "/sim/checkout/" + p.PaymentID}}
	return ok(resp)
}

func validPurposes(ps []gateway.Purpose) bool {
	all := []gateway.Purpose{gateway.PurposeCIT, gateway.PurposeUnscheduled, gateway.PurposeSubscription, gateway.PurposeStandingOrder}
	for i, p := range ps {
		if !slices.Contains(all, p) || slices.Contains(ps[:i], p) {
			return false
		}
	}
	return len(ps) > 0
}

// Checkout outcomes: what the customer does at the hosted checkout.
const (
	CheckoutComplete = "complete" // pays with the sandbox card that succeeds
	CheckoutFail     = "fail"     // pays with the sandbox card whose authorization is declined
)

// CompleteCheckout plays the customer at the hosted checkout of a CIT payment: outcome
// CheckoutComplete authorizes it and, when it sets a token up, stores a new ACTIVE token with the
// requested purposes; CheckoutFail declines it. It returns the URL the customer is sent back to.
func (s *Sim) CompleteCheckout(paymentID, outcome string) (returnURL string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(paymentID)
	switch {
	case p == nil || p.checkout == nil:
		return "", fmt.Errorf("no CIT payment %s", paymentID)
	case p.Status != gateway.PaymentInitialized:
		return "", fmt.Errorf("payment %s is %s: its checkout is over", paymentID, p.Status)
	case outcome != CheckoutComplete && outcome != CheckoutFail:
		return "", fmt.Errorf("outcome %q is not %s or %s", outcome, CheckoutComplete, CheckoutFail)
	}
	now := s.opts.Clock.Now()
	p.SessionAt = now
	if outcome == CheckoutFail {
		p.Status, p.DeclineCode, p.FailedAt = gateway.PaymentFailed, egw.CodeAuthorizationDeclined, now
	} else {
		card := gateway.Token{ID: TokenCITPrefix + uuid.NewString()[:8], Status: gateway.TokenActive, Purposes: p.checkout.purposes,
			Brand: "MASTERCARD", Last4: "0005", CardholderName: "Sim Customer", ExpiryMonth: 12, ExpiryYear: 2099}
		if len(card.Purposes) > 0 {
			s.tokens[card.ID] = Token{Token: card}
			p.TokenID = card.ID
		}
		p.card = card
		p.Status, p.Authorized, p.AuthorizedAt = gateway.PaymentAuthorized, p.Instructed, now
	}
	s.changed(p.PaymentID)
	return p.checkout.returnURL, nil
}

// checkoutPage is the hosted checkout: two buttons that post the outcome.
var checkoutPage = template.Must(template.New("checkout").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>EGW simulator checkout</title></head>
<body>
<h1>Pay {{.Amount}}</h1>
<p>Payment {{.ID}}{{if .Purposes}}: the card will be stored for {{.Purposes}}{{end}}.</p>
<form method="post" action="/sim/checkout/{{.ID}}">
<button name="outcome" value="complete">Pay with 5186 0000 0000 0005 (succeeds)</button>
<button name="outcome" value="fail">Pay with 5186 0000 0000 0013 (declined)</button>
</form>
</body></html>
`))

// serveCheckout serves GET /sim/checkout/{paymentId}.
func (s *Sim) serveCheckout(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := s.find(r.PathValue("paymentId"))
	var data struct {
		ID, Amount string
		Purposes   []gateway.Purpose
	}
	if p != nil && p.checkout != nil {
		data.ID, data.Amount, data.Purposes = p.PaymentID, p.Instructed.String(), p.checkout.purposes
	}
	s.mu.Unlock()
	if data.ID == "" {
		http.Error(w, "no such checkout", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = checkoutPage.Execute(w, data)
}

// finishCheckout serves POST /sim/checkout/{paymentId} with outcome complete or fail (a form
// field or a query parameter) and sends the customer back to the shop with a 303.
func (s *Sim) finishCheckout(w http.ResponseWriter, r *http.Request) {
	back, err := s.CompleteCheckout(r.PathValue("paymentId"), r.FormValue("outcome"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
