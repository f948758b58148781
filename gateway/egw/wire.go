package egw

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
)

// The types below are EGW's JSON bodies, named after the contract's schemas, with the fields
// Recur uses. The simulator in gateway/egwsim serves the same types.

// Amount is EGW's money: a decimal string with the currency's fraction digits ("1056", "5768.2",
// "1.50") and an ISO 4217 code.
type Amount struct {
	Amount   string   `json:"amount"`
	Currency Currency `json:"currency"`
}

// Currency names an ISO 4217 currency.
type Currency struct {
	CurrencyCode string `json:"currencyCode"`
}

// AmountOf converts m to EGW's form.
func AmountOf(m billing.Money) (Amount, error) {
	s, err := m.Decimal()
	if err != nil {
		return Amount{}, err
	}
	return Amount{Amount: s, Currency: Currency{CurrencyCode: m.Currency}}, nil
}

// Money converts a to minor units; more fraction digits than the currency has is an error.
func (a Amount) Money() (billing.Money, error) {
	return billing.ParseDecimal(a.Amount, a.Currency.CurrencyCode)
}

// CardExpiry is a card's expiry as EGW writes it: month "MM" and two-digit year "YY".
type CardExpiry struct {
	Month string `json:"month"`
	Year  string `json:"year"`
}

// ExpiryOf writes a month (1..12) and four-digit year in EGW's form.
func ExpiryOf(month, year int) CardExpiry {
	return CardExpiry{Month: fmt.Sprintf("%02d", month), Year: fmt.Sprintf("%02d", year%100)}
}

// MonthYear reads the expiry as a month (1..12) and a four-digit year: "YY" is taken as 20YY,
// since no card that is still stored expired in the 1900s.
func (e CardExpiry) MonthYear() (month, year int, err error) {
	month, err = strconv.Atoi(e.Month)
	if err != nil || len(e.Month) != 2 || month < 1 || month > 12 {
		return 0, 0, fmt.Errorf("card expiry month %q is not MM", e.Month)
	}
	year, err = strconv.Atoi(e.Year)
	if err != nil || len(e.Year) != 2 || year < 0 {
		return 0, 0, fmt.Errorf("card expiry year %q is not YY", e.Year)
	}
	return month, 2000 + year, nil
}

// Card describes the card behind a token or a payment. Token information carries no brand.
type Card struct {
	Brand          string      `json:"brand,omitempty"` // VISA or MASTERCARD
	CardholderName string      `json:"cardholderName,omitempty"`
	Expiry         *CardExpiry `json:"expiry,omitempty"`
	LastFourDigits string      `json:"lastFourDigits,omitempty"`
}

// TokenInformationResponse answers GET tokens/{gatewayTokenId}.
type TokenInformationResponse struct {
	GatewayTokenID    string              `json:"gatewayTokenId"`
	PaymentMethodType string              `json:"paymentMethodType,omitempty"` // CARD
	TokenStatus       gateway.TokenStatus `json:"tokenStatus"`
	Purposes          []gateway.Purpose   `json:"purposes,omitempty"`
	Card              *Card               `json:"card,omitempty"`
}

// DeactivateTokenResponse answers DELETE tokens/{gatewayTokenId}.
type DeactivateTokenResponse struct {
	GatewayTokenID string              `json:"gatewayTokenId"`
	TokenStatus    gateway.TokenStatus `json:"tokenStatus"`
}

// InitiateMitPaymentRequest is the body of POST payments/mit.
type InitiateMitPaymentRequest struct {
	Channel           gateway.Channel `json:"channel"`
	InstructedAmount  Amount          `json:"instructedAmount"`
	OrderNumber       string          `json:"orderNumber"`
	MerchantReference string          `json:"merchantReference,omitempty"`
	ParticipantID     string          `json:"participantId"`
	ShopAgreementID   string          `json:"shopAgreementId"`
}

// InitiateCitPaymentRequest is the body of POST payments/cit.
type InitiateCitPaymentRequest struct {
	Channel           gateway.Channel `json:"channel"` // BROWSER
	InstructedAmount  Amount          `json:"instructedAmount"`
	OrderNumber       string          `json:"orderNumber"`
	MerchantReference string          `json:"merchantReference,omitempty"`
	ParticipantID     string          `json:"participantId"`
	ShopAgreementID   string          `json:"shopAgreementId"`
	ShopRedirectURL   string          `json:"shopRedirectUrl"`
	SetupToken        *SetupToken     `json:"setupToken,omitempty"`
}

// SetupToken asks a CIT payment to store the card as a token with the purposes.
type SetupToken struct {
	Purposes []gateway.Purpose `json:"purposes"`
	Required bool              `json:"required"`
}

// Links are the links of an InitiatePaymentResponse.
type Links struct {
	CheckoutRedirect *Link `json:"checkoutRedirect,omitempty"`
}

// Link is one link.
type Link struct {
	Href string `json:"href"`
}

// orderNumberPattern is the contract's pattern for orderNumber.
var orderNumberPattern = regexp.MustCompile(`^[a-zA-Z0-9/-?:().,'+\-]*$`)

