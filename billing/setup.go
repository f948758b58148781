package billing

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SetupStatus is where a payment-method setup is.
type SetupStatus string

// Setup states. A setup is pending until the customer has finished the gateway's hosted checkout
// and Recur has read the outcome; it ends succeeded (the payment method is stored), failed (the
// checkout was declined or abandoned, or the token cannot be charged) or expired (not completed
// within SetupLifetime).
const (
	SetupPending   SetupStatus = "pending"
	SetupSucceeded SetupStatus = "succeeded"
	SetupFailed    SetupStatus = "failed"
	SetupExpired   SetupStatus = "expired"
)

// SetupLifetime is how long a customer has to complete a setup's checkout.
const SetupLifetime = time.Hour

// Failure codes of setups.
const (
	FailureCheckoutFailed = "checkout_failed" // the gateway payment failed, was abandoned or cancelled
	FailureNoToken        = "no_token"        // the payment went through but set no token up
	FailureSetupExpired   = "expired"         // the checkout was not completed in time
)

// PaymentMethodSetup is a customer's new payment method in the making: a customer-initiated
// payment at the gateway (amount 0: an account verification) that stores the card as a token, and
// the subscriptions to switch to it.
type PaymentMethodSetup struct {
	ID              uuid.UUID
	CustomerID      uuid.UUID
	Status          SetupStatus
	Purposes        []string
	ReturnURL       string // where Recur sends the customer back, on the merchant's site
	SubscriptionIDs []uuid.UUID
	Amount          Money
	OrderNumber     string // names the payment at the gateway
	// GatewayPaymentID and CheckoutURL are the gateway's payment and its hosted checkout page.
	GatewayPaymentID string
	CheckoutURL      string
	PaymentMethodID  *uuid.UUID // the stored payment method, once succeeded
	Failure          *Failure
	ExpiresAt        time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// NewPaymentMethodSetup makes a pending setup. The purposes' names are checked by the caller,
// which knows the gateway's; currency is that of the verification payment, whose amount is 0.
func NewPaymentMethodSetup(customerID uuid.UUID, purposes []string, returnURL string, subs []uuid.UUID, currency string, now time.Time) (PaymentMethodSetup, error) {
	if err := validReturnURL(returnURL); err != nil {
		return PaymentMethodSetup{}, err
	}
	if len(subs) > 100 {
		return PaymentMethodSetup{}, &ValidationError{Field: "subscription_ids", Reason: "must list at most 100 subscriptions"}
	}
	for i, id := range subs {
		for _, prev := range subs[:i] {
			if prev == id {
				return PaymentMethodSetup{}, &ValidationError{Field: "subscription_ids", Reason: "must not list a subscription twice"}
			}
		}
	}
	if _, err := CurrencyDigits(currency); err != nil {
		return PaymentMethodSetup{}, &ValidationError{Field: "currency", Reason: "must be an ISO 4217 code such as EUR"}
	}
	if subs == nil {
		subs = []uuid.UUID{}
	}
	id := NewID()
	return PaymentMethodSetup{
		ID: id, CustomerID: customerID, Status: SetupPending, Purposes: purposes, ReturnURL: returnURL,
		SubscriptionIDs: subs, Amount: Money{Amount: 0, Currency: currency}, OrderNumber: "S-" + id.String(),
		ExpiresAt: now.Add(SetupLifetime), CreatedAt: now, UpdatedAt: now,
	}, nil
}

func validReturnURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s) > 2048 {
		return &ValidationError{Field: "return_url", Reason: "must be an absolute http or https URL of at most 2048 characters"}
	}
	return nil
}

// Attachable says why pm cannot be given to a subscription or charged any more, or returns nil.
func (pm PaymentMethod) Attachable() error {
	if pm.RemovedAt != nil {
		return &ValidationError{Field: "payment_method_id", Reason: fmt.Sprintf("was removed at %s", pm.RemovedAt.UTC().Format(time.RFC3339))}
	}
	return nil
}

// InUseError refuses the removal of a payment method that subscriptions still bill.
type InUseError struct {
	SubscriptionIDs []uuid.UUID
}

func (e *InUseError) Error() string {
	ids := make([]string, len(e.SubscriptionIDs))
	for i, id := range e.SubscriptionIDs {
		ids[i] = id.String()
	}
	return "the payment method is used by subscriptions that are not canceled: " + strings.Join(ids, ", ") +
		"; give them another payment method or cancel them first"
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *InUseError) Is(target error) bool { return target == ErrConflict }
