-- Webhooks in production. An endpoint shows its deliveries whose latest attempt failed (retrying,
-- or failed for good), and failed deliveries are redelivered by endpoint and time: both read
-- webhook_deliveries_failing, whose rows are the failing deliveries only, few while receivers
-- are up. GET /v1/events?type= reads events_type instead of walking the whole log for a rare
-- type. Built CONCURRENTLY, outside a transaction, so that a live database keeps taking writes.

-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_failing ON webhook_deliveries (endpoint_id, created_at, id)
    INCLUDE (status, last_attempt_at) WHERE last_error IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_type ON events (type, created_at, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_type;
DROP INDEX CONCURRENTLY IF EXISTS webhook_deliveries_failing;
