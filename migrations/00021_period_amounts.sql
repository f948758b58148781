-- Variable amounts: what one upcoming period of a subscription bills instead of its price (for a
-- token with the STANDING_ORDER purpose). The scheduler reads it when it makes the period's
-- charge; a period already billed is never given one.

-- +goose Up
CREATE TABLE period_amounts (
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    period_index int NOT NULL CHECK (period_index >= 0),
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, period_index)
);

-- +goose Down
DROP TABLE period_amounts;
