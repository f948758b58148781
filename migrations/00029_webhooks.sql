-- Webhooks to the merchant: endpoints with their signing secrets, one delivery per (event,
-- endpoint), and the dispatcher's place in the event log.
--
-- The dispatcher reads the log in the order of the transactions that wrote it: events.txid is
-- the writing transaction's id, and only events whose transaction is older than every one still
-- running (pg_snapshot_xmin) are read, so an event that commits late, with an older created_at,
-- is never passed over. Its cursor moves in the same transaction as the deliveries it makes.

-- +goose Up
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_txid ON events (txid, id);
CREATE INDEX events_customer ON events (customer_id, created_at, id);

CREATE TABLE webhook_endpoints (
    id          uuid PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    description text NOT NULL,
    enabled     boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_created ON webhook_endpoints (created_at, id);

-- Kept in clear: signing needs them. expires_at is null for an endpoint's current secret, and set
-- on the one it replaced, which signs too until then.
CREATE TABLE webhook_secrets (
    id          uuid PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz
);
CREATE UNIQUE INDEX webhook_secrets_current ON webhook_secrets (endpoint_id) WHERE expires_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events (id),
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         int NOT NULL CHECK (attempts >= 0),
    last_status_code int,
    last_error       text,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);

-- One row: the last event dispatched. Events written before webhooks existed have no endpoint to
-- go to, so it starts after them.
CREATE TABLE webhook_dispatch_cursor (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    txid     xid8 NOT NULL,
    event_id uuid NOT NULL
);
INSERT INTO webhook_dispatch_cursor (txid, event_id)
VALUES (pg_current_xact_id(), 'ffffffff-ffff-ffff-ffff-ffffffffffff');

-- +goose Down
DROP TABLE webhook_dispatch_cursor;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_secrets;
DROP TABLE webhook_endpoints;
DROP INDEX events_customer;
ALTER TABLE events DROP COLUMN txid;
