-- Payment-method setups through the gateway's hosted checkout (a customer-initiated payment that
-- stores the card as a token), and payment methods that are removed (their token deactivated).

-- +goose Up
CREATE TABLE payment_method_setups (
    id                 uuid PRIMARY KEY,
    customer_id        uuid NOT NULL REFERENCES customers,
    status             text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'expired')),
    purposes           text[] NOT NULL CHECK (cardinality(purposes) > 0),
    return_url         text NOT NULL,
    subscription_ids   uuid[] NOT NULL,            -- switched to the new payment method on success
    amount             bigint NOT NULL CHECK (amount >= 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    order_number       text NOT NULL UNIQUE,
    gateway_payment_id text UNIQUE,                -- the CIT payment
    checkout_url       text,
    payment_method_id  uuid REFERENCES payment_methods, -- set once, on success
    failure_code       text,
    failure_reason     text,
    expires_at         timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CHECK ((status = 'succeeded') = (payment_method_id IS NOT NULL))
);
CREATE INDEX payment_method_setups_customer ON payment_method_setups (customer_id);

ALTER TABLE payment_methods
    ADD COLUMN removed_at           timestamptz, -- no longer attached nor charged
    ADD COLUMN token_deactivated_at timestamptz; -- when the gateway confirmed the deactivation

-- The subscriptions that use a payment method, for its removal.
CREATE INDEX subscriptions_payment_method ON subscriptions (payment_method_id);

-- +goose Down
DROP INDEX subscriptions_payment_method;
ALTER TABLE payment_methods DROP COLUMN removed_at, DROP COLUMN token_deactivated_at;
DROP TABLE payment_method_setups;
