package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// The reports read their rows as the database sends them and hand each to a callback, so that an
// export of a million rows never sits in memory: the Each functions below hold one connection
// until the callback has seen the last row, or returned an error (which ends the query).

// Total is a number of charges and the sum of their amounts, in one currency.
type Total struct {
	Count  int
	Amount int64
}

func (t *Total) add(count int, amount int64) {
	t.Count += count
	t.Amount += amount
}

// RunReport is what became of a billing run's charges in one currency.
type RunReport struct {
	billing.BillingRun
	Currency  string                         // empty for a run that created no charges
	Due       Total                          // every charge the run created
	Attempted Total                          // those that a worker has taken up: no longer pending
	ByStatus  map[billing.ChargeStatus]Total // every status that the run's charges are in now
}

// RunFilter selects billing runs, newest first. The zero filter selects them all.
type RunFilter struct {
	ID            *uuid.UUID // only this run
	StartingAfter *uuid.UUID // only runs started before this one
	Limit         int        // at most this many runs; 0: no limit
}

// EachRunReport calls fn with the report of each selected run in each of its currencies: newest
// run first, its currencies in alphabetical order. Charge statuses are grouped as they are, so a
// status added later is counted without a change here.
func EachRunReport(ctx context.Context, db DBTX, f RunFilter, fn func(RunReport) error) error {
	rows, err := db.Query(ctx, `
		WITH runs AS (
			SELECT `+billingRunColumns+` FROM billing_runs
			WHERE ($1::uuid IS NULL OR id = $1)
				AND ($2::uuid IS NULL OR (started_at, id) < (SELECT started_at, id FROM billing_runs WHERE id = $2))
			ORDER BY started_at DESC, id DESC LIMIT $3
		)
		SELECT r.id, r.as_of, r.started_at, r.finished_at, r.subscriptions_due, r.charges_created,
			coalesce(c.currency, ''), coalesce(c.status, ''), count(c.id), coalesce(sum(c.amount), 0)::bigint
		FROM runs r LEFT JOIN charges c ON c.billing_run_id = r.id
		GROUP BY r.id, r.as_of, r.started_at, r.finished_at, r.subscriptions_due, r.charges_created, c.currency, c.status
		ORDER BY r.started_at DESC, r.id DESC, 7, 8`, f.ID, f.StartingAfter, limitOrAll(f.Limit))
	if err != nil {
		return fmt.Errorf("billing run report: %w", err)
	}
	var (
		cur, row RunReport
		status   billing.ChargeStatus
		count    int
		amount   int64
		started  bool
	)
	scans := []any{&row.ID, &row.AsOf, &row.StartedAt, &row.FinishedAt, &row.SubscriptionsDue, &row.ChargesCreated,
		&row.Currency, &status, &count, &amount}
	_, err = pgx.ForEachRow(rows, scans, func() error {
		if !started || row.ID != cur.ID || row.Currency != cur.Currency {
			if started {
				if err := fn(cur); err != nil {
					return err
				}
			}
			cur, started = row, true
			cur.ByStatus = map[billing.ChargeStatus]Total{}
		}
		if status == "" { // a run without charges
			return nil
		}
		t := cur.ByStatus[status]
		t.add(count, amount)
		cur.ByStatus[status] = t
		cur.Due.add(count, amount)
		if status != billing.ChargePending {
			cur.Attempted.add(count, amount)
		}
		return nil
	})
	if err == nil && started {
		err = fn(cur)
	}
	if err != nil {
		return fmt.Errorf("billing run report: %w", err)
	}
	return nil
}

// ChargeRow is a charge as the reports list it: with its customer, its attempts and why it failed.
type ChargeRow struct {
	ID                 uuid.UUID
	SubscriptionID     uuid.UUID
	CustomerID         uuid.UUID
	CustomerExternalID string
	CustomerName       string
	BillingRunID       *uuid.UUID
	PeriodStart        time.Time
	PeriodEnd          time.Time
	Amount             billing.Money
	Status             billing.ChargeStatus
	Failure            *billing.Failure
	Attempts           int    // how many attempts were made to collect it
	GatewayPaymentID   string // the latest attempt's payment; empty before the gateway answered
	UpdatedAt          time.Time
}

// ChargeRowFilter selects a billing run's charges, in id order (the order they were created in).
type ChargeRowFilter struct {
	BillingRunID  uuid.UUID
	Status        billing.ChargeStatus // only charges in this status; empty: all
	StartingAfter *uuid.UUID           // only charges after this one
	Limit         int                  // at most this many; 0: no limit
}

