-- Indexes for the API queries that would otherwise read a whole billing run or every live
-- subscription for one page (docs/data-growth.md has the EXPLAINs on 5,000,000 charges). Built
-- CONCURRENTLY, outside a transaction, so that a live database keeps taking writes meanwhile.

-- +goose NO TRANSACTION
-- +goose Up
-- GET /v1/billing_runs/{id}/charges: a page of a run's charges, newest period first, read in index
-- order instead of sorting the whole run (226 ms for a run of 33,000). It also serves every other
-- lookup by billing run, so the single-column index it extends goes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_billing_run_period ON charges (billing_run_id, period_start DESC, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS charges_billing_run;
-- The at-risk report walks live subscriptions in billing order and stops after a page, instead of
-- sorting all of them (362 ms, spilling to disk, on 1,000,000).
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_live_by_billing ON subscriptions (next_billing_at, id) WHERE status <> 'canceled';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS subscriptions_live_by_billing;
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_billing_run ON charges (billing_run_id);
DROP INDEX CONCURRENTLY IF EXISTS charges_billing_run_period;
