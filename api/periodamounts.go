package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
)

type periodAmountJSON struct {
	SubscriptionID uuid.UUID `json:"subscription_id"`
	PeriodIndex    int       `json:"period_index"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func periodAmountOut(p billing.PeriodAmount) periodAmountJSON {
	return periodAmountJSON{SubscriptionID: p.SubscriptionID, PeriodIndex: p.Index, Start: p.Start, End: p.End,
		Amount: p.Amount.Amount, Currency: p.Amount.Currency, UpdatedAt: p.UpdatedAt}
}

// setPeriodAmount sets what an upcoming period of a subscription bills instead of its price:
// {"amount": minor units of the subscription's currency}. The period must not be billed yet nor
// have started, and the subscription's payment method must carry the STANDING_ORDER purpose
// (SUBSCRIPTION tokens are for fixed amounts). Setting it again replaces it.
func (a *API) setPeriodAmount(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		Amount *int64 `json:"amount"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Amount == nil {
		return 0, nil, &billing.ValidationError{Field: "amount", Reason: "is required"}
	}
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	index, err := strconv.Atoi(chi.URLParam(r, "index"))
	if err != nil || index < 0 {
		return 0, nil, &billing.ValidationError{Field: "index", Reason: "must be a period number (0 is the first period)"}
	}
	s, err := store.LockSubscription(ctx, tx, id)
	if err != nil {
		return 0, nil, err
	}
	clock, err := a.clockOf(ctx, tx, s.CustomerID)
	if err != nil {
		return 0, nil, err
	}
	p, err := s.NewPeriodAmount(index, *in.Amount, clock.Now())
	if err != nil {
		return 0, nil, err
	}
	pm, err := store.GetPaymentMethod(ctx, tx, s.PaymentMethodID)
	if err != nil {
		return 0, nil, err
	}
	if err := checkVariableAmounts(pm); err != nil {
		return 0, nil, err
	}
	if err := store.SetPeriodAmount(ctx, tx, p); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, periodAmountOut(p), nil
}

// checkVariableAmounts says, as a problem of payment_method_id, when the token may not be charged
// a variable amount: only a STANDING_ORDER token may.
func checkVariableAmounts(pm billing.PaymentMethod) error {
	if slices.Contains(pm.Purposes, string(gateway.PurposeStandingOrder)) {
		return nil
	}
	return &billing.ValidationError{Field: "payment_method_id",
		Reason: "the subscription's token has no STANDING_ORDER purpose, which variable amounts need"}
}

// subscriptionWithAmounts is subscriptionOut with the amounts set for its periods not yet billed,
// read in db.
func subscriptionWithAmounts(ctx context.Context, db store.DBTX, s billing.Subscription) (subscriptionJSON, error) {
	amounts, err := store.UpcomingPeriodAmounts(ctx, db, s)
	return withAmounts(s, amounts), err
}

// withAmounts is subscriptionOut with amounts, those set for its periods not yet billed.
func withAmounts(s billing.Subscription, amounts []billing.PeriodAmount) subscriptionJSON {
	out := subscriptionOut(s)
	for _, p := range amounts {
		out.UpcomingAmounts = append(out.UpcomingAmounts, periodAmountOut(p))
	}
	return out
}

// renderSubscription is subscriptionWithAmounts for getOne.
func (a *API) renderSubscription(ctx context.Context, s billing.Subscription) (subscriptionJSON, error) {
	return subscriptionWithAmounts(ctx, a.db, s)
}
