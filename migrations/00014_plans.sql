-- The catalog: plans that subscriptions are made from, and a subscription's quantity and unit
-- price. subscriptions.amount keeps its meaning, the price of one period (unit_amount x quantity),
-- so the scheduler and the reports read it as before.

-- +goose Up
CREATE TABLE plans (
    id               uuid PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    amount           bigint NOT NULL CHECK (amount > 0),  -- per unit and period, minor units
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    billing_interval text NOT NULL CHECK (billing_interval IN ('day', 'week', 'month', 'year')),
    interval_count   int NOT NULL CHECK (interval_count BETWEEN 1 AND 1000),
    trial_days       int NOT NULL CHECK (trial_days BETWEEN 0 AND 730),
    active           boolean NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX plans_created ON plans (created_at DESC, id DESC);

ALTER TABLE subscriptions
    ADD COLUMN plan_id       uuid REFERENCES plans,
    ADD COLUMN quantity      int NOT NULL DEFAULT 1 CHECK (quantity BETWEEN 1 AND 1000000),
    -- NULL for rows written without one (bulk loads): then the unit price is the amount.
    ADD COLUMN unit_amount   bigint CHECK (unit_amount > 0),
    ADD COLUMN trial_ends_at timestamptz,  -- the first period starts here when there is a trial
    ADD CONSTRAINT subscriptions_amount_is_unit_times_quantity
        CHECK (amount = coalesce(unit_amount, amount) * quantity);
CREATE INDEX subscriptions_plan ON subscriptions (plan_id) WHERE plan_id IS NOT NULL;

-- +goose Down
DROP INDEX subscriptions_plan;
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_amount_is_unit_times_quantity,
    DROP COLUMN trial_ends_at, DROP COLUMN unit_amount, DROP COLUMN quantity, DROP COLUMN plan_id;
DROP TABLE plans;