// EachRunCharge calls fn with each selected charge of a billing run.
func EachRunCharge(ctx context.Context, db DBTX, f ChargeRowFilter, fn func(ChargeRow) error) error {
	rows, err := db.Query(ctx, `
		SELECT c.id, c.subscription_id, c.customer_id, cu.external_id, cu.name, c.billing_run_id, c.period_start,
			c.period_end, c.amount, c.currency, c.status, c.failure_code, c.failure_reason,
			coalesce(a.number, 0), coalesce(a.gateway_payment_id, ''), c.updated_at
		FROM charges c
		JOIN customers cu ON cu.id = c.customer_id
		LEFT JOIN LATERAL (
			SELECT number, gateway_payment_id FROM charge_attempts WHERE charge_id = c.id ORDER BY number DESC LIMIT 1
		) a ON true
		WHERE c.billing_run_id = $1 AND ($2 = '' OR c.status = $2) AND ($3::uuid IS NULL OR c.id > $3)
		ORDER BY c.id LIMIT $4`, f.BillingRunID, string(f.Status), f.StartingAfter, limitOrAll(f.Limit))
	if err != nil {
		return fmt.Errorf("billing run charges: %w", err)
	}
	var (
		c            ChargeRow
		code, reason *string
	)
	scans := []any{&c.ID, &c.SubscriptionID, &c.CustomerID, &c.CustomerExternalID, &c.CustomerName, &c.BillingRunID,
		&c.PeriodStart, &c.PeriodEnd, &c.Amount.Amount, &c.Amount.Currency, &c.Status, &code, &reason, &c.Attempts,
		&c.GatewayPaymentID, &c.UpdatedAt}
	_, err = pgx.ForEachRow(rows, scans, func() error {
		c.Failure = failure(code, reason)
		return fn(c)
	})
	if err != nil {
		return fmt.Errorf("billing run charges: %w", err)
	}
	return nil
}

// Charge statuses that revenue reports sum.
const (
	revenueCollected = billing.ChargeSucceeded
	revenueFailed    = billing.ChargeFailed
)

// RevenueRow sums the charges of one currency that reached an outcome in one day or month (UTC).
type RevenueRow struct {
	PeriodStart time.Time
	Currency    string
	Collected   Total // succeeded: captured at the gateway (a refunded charge stays collected)
	Failed      Total
	Refunded    Total // succeeded refunds, counted on the day they succeeded
}

// Revenue intervals.
const (
	RevenueByDay   = "day"
	RevenueByMonth = "month"
)

// RevenueFilter selects the periods of a revenue report. A charge counts on the day it reached
// its status (its last change), a refund on the day it succeeded.
type RevenueFilter struct {
	Interval string    // RevenueByDay or RevenueByMonth
	From, To time.Time // charges that reached their status at or after From and before To
	Currency string    // only this currency; empty: all
}

// EachRevenue calls fn with each period and currency that has charges, in time order. Periods
// without any are left out.
func EachRevenue(ctx context.Context, db DBTX, f RevenueFilter, fn func(RevenueRow) error) error {
	if f.Interval != RevenueByDay && f.Interval != RevenueByMonth {
		return &billing.ValidationError{Field: "interval", Reason: "must be day or month"}
	}
	rows, err := db.Query(ctx, `
		SELECT period, currency, sum(cc)::bigint, sum(ca)::bigint, sum(fc)::bigint, sum(fa)::bigint,
			sum(rc)::bigint, sum(ra)::bigint
		FROM (
			SELECT date_trunc($1, updated_at, 'UTC') AS period, currency,
				count(*) FILTER (WHERE status = $5) AS cc, coalesce(sum(amount) FILTER (WHERE status = $5), 0) AS ca,
				count(*) FILTER (WHERE status = $6) AS fc, coalesce(sum(amount) FILTER (WHERE status = $6), 0) AS fa,
				0 AS rc, 0 AS ra
			FROM charges
			WHERE updated_at >= $2 AND updated_at < $3 AND status IN ($5, $6) AND ($4 = '' OR currency = $4)
			GROUP BY 1, 2
			UNION ALL
			SELECT date_trunc($1, updated_at, 'UTC'), currency, 0, 0, 0, 0, count(*), sum(amount)
			FROM refunds
			WHERE updated_at >= $2 AND updated_at < $3 AND status = 'succeeded' AND ($4 = '' OR currency = $4)
			GROUP BY 1, 2
		) t
		GROUP BY 1, 2 ORDER BY 1, 2`,
		f.Interval, f.From, f.To, f.Currency, revenueCollected, revenueFailed)
	if err != nil {
		return fmt.Errorf("revenue report: %w", err)
	}
	var r RevenueRow
	scans := []any{&r.PeriodStart, &r.Currency, &r.Collected.Count, &r.Collected.Amount, &r.Failed.Count,
		&r.Failed.Amount, &r.Refunded.Count, &r.Refunded.Amount}
	if _, err := pgx.ForEachRow(rows, scans, func() error { return fn(r) }); err != nil {
		return fmt.Errorf("revenue report: %w", err)
	}
	return nil
}

