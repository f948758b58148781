package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestChargePageOfAnAdHocChargeWithARefund: the finance page of an ad-hoc charge shows its
// description instead of a period, and its refunds.
func TestChargePageOfAnAdHocChargeWithARefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	clock := billing.NewManualClock(time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC))
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	pm, err := store.GetPaymentMethod(ctx, db, sub.PaymentMethodID)
	require.NoError(t, err)
	c, err := billing.NewAdHocCharge(pm, billing.Money{Amount: 4200, Currency: "EUR"}, "onboarding workshop", clock.Now())
	require.NoError(t, err)
	require.NoError(t, store.InsertCharge(ctx, db, c))
	_, err = db.Exec(ctx, `UPDATE charges SET status = 'succeeded' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO charge_attempts (id, charge_id, number, order_number, gateway_payment_id, status, created_at, updated_at)
		VALUES ($1, $2, 1, $3, 'pay_1', 'succeeded', now(), now())`, billing.NewID(), c.ID, "order-1")
	require.NoError(t, err)
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	refund, err := store.CreateRefund(ctx, tx, c.ID, nil, clock.Now())
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	page := chargePage(t, db, clock, c.ID)
	require.Contains(t, page, "onboarding workshop")
	require.NotContains(t, page, "<dt>Period</dt>")
	require.Contains(t, page, "<h2>Refunds</h2>")
	require.Contains(t, page, refund.RequestID.String())
	require.True(t, strings.Contains(page, "Pending"), "the refund's status")
}

// TestChargePageShowsLines: the finance page of a proration charge lists its credit and debit.
func TestChargePageShowsLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{Price: billing.Money{Amount: 1500, Currency: "EUR"}})
	sub.BillNextPeriod(billing.NewID(), sub.NextBillingAt)
	clock := billing.NewManualClock(sub.Schedule.PeriodStart(0).Add(14 * 24 * time.Hour))
	p, err := sub.ChangePriceNow(billing.PriceChange{UnitPrice: billing.Money{Amount: 2500, Currency: "EUR"}, Quantity: 1},
		billing.CurrentCharges{Billed: true, Collected: true}, clock.Now())
	require.NoError(t, err)
	c := sub.NewProrationCharge(p, clock.Now())
	require.NoError(t, store.InsertCharge(ctx, db, c))

	page := chargePage(t, db, clock, c.ID)
	require.Contains(t, page, "<h2>Lines</h2>")
	require.Contains(t, page, "Unused time at 15.00 EUR per period")
	require.Contains(t, page, "-7.50 EUR")
	require.Contains(t, page, "12.50 EUR")
}

// chargePage signs in to the finance pages with a finance key and returns the charge's page.
func chargePage(t *testing.T, db *pgxpool.Pool, clock billing.Clock, id uuid.UUID) string {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(api.New(api.Deps{Pool: db, Clock: clock, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	key, err := api.CreateAPIKeyWithRole(ctx, db, "finance", api.RoleFinance, clock)
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(srv.URL+"/ui/sign-in", url.Values{"key": {key}, "next": {"/ui/"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/ui/charges/"+id.String(), nil)
	require.NoError(t, err)
	req.AddCookie(resp.Cookies()[0])
	resp, err = client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(body)
}
