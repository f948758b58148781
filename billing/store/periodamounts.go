package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// SetPeriodAmount stores the amount of an upcoming period, replacing one set before.
func SetPeriodAmount(ctx context.Context, db DBTX, p billing.PeriodAmount) error {
	_, err := db.Exec(ctx, `
		INSERT INTO period_amounts (subscription_id, period_index, amount, currency, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (subscription_id, period_index) DO UPDATE
			SET amount = excluded.amount, currency = excluded.currency, updated_at = excluded.updated_at`,
		p.SubscriptionID, p.Index, p.Amount.Amount, p.Amount.Currency, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("set period amount: %w", err)
	}
	return nil
}

// UpcomingPeriodAmounts returns the amounts set for the subscription's periods not yet billed, in
// period order.
func UpcomingPeriodAmounts(ctx context.Context, db DBTX, s billing.Subscription) ([]billing.PeriodAmount, error) {
	all, err := UpcomingPeriodAmountsOf(ctx, db, []billing.Subscription{s})
	return all[s.ID], err
}

// UpcomingPeriodAmountsOf is UpcomingPeriodAmounts for several subscriptions, in one query: the
// amounts by subscription id.
func UpcomingPeriodAmountsOf(ctx context.Context, db DBTX, subs []billing.Subscription) (map[uuid.UUID][]billing.PeriodAmount, error) {
	ids, next := make([]uuid.UUID, len(subs)), make([]int, len(subs))
	byID := make(map[uuid.UUID]billing.Subscription, len(subs))
	for i, s := range subs {
		ids[i], next[i], byID[s.ID] = s.ID, s.NextPeriod, s
	}
	rows, err := db.Query(ctx, `
		SELECT p.subscription_id, p.period_index, p.amount, p.currency, p.updated_at
		FROM unnest($1::uuid[], $2::int[]) AS s (id, next_period)
		JOIN period_amounts p ON p.subscription_id = s.id AND p.period_index >= s.next_period
		ORDER BY p.subscription_id, p.period_index`, ids, next)
	if err != nil {
		return nil, fmt.Errorf("upcoming period amounts: %w", err)
	}
	amounts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.PeriodAmount, error) {
		var p billing.PeriodAmount
		err := row.Scan(&p.SubscriptionID, &p.Index, &p.Amount.Amount, &p.Amount.Currency, &p.UpdatedAt)
		p.Start, p.End = byID[p.SubscriptionID].Schedule.Period(p.Index)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("upcoming period amounts: %w", err)
	}
	out := make(map[uuid.UUID][]billing.PeriodAmount)
	for _, p := range amounts {
		out[p.SubscriptionID] = append(out[p.SubscriptionID], p)
	}
	return out, nil
}

// PeriodAmounts returns the amounts set for any of the given periods, in one query.
func PeriodAmounts(ctx context.Context, db DBTX, keys []billing.PeriodKey) (map[billing.PeriodKey]billing.Money, error) {
	subs, indexes := make([]uuid.UUID, len(keys)), make([]int, len(keys))
	for i, k := range keys {
		subs[i], indexes[i] = k.SubscriptionID, k.Index
	}
	rows, err := db.Query(ctx, `
		SELECT p.subscription_id, p.period_index, p.amount, p.currency
		FROM period_amounts p JOIN unnest($1::uuid[], $2::int[]) AS k(subscription_id, period_index)
			USING (subscription_id, period_index)`, subs, indexes)
	if err != nil {
		return nil, fmt.Errorf("period amounts: %w", err)
	}
	out := make(map[billing.PeriodKey]billing.Money)
	var k billing.PeriodKey
	var m billing.Money
	_, err = pgx.ForEachRow(rows, []any{&k.SubscriptionID, &k.Index, &m.Amount, &m.Currency}, func() error {
		out[k] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("period amounts: %w", err)
	}
	return out, nil
}
