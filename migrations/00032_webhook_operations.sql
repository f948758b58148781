-- Webhooks in production: an endpoint shows its deliveries whose latest attempt failed (retrying,
-- or failed for good), and failed deliveries are redelivered by endpoint and time. Both read this
-- index: its rows are the failing deliveries only, few while receivers are up.

-- +goose Up
CREATE INDEX webhook_deliveries_failing ON webhook_deliveries (endpoint_id, created_at, id)
    INCLUDE (status, last_attempt_at) WHERE last_error IS NOT NULL;

-- +goose Down
DROP INDEX webhook_deliveries_failing;
