package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// settle puts a charge in a status as of a time, with one attempt, as the charge worker leaves it.
func settle(t *testing.T, db *pgxpool.Pool, id uuid.UUID, status billing.ChargeStatus, f *billing.Failure, at time.Time) {
	t.Helper()
	var code, reason *string
	if f != nil {
		code, reason = &f.Code, &f.Reason
	}
	_, err := db.Exec(context.Background(), `
		WITH c AS (
			UPDATE charges SET status = $2, failure_code = $3, failure_reason = $4, updated_at = $5 WHERE id = $1 RETURNING id
		)
		INSERT INTO charge_attempts (id, charge_id, number, order_number, gateway_payment_id, status, failure_code,
			failure_reason, created_at, updated_at)
		SELECT $6::uuid, id, 1, $6::uuid::text, 'pay_' || $6::uuid::text, $2, $3, $4, $5, $5 FROM c`,
		id, status, code, reason, at, billing.NewID())
	require.NoError(t, err)
}

// collect gathers what an Each function hands its callback.
func collect[T, F any](t *testing.T, each func(context.Context, store.DBTX, F, func(T) error) error, db store.DBTX, f F) []T {
	t.Helper()
	var out []T
	require.NoError(t, each(context.Background(), db, f, func(v T) error { out = append(out, v); return nil }))
	return out
}

