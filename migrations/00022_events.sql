-- The append-only event log: what happened to which subscription, charge or payment method, each
-- row written in the same transaction as the change it reports. Webhook delivery reads from it.

-- +goose Up
CREATE TABLE events (
    id          uuid PRIMARY KEY,
    type        text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    object_type text NOT NULL CHECK (object_type IN ('subscription', 'charge', 'payment_method')),
    object_id   uuid NOT NULL,
    customer_id uuid NOT NULL REFERENCES customers (id),
    data        jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    created_at  timestamptz NOT NULL
);
CREATE INDEX events_created ON events (created_at, id);
CREATE INDEX events_object ON events (object_id, created_at);

-- +goose StatementBegin
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP;
END $$;
-- +goose StatementEnd
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- +goose Down
DROP TABLE events;
DROP FUNCTION events_append_only();
