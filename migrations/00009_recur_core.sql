-- Recur's core schema: API keys, customers, stored payment tokens, subscriptions, billing runs and
-- charges with their attempts and gateway steps. All times are timestamptz; all money is bigint
-- minor units beside an ISO 4217 code.

-- +goose Up
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    prefix      text NOT NULL,              -- the key's first characters, to recognise it
    secret_hash bytea NOT NULL UNIQUE,      -- SHA-256 of the whole key; the key itself is never stored
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    external_id text NOT NULL UNIQUE,       -- the merchant's own id for the customer
    email       text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE payment_methods (
    id               uuid PRIMARY KEY,
    customer_id      uuid NOT NULL REFERENCES customers,
    gateway_token_id text NOT NULL UNIQUE,  -- a reference to the token kept by the gateway, never card data
    brand            text NOT NULL,         -- empty when the gateway does not tell
    last4            text NOT NULL,
    exp_month        int NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year         int NOT NULL CHECK (exp_year BETWEEN 2000 AND 2999),
    purposes         text[] NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id);

CREATE TABLE subscriptions (
    id                uuid PRIMARY KEY,
    customer_id       uuid NOT NULL REFERENCES customers,
    payment_method_id uuid NOT NULL REFERENCES payment_methods,
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    billing_interval  text NOT NULL CHECK (billing_interval IN ('day', 'week', 'month', 'year')),
    interval_count    int NOT NULL CHECK (interval_count BETWEEN 1 AND 1000),
    status            text NOT NULL CHECK (status IN ('active', 'canceled')),
    anchor_at         timestamptz NOT NULL, -- period n starts at anchor_at + n * interval_count * interval
    next_period       int NOT NULL CHECK (next_period >= 0), -- the first period not yet billed
    next_billing_at   timestamptz NOT NULL, -- start of next_period: when it falls due
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id);
CREATE INDEX subscriptions_due ON subscriptions (next_billing_at) WHERE status = 'active';

CREATE TABLE billing_runs (
    id                uuid PRIMARY KEY,
    as_of             timestamptz NOT NULL, -- subscriptions due at or before this time were billed
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    subscriptions_due int NOT NULL DEFAULT 0,
    charges_created   int NOT NULL DEFAULT 0
);
CREATE INDEX billing_runs_started ON billing_runs (started_at DESC, id DESC);

CREATE TABLE charges (
    id                uuid PRIMARY KEY,
    customer_id       uuid NOT NULL REFERENCES customers,
    payment_method_id uuid NOT NULL REFERENCES payment_methods,
    subscription_id   uuid NOT NULL REFERENCES subscriptions,
    billing_run_id    uuid REFERENCES billing_runs,
    period_index      int NOT NULL,
    period_start      timestamptz NOT NULL,
    period_end        timestamptz NOT NULL CHECK (period_end > period_start),
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    channel           text NOT NULL CHECK (channel IN ('RECURRING', 'MERCHANT')),
    status            text NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'failed')),
    failure_code      text,
    failure_reason    text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- The invariant that matters most: one charge per subscription and billing period.
    CONSTRAINT charges_one_per_period UNIQUE (subscription_id, period_start)
);
CREATE INDEX charges_billing_run ON charges (billing_run_id);

-- One try at collecting a charge: one gateway payment at most.
CREATE TABLE charge_attempts (
    id                 uuid PRIMARY KEY,
    charge_id          uuid NOT NULL REFERENCES charges,
    number             int NOT NULL CHECK (number >= 1),
    order_number       text NOT NULL UNIQUE, -- sent to the gateway with the payment
    gateway_payment_id text UNIQUE,          -- recorded as soon as the gateway answers
    status             text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
    failure_code       text,
    failure_reason     text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    UNIQUE (charge_id, number)
);

-- Every gateway call of an attempt, recorded (and committed) before it is made.
CREATE TABLE charge_steps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_id  uuid NOT NULL REFERENCES charge_attempts,
    step        text NOT NULL,              -- check_token, create_payment, start_session, get_payment, capture
    request_id  uuid NOT NULL UNIQUE,       -- the X-Request-Id sent with the call
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text,                       -- ok, or the error class; null while the call is under way
    detail      text NOT NULL DEFAULT ''    -- the gateway's status or reason
);
CREATE INDEX charge_steps_attempt ON charge_steps (attempt_id, id);

-- +goose Down
DROP TABLE charge_steps;
DROP TABLE charge_attempts;
DROP TABLE charges;
DROP TABLE billing_runs;
DROP TABLE subscriptions;
DROP TABLE payment_methods;
DROP TABLE customers;
DROP TABLE api_keys;