func TestReports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	start := time.Date(2026, time.January, 31, 10, 0, 0, 0, time.UTC)
	eur := func(n int64) billing.Money { return billing.Money{Amount: n, Currency: "EUR"} }
	paid := storetest.Subscription(t, db, storetest.SubscriptionOpts{Price: eur(1000)})
	declined := storetest.Subscription(t, db, storetest.SubscriptionOpts{Price: eur(2500)})
	kronor := storetest.Subscription(t, db, storetest.SubscriptionOpts{Price: billing.Money{Amount: 10000, Currency: "SEK"}})
	waiting := storetest.Subscription(t, db, storetest.SubscriptionOpts{Price: eur(700)})

	run := billing.BillingRun{ID: billing.NewID(), AsOf: start, StartedAt: start, SubscriptionsDue: 4, ChargesCreated: 4}
	require.NoError(t, store.CreateBillingRun(ctx, db, run))
	require.NoError(t, store.FinishBillingRun(ctx, db, run.ID, start.Add(90*time.Second)))
	empty := billing.BillingRun{ID: billing.NewID(), AsOf: start.Add(time.Hour), StartedAt: start.Add(time.Hour)}
	require.NoError(t, store.CreateBillingRun(ctx, db, empty))
	charges := make([]billing.Charge, 4)
	for i, sub := range []billing.Subscription{paid, declined, kronor, waiting} {
		charges[i] = periodCharge(sub, 0)
		charges[i].BillingRunID = &run.ID
	}
	_, err := store.InsertCharges(ctx, db, charges)
	require.NoError(t, err)
	march1, march2 := time.Date(2026, time.March, 1, 23, 59, 0, 0, time.UTC), time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)
	decline := &billing.Failure{Code: "AUTHORIZATION_DECLINED", Reason: "declined by the issuer"}
	settle(t, db, charges[0].ID, billing.ChargeSucceeded, nil, march1)
	settle(t, db, charges[1].ID, billing.ChargeFailed, decline, march2)
	settle(t, db, charges[2].ID, billing.ChargeSucceeded, nil, march2)

	t.Run("runs", func(t *testing.T) {
		reports := collect(t, store.EachRunReport, db, store.RunFilter{})
		require.Len(t, reports, 3, "the empty run, then the run in EUR and in SEK")
		require.Equal(t, empty.ID, reports[0].ID, "newest first")
		require.Empty(t, reports[0].Currency)
		require.Zero(t, reports[0].Due)
		require.Empty(t, reports[0].ByStatus)

		got := reports[1]
		require.Equal(t, run.ID, got.ID)
		require.Equal(t, "EUR", got.Currency)
		require.Equal(t, store.Total{Count: 3, Amount: 4200}, got.Due)
		require.Equal(t, store.Total{Count: 2, Amount: 3500}, got.Attempted, "the pending charge is not attempted yet")
		require.Equal(t, map[billing.ChargeStatus]store.Total{
			billing.ChargeSucceeded: {Count: 1, Amount: 1000},
			billing.ChargeFailed:    {Count: 1, Amount: 2500},
			billing.ChargePending:   {Count: 1, Amount: 700},
		}, got.ByStatus)
		require.Equal(t, start.Add(90*time.Second), *got.FinishedAt)
		require.Equal(t, "SEK", reports[2].Currency)
		require.Equal(t, store.Total{Count: 1, Amount: 10000}, reports[2].ByStatus[billing.ChargeSucceeded])

		require.Len(t, collect(t, store.EachRunReport, db, store.RunFilter{Limit: 1}), 1, "the limit counts runs")
		older := collect(t, store.EachRunReport, db, store.RunFilter{StartingAfter: &empty.ID})
		require.Len(t, older, 2)
		require.Equal(t, run.ID, older[0].ID)
		one := collect(t, store.EachRunReport, db, store.RunFilter{ID: &run.ID})
		require.Len(t, one, 2)
	})

	t.Run("run charges", func(t *testing.T) {
		all := collect(t, store.EachRunCharge, db, store.ChargeRowFilter{BillingRunID: run.ID})
		require.Len(t, all, 4)
		for i := 1; i < len(all); i++ {
			require.Less(t, all[i-1].ID.String(), all[i].ID.String(), "in id order")
		}
		failed := collect(t, store.EachRunCharge, db, store.ChargeRowFilter{BillingRunID: run.ID, Status: billing.ChargeFailed})
		require.Len(t, failed, 1)
		require.Equal(t, charges[1].ID, failed[0].ID)
		require.Equal(t, decline, failed[0].Failure)
		require.Equal(t, eur(2500), failed[0].Amount)
		require.Equal(t, 1, failed[0].Attempts)
		require.NotEmpty(t, failed[0].GatewayPaymentID)
		require.Equal(t, "ext_"+declined.CustomerID.String(), failed[0].CustomerExternalID)

		page := collect(t, store.EachRunCharge, db, store.ChargeRowFilter{BillingRunID: run.ID, StartingAfter: &all[1].ID, Limit: 1})
		require.Len(t, page, 1)
		require.Equal(t, all[2].ID, page[0].ID)
	})

	t.Run("revenue", func(t *testing.T) {
		month := store.RevenueFilter{Interval: store.RevenueByMonth, From: start, To: start.AddDate(0, 3, 0)}
		rows := collect(t, store.EachRevenue, db, month)
		require.Equal(t, []store.RevenueRow{
			{PeriodStart: time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC), Currency: "EUR",
				Collected: store.Total{Count: 1, Amount: 1000}, Failed: store.Total{Count: 1, Amount: 2500}},
			{PeriodStart: time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC), Currency: "SEK",
				Collected: store.Total{Count: 1, Amount: 10000}},
		}, rows)

		day := store.RevenueFilter{Interval: store.RevenueByDay, From: march1, To: march2.Add(time.Hour), Currency: "EUR"}
		rows = collect(t, store.EachRevenue, db, day)
		require.Len(t, rows, 2, "a day in UTC each, EUR only")
		require.Equal(t, time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC), rows[0].PeriodStart)
		require.Equal(t, store.Total{Count: 1, Amount: 1000}, rows[0].Collected)
		require.Equal(t, store.Total{Count: 1, Amount: 2500}, rows[1].Failed)

		require.Empty(t, collect(t, store.EachRevenue, db, store.RevenueFilter{Interval: store.RevenueByDay, From: march2.Add(time.Hour), To: march2.Add(2 * time.Hour)}))
		err := store.EachRevenue(ctx, db, store.RevenueFilter{Interval: "week"}, func(store.RevenueRow) error { return nil })
		var ve *billing.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "interval", ve.Field)
	})

	t.Run("at risk", func(t *testing.T) {
		// The paid subscription's card is good until the end of January, just after its next billing
		// (Jan 31 10:00); the waiting one's card ran out at the end of December.
		setCard := func(sub billing.Subscription, month, year int) {
			_, err := db.Exec(ctx, `UPDATE payment_methods SET exp_month = $2, exp_year = $3 WHERE id = $1`, sub.PaymentMethodID, month, year)
			require.NoError(t, err)
		}
		setCard(paid, 1, 2026)
		setCard(waiting, 12, 2025)
		risks := collect(t, store.EachAtRisk, db, store.AtRiskFilter{})
		require.Len(t, risks, 2)
		byID := map[uuid.UUID]store.AtRisk{risks[0].SubscriptionID: risks[0], risks[1].SubscriptionID: risks[1]}
		require.True(t, byID[declined.ID].PastDue)
		require.False(t, byID[declined.ID].CardExpiring)
		require.Equal(t, decline, byID[declined.ID].LastFailure)
		require.True(t, byID[waiting.ID].CardExpiring)
		require.False(t, byID[waiting.ID].PastDue)
		require.Equal(t, 12, byID[waiting.ID].CardExpMonth)

		require.Len(t, collect(t, store.EachAtRisk, db, store.AtRiskFilter{Limit: 1}), 1)
		rest := collect(t, store.EachAtRisk, db, store.AtRiskFilter{StartingAfter: &risks[0].SubscriptionID})
		require.Equal(t, risks[1:], rest)
	})
}
