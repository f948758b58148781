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
	// TestClockID is the sandbox test clock the customer lives on (null: the instance's clock).
	TestClockID *uuid.UUID `json:"test_clock_id"`
}

func customerOut(c billing.Customer) customerJSON {
	return customerJSON{ID: c.ID, ExternalID: c.ExternalID, Email: c.Email, Name: c.Name, CreatedAt: c.CreatedAt, TestClockID: c.TestClockID}
}

// createCustomer stores a new customer, on the test clock {"test_clock_id"} when given (only in
// a sandbox; fixed from then on): then it is created at the clock's time.
func (a *API) createCustomer(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		ExternalID  string  `json:"external_id"`
		Email       string  `json:"email"`
		Name        string  `json:"name"`
		TestClockID *string `json:"test_clock_id"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	c := billing.Customer{ID: billing.NewID(), ExternalID: in.ExternalID, Email: in.Email, Name: in.Name, CreatedAt: a.clock.Now()}
	if in.TestClockID != nil {
		clock, err := a.testClockOfNewCustomer(ctx, tx, *in.TestClockID)
		if err != nil {
			return 0, nil, err
		}
		c.TestClockID, c.CreatedAt = &clock.ID, clock.FrozenTime
	}
	if err := c.Validate(); err != nil {
		return 0, nil, err
	}
	if err := store.CreateCustomer(ctx, tx, c); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, customerOut(c), nil
}

// testClockOfNewCustomer reads the test clock that a new customer asks to live on: a 422 outside
// a sandbox, or when there is no such clock.
func (a *API) testClockOfNewCustomer(ctx context.Context, tx pgx.Tx, id string) (billing.FrozenClock, error) {
	if _, ok := sandbox(a.clock); !ok {
		return billing.FrozenClock{}, &billing.ValidationError{Field: "test_clock_id",
			Reason: "test clocks exist only in a sandbox (recur dev with its built-in gateway simulator)"}
	}
	clockID, err := parseID("test_clock_id", id)
	if err != nil {
		return billing.FrozenClock{}, err
	}
	clock, err := store.GetTestClock(ctx, tx, clockID)
	return clock, asFieldError(err, "test_clock_id", "no such test clock")
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
	clock, err := a.clockOf(ctx, tx, customerID)
	if err != nil {
		return 0, nil, err
	}
	now := clock.Now()
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
