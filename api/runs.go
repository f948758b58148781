package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

type billingRunJSON struct {
	ID               uuid.UUID         `json:"id"`
	AsOf             time.Time         `json:"as_of"`
	StartedAt        time.Time         `json:"started_at"`
	FinishedAt       *time.Time        `json:"finished_at"`
	SubscriptionsDue int               `json:"subscriptions_due"`
	ChargesCreated   int               `json:"charges_created"`
	Charges          []statusTotalJSON `json:"charges,omitempty"`
}

// statusTotalJSON counts and sums a run's charges in one status and currency.
type statusTotalJSON struct {
	Status   string `json:"status"`
	Currency string `json:"currency"`
	Count    int    `json:"count"`
	Amount   int64  `json:"amount"`
}

func billingRunOut(r billing.BillingRun) billingRunJSON {
	return billingRunJSON{ID: r.ID, AsOf: r.AsOf, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		SubscriptionsDue: r.SubscriptionsDue, ChargesCreated: r.ChargesCreated}
}

// listBillingRuns lists scheduler passes that found something due, newest first.
func (a *API) listBillingRuns(w http.ResponseWriter, r *http.Request) {
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.BillingRun, error) {
		return store.ListBillingRuns(r.Context(), a.db, n, after)
	}, as(billingRunOut))
}

// billingRunDetail shows a run with its charges counted and summed by status and currency.
func billingRunDetail(run store.RunSummary) billingRunJSON {
	out := billingRunOut(run.BillingRun)
	out.Charges = []statusTotalJSON{}
	for _, t := range run.Charges {
		out.Charges = append(out.Charges, statusTotalJSON{Status: string(t.Status), Currency: t.Currency, Count: t.Count, Amount: t.Amount})
	}
	return out
}
