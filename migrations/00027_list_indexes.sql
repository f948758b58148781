-- Indexes for the API's lists, newest first with a cursor (GET /v1/customers, /v1/subscriptions,
-- /v1/charges): each page is read in index order and stops after a page, instead of sorting the
-- whole table or a whole plan's subscriptions. Built CONCURRENTLY, outside a transaction, so that
-- a live database keeps taking writes meanwhile. A customer's payment methods and subscriptions,
-- and a subscription's charges, are few: their existing indexes find them and the sort is small.

-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_created ON customers (created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_created ON subscriptions (created_at DESC, id DESC);
-- ?plan_id=: a plan may have many subscriptions. It extends subscriptions_plan, which goes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_plan_created ON subscriptions (plan_id, created_at DESC, id DESC) WHERE plan_id IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS subscriptions_plan;
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_created ON charges (created_at DESC, id DESC);
-- ?customer_id=: charges had no index by customer.
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_customer_created ON charges (customer_id, created_at DESC, id DESC);
-- ?status=: a rare status (needs_review) would otherwise walk charges_created through every row.
-- The status is indexed already (charges_billing_run_status), so updates lose no HOT update to it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_status_created ON charges (status, created_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS charges_status_created;
DROP INDEX CONCURRENTLY IF EXISTS charges_customer_created;
DROP INDEX CONCURRENTLY IF EXISTS charges_created;
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_plan ON subscriptions (plan_id) WHERE plan_id IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS subscriptions_plan_created;
DROP INDEX CONCURRENTLY IF EXISTS subscriptions_created;
DROP INDEX CONCURRENTLY IF EXISTS customers_created;
