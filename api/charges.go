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
	"github.com/recur-billing/recur/jobs"
)

type chargeJSON struct {
	ID               uuid.UUID        `json:"id"`
	Kind             string           `json:"kind"`            // period, proration or ad_hoc
	SubscriptionID   *uuid.UUID       `json:"subscription_id"` // null for an ad-hoc charge
	CustomerID       uuid.UUID        `json:"customer_id"`
	PaymentMethodID  uuid.UUID        `json:"payment_method_id"`
	BillingRunID     *uuid.UUID       `json:"billing_run_id"`
	Status           string           `json:"status"`
	Amount           int64            `json:"amount"`
	Currency         string           `json:"currency"`
	Channel          string           `json:"channel"`
	Description      *string          `json:"description"`
	Period           *periodJSON      `json:"period"`    // null for an ad-hoc charge; a proration's: the rest of the period changed
	ChangeID         *uuid.UUID       `json:"change_id"` // the change a proration charge is for
	Lines            []lineJSON       `json:"lines"`     // what the amount is made of; empty when it is one price
	GatewayPaymentID *string          `json:"gateway_payment_id"`
	Failure          *billing.Failure `json:"failure"`
	NextRetryAt      *time.Time       `json:"next_retry_at"` // when a retrying charge is tried next
	RetryReason      *string          `json:"retry_reason"`  // why it waits, or why a failed one is not retried
	Attempts         []attemptJSON    `json:"attempts"`
	Refunds          []refundJSON     `json:"refunds"`
	AmountRefunded   int64            `json:"amount_refunded"`   // by succeeded refunds
	AmountRefundable int64            `json:"amount_refundable"` // of a succeeded charge: what no refund holds yet
	CreatedAt        time.Time        `json:"created_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
}

type lineJSON struct {
	Kind        string    `json:"kind"` // debit or credit
	Description string    `json:"description"`
	Amount      int64     `json:"amount"` // signed: a credit is negative
	Currency    string    `json:"currency"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

func linesOut(lines []billing.ChargeLine) []lineJSON {
	out := make([]lineJSON, len(lines))
	for i, l := range lines {
		out[i] = lineJSON{Kind: string(l.Kind), Description: l.Description, Amount: l.Amount.Amount,
			Currency: l.Amount.Currency, Start: l.Start, End: l.End}
	}
	return out
}

type attemptJSON struct {
	Number           int              `json:"number"`
	Status           string           `json:"status"`
	OrderNumber      string           `json:"order_number"`
	GatewayPaymentID *string          `json:"gateway_payment_id"`
	Failure          *billing.Failure `json:"failure"`
	Steps            []stepJSON       `json:"steps"`
	CreatedAt        time.Time        `json:"created_at"`
}

type stepJSON struct {
	Step       string     `json:"step"`
	RequestID  uuid.UUID  `json:"request_id"`
	Outcome    *string    `json:"outcome"`
	Detail     string     `json:"detail"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

func chargeOut(c billing.Charge, attempts []billing.Attempt, refunds []billing.Refund) chargeJSON {
	out := chargeJSON{Attempts: []attemptJSON{}, Refunds: []refundJSON{}, Lines: linesOut(c.Lines),
		ID: c.ID, Kind: string(c.Kind), ChangeID: c.ChangeID, SubscriptionID: c.SubscriptionID, CustomerID: c.CustomerID, PaymentMethodID: c.PaymentMethodID,
		BillingRunID: c.BillingRunID, Status: string(c.Status), Amount: c.Amount.Amount, Currency: c.Amount.Currency,
		Channel: c.Channel, Description: nonEmpty(c.Description), Failure: c.Failure, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		NextRetryAt: c.NextRetryAt, RetryReason: nonEmpty(c.RetryReason),
	}
	if !c.AdHoc() {
		out.Period = &periodJSON{Index: c.PeriodIndex, Start: c.PeriodStart, End: c.PeriodEnd}
	}
	for _, a := range attempts {
		aj := attemptJSON{Number: a.Number, Status: string(a.Status), OrderNumber: a.OrderNumber,
			GatewayPaymentID: nonEmpty(a.GatewayPaymentID), Failure: a.Failure, Steps: []stepJSON{}, CreatedAt: a.CreatedAt}
		for _, s := range a.Steps {
			aj.Steps = append(aj.Steps, stepJSON{Step: s.Name, RequestID: s.RequestID, Outcome: nonEmpty(s.Outcome),
				Detail: s.Detail, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt})
		}
		out.Attempts = append(out.Attempts, aj)
		out.GatewayPaymentID = aj.GatewayPaymentID // the latest attempt's
	}
	if c.Status == billing.ChargeSucceeded {
		out.AmountRefundable = c.Amount.Amount
	}
	for _, r := range refunds {
		out.Refunds = append(out.Refunds, refundOut(r))
		if r.Status == billing.RefundSucceeded {
			out.AmountRefunded += r.Amount.Amount
		}
		if r.Status.Holds() {
			out.AmountRefundable -= r.Amount.Amount
		}
	}
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// createCustomerCharge charges one of the customer's payment methods once, ad hoc: a charge on
// channel MERCHANT, which the token must allow (UNSCHEDULED), collected by the same worker as
// subscription charges. The charge and its job are committed together.
func (a *API) createCustomerCharge(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	customerID, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Amount          *int64 `json:"amount"`
		Currency        string `json:"currency"`
		Description     string `json:"description"`
		PaymentMethodID string `json:"payment_method_id"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Amount == nil {
		return 0, nil, &billing.ValidationError{Field: "amount", Reason: "is required"}
	}
	pmID, err := parseID("payment_method_id", in.PaymentMethodID)
	if err != nil {
		return 0, nil, err
	}
	if _, err := store.GetCustomer(ctx, tx, customerID); err != nil {
		return 0, nil, err
	}
	pm, err := store.LockPaymentMethod(ctx, tx, pmID)
	if err != nil {
		return 0, nil, asFieldError(err, "payment_method_id", "no such payment method")
	}
	if pm.CustomerID != customerID {
		return 0, nil, &billing.ValidationError{Field: "payment_method_id", Reason: "belongs to another customer"}
	}
	clock, err := a.clockOf(ctx, tx, customerID)
	if err != nil {
		return 0, nil, err
	}
	c, err := billing.NewAdHocCharge(pm, billing.Money{Amount: *in.Amount, Currency: in.Currency}, in.Description, clock.Now())
	if err != nil {
		return 0, nil, err
	}
	if err := checkPurpose(pm, gateway.Channel(c.Channel)); err != nil {
		return 0, nil, err
	}
	if err := store.InsertCharge(ctx, tx, c); err != nil {
		return 0, nil, err
	}
	if _, err := a.jobs.InsertTx(ctx, tx, jobs.CollectChargeArgs{ChargeID: c.ID}, nil); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, chargeOut(c, nil, nil), nil
}

// renderCharge shows a charge with every attempt and every gateway step of each, and its refunds.
func (a *API) renderCharge(ctx context.Context, c billing.Charge) (chargeJSON, error) {
	attempts, err := store.ListAttempts(ctx, a.db, c.ID)
	if err != nil {
		return chargeJSON{}, err
	}
	refunds, err := store.ListRefunds(ctx, a.db, c.ID)
	if err != nil {
		return chargeJSON{}, err
	}
	lines, err := store.ListLines(ctx, a.db, c.ID)
	if err != nil {
		return chargeJSON{}, err
	}
	c.Lines = lines[c.ID]
	return chargeOut(c, attempts[c.ID], refunds[c.ID]), nil
}

func (a *API) listSubscriptionCharges(w http.ResponseWriter, r *http.Request) {
	a.listChargesOf(w, r, func(id uuid.UUID) (store.ChargeFilter, error) {
		_, err := store.GetSubscription(r.Context(), a.db, id)
		return store.ChargeFilter{SubscriptionID: &id, ByPeriod: true}, err
	})
}

func (a *API) listBillingRunCharges(w http.ResponseWriter, r *http.Request) {
	a.listChargesOf(w, r, func(id uuid.UUID) (store.ChargeFilter, error) {
		_, err := store.GetBillingRun(r.Context(), a.db, id)
		return store.ChargeFilter{BillingRunID: &id, ByPeriod: true}, err
	})
}

// listChargesOf lists the charges of the subscription or billing run named by the path (filter
// reads it), newest period first.
func (a *API) listChargesOf(w http.ResponseWriter, r *http.Request, filter func(uuid.UUID) (store.ChargeFilter, error)) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := filter(id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.listCharges(w, r, f)
}

// listAllCharges lists charges, ad-hoc ones included, newest first; ?status=, ?customer_id= and
// ?subscription_id= filter.
func (a *API) listAllCharges(w http.ResponseWriter, r *http.Request) {
	var f store.ChargeFilter
	var err error
	if f.Status, err = queryEnum(r, "status", billing.ChargeStatuses); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.CustomerID, err = queryID(r, "customer_id"); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.SubscriptionID, err = queryID(r, "subscription_id"); err != nil {
		a.fail(w, r, err)
		return
	}
	a.listCharges(w, r, f)
}

// listCharges answers a page of the charges that f selects, with their attempts and refunds;
// ?limit= and ?starting_after= page it.
func (a *API) listCharges(w http.ResponseWriter, r *http.Request, f store.ChargeFilter) {
	n, after, err := listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f.StartingAfter = after
	charges, err := store.ListCharges(r.Context(), a.db, f, n+1)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ids := make([]uuid.UUID, len(charges))
	for i, c := range charges {
		ids[i] = c.ID
	}
	attempts, err := store.ListAttempts(r.Context(), a.db, ids...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	refunds, err := store.ListRefunds(r.Context(), a.db, ids...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	lines, err := store.ListLines(r.Context(), a.db, ids...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]chargeJSON, len(charges))
	for i, c := range charges {
		c.Lines = lines[c.ID]
		out[i] = chargeOut(c, attempts[c.ID], refunds[c.ID])
	}
	writeJSON(w, http.StatusOK, page(out, n))
}

// retryCharge makes a failed or retrying charge due for another attempt at once, optionally with
// another of its customer's payment methods (`{"payment_method_id": ...}`), which its
// subscription then bills too. The card's attempt caps still hold: an attempt that would exceed
// them waits, and the charge says until when.
func (a *API) retryCharge(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		PaymentMethodID *string `json:"payment_method_id"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	var pmID *uuid.UUID
	if in.PaymentMethodID != nil {
		id, err := parseID("payment_method_id", *in.PaymentMethodID)
		if err != nil {
			return 0, nil, err
		}
		pmID = &id
	}
	clock, err := store.ChargeClock(ctx, tx, id, a.clock)
	if err != nil {
		return 0, nil, err
	}
	c, err := jobs.RetryCharge(ctx, a.jobs, tx, clock, id, pmID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, chargeOut(c, nil, nil), nil
}
