package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
)

type customerJSON struct {
	ID         uuid.UUID `json:"id"`
	ExternalID string    `json:"external_id"`
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
}

func customerOut(c billing.Customer) customerJSON {
	return customerJSON{ID: c.ID, ExternalID: c.ExternalID, Email: c.Email, Name: c.Name, CreatedAt: c.CreatedAt}
}

// createCustomer stores a new customer.
func (a *API) createCustomer(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		ExternalID string `json:"external_id"`
		Email      string `json:"email"`
		Name       string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	c := billing.Customer{ID: billing.NewID(), ExternalID: in.ExternalID, Email: in.Email, Name: in.Name, CreatedAt: a.clock.Now()}
	if err := c.Validate(); err != nil {
		return 0, nil, err
	}
	if err := store.CreateCustomer(ctx, tx, c); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, customerOut(c), nil
}

type paymentMethodJSON struct {
	ID             uuid.UUID `json:"id"`
	CustomerID     uuid.UUID `json:"customer_id"`
	GatewayTokenID string    `json:"gateway_token_id"`
	Brand          string    `json:"brand"`
	Last4          string    `json:"last4"`
	ExpMonth       int       `json:"exp_month"`
	ExpYear        int       `json:"exp_year"`
	Purposes       []string  `json:"purposes"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// RemovedAt and TokenDeactivatedAt are set once it is removed and its token deactivated.
	RemovedAt          *time.Time `json:"removed_at"`
	TokenDeactivatedAt *time.Time `json:"token_deactivated_at"`
}

func paymentMethodOut(pm billing.PaymentMethod) paymentMethodJSON {
	return paymentMethodJSON{
		ID: pm.ID, CustomerID: pm.CustomerID, GatewayTokenID: pm.GatewayTokenID, Brand: pm.Brand, Last4: pm.Last4,
		ExpMonth: pm.ExpMonth, ExpYear: pm.ExpYear, Purposes: pm.Purposes, CreatedAt: pm.CreatedAt, UpdatedAt: pm.UpdatedAt,
		RemovedAt: pm.RemovedAt, TokenDeactivatedAt: pm.TokenDeactivatedAt,
	}
}

// createPaymentMethod registers a token that the customer already has at the gateway. The token
// is read from the gateway first: only an ACTIVE token with a merchant-initiated purpose and an
// unexpired card is stored. Registering the same token again refreshes its details (200).
func (a *API) createPaymentMethod(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	customerID, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		GatewayTokenID string `json:"gateway_token_id"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.GatewayTokenID == "" || len(in.GatewayTokenID) > 64 {
		return 0, nil, &billing.ValidationError{Field: "gateway_token_id", Reason: "is required, at most 64 characters"}
	}
	if _, err := store.GetCustomer(ctx, tx, customerID); err != nil {
		return 0, nil, err
	}
	tok, err := a.gw.GetToken(ctx, in.GatewayTokenID)
	if gateway.IsNotFound(err) {
		return 0, nil, &billing.ValidationError{Field: "gateway_token_id", Reason: "the payment gateway has no such token"}
	}
	if err != nil {
		return 0, nil, err
	}
	now := a.clock.Now()
	if f := tok.Check(now, gateway.MITPurposes...); f != nil {
		return 0, nil, &billing.ValidationError{Field: "gateway_token_id", Reason: f.Reason + " (" + f.Code + ")"}
	}
	purposes := make([]string, len(tok.Purposes))
	for i, p := range tok.Purposes {
		purposes[i] = string(p)
	}
	pm, created, err := store.SavePaymentMethod(ctx, tx, billing.PaymentMethod{
		ID: billing.NewID(), CustomerID: customerID, GatewayTokenID: in.GatewayTokenID, Brand: tok.Brand, Last4: tok.Last4,
		ExpMonth: tok.ExpiryMonth, ExpYear: tok.ExpiryYear, Purposes: purposes, CreatedAt: now,
	})
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, paymentMethodOut(pm), nil
}