// ValidOrderNumber reports whether s is an order number the contract accepts: 1 to 255 of
// a-z, A-Z, 0-9 and /-?:().,'+ (the pattern's range "/-?" also lets in ;<=>).
func ValidOrderNumber(s string) bool {
	return s != "" && len(s) <= 255 && orderNumberPattern.MatchString(s)
}

// Shop identifies the merchant's shop.
type Shop struct {
	AgreementID string `json:"agreementId,omitempty"`
}

// InitiatePaymentResponse answers POST payments/mit.
type InitiatePaymentResponse struct {
	PaymentID        string                `json:"paymentId"`
	PaymentStatus    gateway.PaymentStatus `json:"paymentStatus"`
	InstructedAmount *Amount               `json:"instructedAmount,omitempty"`
	OrderNumber      string                `json:"orderNumber,omitempty"`
	ParticipantID    string                `json:"participantId,omitempty"`
	Shop             *Shop                 `json:"shop,omitempty"`
	Environment      string                `json:"environment,omitempty"` // SANDBOX or LIVE
	CreatedAt        time.Time             `json:"createdAt,omitzero"`
	// Links carries the hosted checkout page of a CIT payment.
	Links *Links `json:"_links,omitempty"`
}

// PaymentMethod is how a payment was paid, once a session has been started on it.
type PaymentMethod struct {
	Type           string `json:"type"` // CARD
	GatewayTokenID string `json:"gatewayTokenId,omitempty"`
	Card           *Card  `json:"card,omitempty"`
}

// PaymentInformationResponse answers GET payments/{paymentId}: the fields of
// InitiatePaymentResponse and a few more.
type PaymentInformationResponse struct {
	InitiatePaymentResponse
	Channel           gateway.Channel `json:"channel,omitempty"`
	MerchantReference string          `json:"merchantReference,omitempty"`
	PaymentMethod     *PaymentMethod  `json:"paymentMethod,omitempty"`
	RefundedAmount    *Amount         `json:"refundedAmount,omitempty"`
}

// CreateTokenCheckoutSessionRequest is the body of POST payments/{paymentId}/sessions/token.
type CreateTokenCheckoutSessionRequest struct {
	GatewayTokenID string `json:"gatewayTokenId"`
}

// CheckoutSessionInformationResponse answers POST payments/{paymentId}/sessions/token.
type CheckoutSessionInformationResponse struct {
	SessionID     string                `json:"sessionId"`
	SessionStatus gateway.SessionStatus `json:"sessionStatus"`
}

// CapturePaymentRequest is the body of PATCH payments/{paymentId}/capture.
type CapturePaymentRequest struct {
	InstructedAmount Amount `json:"instructedAmount"`
}

// CancelPaymentRequest is the body of PATCH payments/{paymentId}/cancel. Reason is optional:
// SUSPECTED_FRAUD, ABANDONED or CUSTOMER_CANCELLED.
type CancelPaymentRequest struct {
	Reason string `json:"reason,omitempty"`
}

// PaymentStatusResponse answers capture and cancel (the contract's CapturePaymentResponse and
// CancelPaymentResponse, which are the same).
type PaymentStatusResponse struct {
	PaymentID     string                `json:"paymentId"`
	PaymentStatus gateway.PaymentStatus `json:"paymentStatus"`
}

// RefundRequest is the body of POST refunds, which EGW documents outside the OpenAPI document.
type RefundRequest struct {
	PaymentID        string `json:"paymentId"`
	InstructedAmount Amount `json:"instructedAmount"`
}

// RefundResponse answers POST refunds. EGW does not document the values of RefundStatus; the
// simulator answers REFUNDED, or CANCELLED for a payment that was not yet captured.
type RefundResponse struct {
	PaymentID    string               `json:"paymentId"`
	RefundID     string               `json:"refundId"`
	RefundStatus gateway.RefundStatus `json:"refundStatus"`
}

// ErrorResponse is the body of EGW's error answers.
type ErrorResponse struct {
	APIClientMessages []APIClientMessage `json:"apiClientMessages"`
}

// APIClientMessage is one reason in an ErrorResponse.
type APIClientMessage struct {
	Category string `json:"category,omitempty"` // ERROR
	Code     string `json:"code,omitempty"`
	Text     string `json:"text,omitempty"`
}

// errIncomplete is what complete returns for an answer that lacks a field the client relies on.
var errIncomplete = errors.New("a required field is missing")

// The complete methods check, after decoding, that a 2xx answer carries what the client needs.

func (r *TokenInformationResponse) complete() error {
	return need(r.GatewayTokenID, string(r.TokenStatus))
}

func (r *DeactivateTokenResponse) complete() error { return need(string(r.TokenStatus)) }

func (r *InitiatePaymentResponse) complete() error { return need(r.PaymentID, string(r.PaymentStatus)) }

func (r *CheckoutSessionInformationResponse) complete() error { return need(string(r.SessionStatus)) }

func (r *PaymentStatusResponse) complete() error { return need(r.PaymentID, string(r.PaymentStatus)) }

func (r *RefundResponse) complete() error { return need(r.PaymentID, string(r.RefundStatus)) }

func need(fields ...string) error {
	for _, f := range fields {
		if f == "" {
			return errIncomplete
		}
	}
	return nil
}