// AtRisk is a subscription that may not be paid at its next billing: it is past due (in status
// past_due or unpaid, it owes charges (billing.Charge.Outstanding), or its latest charge waits for
// review), or its card expires before its next billing date.
type AtRisk struct {
	SubscriptionID     uuid.UUID
	CustomerID         uuid.UUID
	CustomerExternalID string
	CustomerName       string
	Price              billing.Money
	NextBillingAt      time.Time
	PastDue            bool
	CardExpiring       bool
	CardBrand          string
	CardLast4          string
	CardExpMonth       int
	CardExpYear        int
	Owed               Total            // the charges it owes, in its currency
	LastFailure        *billing.Failure // why the latest charge it owes failed, else the latest charge, if it did
}

// AtRiskFilter selects subscriptions at risk, by next billing date.
type AtRiskFilter struct {
	StartingAfter *uuid.UUID // only subscriptions after this one
	Limit         int        // at most this many; 0: no limit
}

// EachAtRisk calls fn with each subscription at risk that is not canceled or paused, the soonest
// billed first. A card is good until the end of its expiry month (UTC).
func EachAtRisk(ctx context.Context, db DBTX, f AtRiskFilter, fn func(AtRisk) error) error {
	rows, err := db.Query(ctx, `
		SELECT * FROM (
			SELECT s.id, s.customer_id, cu.external_id, cu.name, s.amount, s.currency, s.next_billing_at,
				(s.status IN ('past_due', 'unpaid') OR owed.n > 0 OR coalesce(last.status = 'needs_review', false)) AS past_due,
				make_timestamptz(pm.exp_year + pm.exp_month / 12, pm.exp_month % 12 + 1, 1, 0, 0, 0, 'UTC')
					<= s.next_billing_at AS card_expiring,
				pm.brand, pm.last4, pm.exp_month, pm.exp_year, owed.n, owed.amount,
				coalesce(owed.failure_code, last.failure_code), coalesce(owed.failure_reason, last.failure_reason)
			FROM subscriptions s
			JOIN customers cu ON cu.id = s.customer_id
			JOIN payment_methods pm ON pm.id = s.payment_method_id
			LEFT JOIN LATERAL (
				SELECT status, failure_code, failure_reason FROM charges
				WHERE subscription_id = s.id ORDER BY period_start DESC, created_at DESC LIMIT 1
			) last ON true
			CROSS JOIN LATERAL (
				SELECT count(*)::int AS n, coalesce(sum(c.amount), 0)::bigint AS amount,
					(array_agg(c.failure_code ORDER BY c.period_start DESC, c.created_at DESC))[1] AS failure_code,
					(array_agg(c.failure_reason ORDER BY c.period_start DESC, c.created_at DESC))[1] AS failure_reason
				FROM charges c WHERE c.subscription_id = s.id AND `+owedSQL+`
			) owed
			WHERE s.status NOT IN ('canceled', 'paused')
				AND ($1::uuid IS NULL OR (s.next_billing_at, s.id) > (SELECT next_billing_at, id FROM subscriptions WHERE id = $1))
		) s
		WHERE past_due OR card_expiring
		ORDER BY next_billing_at, id LIMIT $2`, f.StartingAfter, limitOrAll(f.Limit))
	if err != nil {
		return fmt.Errorf("subscriptions at risk: %w", err)
	}
	var (
		s            AtRisk
		code, reason *string
	)
	scans := []any{&s.SubscriptionID, &s.CustomerID, &s.CustomerExternalID, &s.CustomerName, &s.Price.Amount,
		&s.Price.Currency, &s.NextBillingAt, &s.PastDue, &s.CardExpiring, &s.CardBrand, &s.CardLast4,
		&s.CardExpMonth, &s.CardExpYear, &s.Owed.Count, &s.Owed.Amount, &code, &reason}
	_, err = pgx.ForEachRow(rows, scans, func() error {
		s.LastFailure = failure(code, reason)
		return fn(s)
	})
	if err != nil {
		return fmt.Errorf("subscriptions at risk: %w", err)
	}
	return nil
}

// limitOrAll is a LIMIT argument: NULL, which PostgreSQL reads as no limit, for 0.
func limitOrAll(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
