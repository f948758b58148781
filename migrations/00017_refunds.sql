-- Refunds, full and partial, of succeeded charges. Each refund is one gateway call, recorded with
-- its request id before it is sent. The charge keeps the total that its refunds hold (all but
-- the failed ones), updated under the charge's row lock in the refund's transaction, and the
-- schema forbids it to exceed the charge's (captured) amount.

-- +goose Up
ALTER TABLE charges
    ADD COLUMN refunds_held bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT charges_refunds_within_amount CHECK (refunds_held BETWEEN 0 AND amount);

CREATE TABLE refunds (
    id                 uuid PRIMARY KEY,
    charge_id          uuid NOT NULL REFERENCES charges,
    amount             bigint NOT NULL CHECK (amount > 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status             text NOT NULL CHECK (status IN ('pending', 'sending', 'succeeded', 'failed', 'needs_review')),
    request_id         uuid NOT NULL UNIQUE,  -- the X-Request-Id of its one gateway call
    gateway_payment_id text NOT NULL,         -- the charge's captured payment
    gateway_refund_id  text,                  -- once the gateway has answered
    failure_code       text,
    failure_reason     text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX refunds_charge ON refunds (charge_id, created_at);
-- The revenue report's refunded amounts, by the day a refund reached its status.
CREATE INDEX refunds_updated ON refunds (updated_at);

-- +goose Down
DROP TABLE refunds;
ALTER TABLE charges DROP CONSTRAINT charges_refunds_within_amount, DROP COLUMN refunds_held;
